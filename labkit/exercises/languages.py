"""Exercises of lesson 09-other-languages: Java's writeUTF and readUTF, written in Python.

Both checks first compare bytes exactly, from Python, so that a "not yet" can name
the byte that is wrong; then they talk to the real Java program (GreetingServerFixed)
when Java is installed, or to labkit's greeting server otherwise, and say which. An
answer that hands the work to labkit's own write_utf/encode_utf/read_utf is "not
yet": the point is to write them.

- write_utf gets strings with U+0000, characters beyond U+FFFF and the empty
  string; the largest string writeUTF allows (65535 bytes) over a connection whose
  buffers are small and whose reader pauses, so that ``send`` takes only part of it;
  and strings over 65535 bytes of modified UTF-8 (though fewer in plain UTF-8, or in
  characters), which it must refuse before sending anything.

read_utf's check, 09-read-utf, is in :mod:`labkit.exercises.languagesread`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from labkit.wire import javautf
from labkit.programs import langs
from labkit.errors import LabkitError
from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, _refers_to, _watching_labkit, call
from labkit.wire.javautf import encode_modified_utf8, read_utf
from labkit.wire.protocols import greeting
from labkit.serving.servers import TCPServer

TEXTS = ["你好", "Hello, Java", "A\x00B", "😀", "", "a😀\x00你"]
JAVA_SERVER = "GreetingServerFixed.java"
WAITING = "等待远程连接"  # the line the Java server prints before each accept()


def _java_server():
    """The real Java server on a free port, or None and why not."""
    try:
        return langs.Program(langs.java_command(JAVA_SERVER, 0), name="exercise-java",
                             ready=WAITING), None
    except (LabkitError, FileNotFoundError, OSError) as exc:
        return None, str(exc).splitlines()[0]


def _what_java_read(server) -> str:
    """The text the Java server printed for the last connection (or the error it reported)."""
    lines = server.wait_output(WAITING, timeout=5).splitlines()[1:-1]  # drop address, prompt
    return "\n".join(lines)


def _shown(text: str) -> str:
    """A string as a learner would type it: '你' * 21845 rather than 21845 characters."""
    if isinstance(text, str) and len(text) > 20 and len(set(text)) == 1:
        return f"{text[0]!r} * {len(text)}"
    return repr(text)


# --- answers that hand the work to labkit -----------------------------------------------


def _write_it_yourself(what: str, used: str, allowed: str) -> NotYet:
    return NotYet(f"Write it yourself: your {what} uses labkit.{used}, which does the whole "
                  f"job for you. The point is to write that job yourself ({allowed}).")


# --- write_utf ---------------------------------------------------------------------

_WRITE_SOLUTION = '''
def write_utf(sock, text):
    body = labkit.encode_modified_utf8(text)     # U+0000 -> C0 80, 😀 -> two surrogates
    if len(body) > 65535:
        raise ValueError(f"{len(body)} bytes: writeUTF allows at most 65535")
    sock.sendall(len(body).to_bytes(2, "big") + body)
'''

LARGEST = "你" * 21845  # 65535 bytes: the most a 2-byte length counts
# over 65535 bytes of modified UTF-8: in characters, in plain UTF-8, and in both
TOO_LONG = ["你" * 21846, "\x00" * 32768, "😀" * 10923]

_WRITE_ALLOWED = ("labkit.encode_modified_utf8 for the body is fine, then the length, then "
                  "sock.sendall")


@register("09-write-utf", title="Write a string as Java's writeUTF does", solution=_WRITE_SOLUTION,
          hints=[
              "writeUTF sends a 2-byte big-endian length, then the text in modified UTF-8.",
              "The length counts bytes, not characters: len('你好') is 2, its UTF-8 is 6 bytes.",
              "labkit.encode_modified_utf8(text) gives the body: U+0000 as C0 80, an emoji as "
              "two 3-byte surrogates. Refuse a body over 65535 bytes before sending anything.",
              "send() may take only part of what you offer; sendall() sends it all.",
          ])
def _check_write_utf(write_utf) -> str:
    labkits = [javautf.write_utf, javautf.encode_utf]
    if _refers_to(write_utf, labkits):
        used = "write_utf" if _refers_to(write_utf, labkits[:1]) else "encode_utf"
        raise _write_it_yourself("write_utf", used, _WRITE_ALLOWED)
    with _watching_labkit(["write_utf", "encode_utf"]) as used:
        try:
            return _check_write_utf_bytes(write_utf)
        finally:
            if used:  # even if labkit's function failed, that is the first thing to say
                raise _write_it_yourself("write_utf", used[0], _WRITE_ALLOWED)


def _send_with(write_utf, sock, text: str) -> None:
    """Call the learner's write_utf; say so if it returned the bytes instead of sending them,
    or closed the caller's socket."""
    what = f"write_utf(sock, {_shown(text)})"
    returned = call(write_utf, sock, text, what=what)
    if isinstance(returned, (bytes, bytearray)):
        raise NotYet(f"{what} returned {bytes(returned)[:12]!r}… instead of sending it: the "
                     "other side got nothing. Send the bytes with sock.sendall(...) inside "
                     "write_utf.")
    if sock.fileno() == -1:
        raise NotYet(f"{what} closed the socket. It belongs to the caller, who may have more "
                     "to send and a reply to read: leave closing to the caller (no `with "
                     "sock:` or sock.close() inside write_utf).")


@contextlib.contextmanager
def _connection(*, small: bool = False):
    """A TCP connection on 127.0.0.1: (the learner's end, the check's end). *small* buffers
    make send() take only part of a large string until the reader reads."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        if small:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock = socket.create_connection(listener.getsockname(), timeout=5)
        conn, _ = listener.accept()
    with sock, conn:
        if small:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        conn.settimeout(5)
        yield sock, conn


def _read_to_end(conn, box: list, pause: float = 0.0) -> None:
    """Read *conn* until end of stream into box[0] (a thread), after *pause* s."""
    time.sleep(pause)
    data = b""
    with contextlib.suppress(OSError):
        while chunk := conn.recv(65536):
            data += chunk
    box.append(data)


def _what_was_sent(write_utf, text: str, *, small: bool = False, pause: float = 0.0) -> bytes:
    """Every byte write_utf(sock, text) put on a real TCP connection."""
    with _connection(small=small) as (sock, conn):
        box: list = []
        reader = threading.Thread(target=_read_to_end, args=(conn, box, pause),
                                  name="labkit-reader", daemon=True)
        reader.start()
        try:
            _send_with(write_utf, sock, text)
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)  # our end of stream: the reader stops
            reader.join(5)
        return box[0] if box else b""


def _wrong_bytes(text: str, got: bytes) -> str | None:
    """What is wrong with *got* as writeUTF(text), in a learner's words; None if right."""
    body = encode_modified_utf8(text)
    want = len(body).to_bytes(2, "big") + body
    plain = text.encode("utf-8", "surrogatepass")
    what = f"For {_shown(text)} write_utf sent"
    if got == want:
        return None
    if not got:
        return f"{what} nothing."
    if len(got) < len(want) and want.startswith(got):
        return (f"{what} only part of its {len(want)} bytes: sock.send() takes what fits in "
                "the socket's buffer and returns how many bytes that was. Use sock.sendall(), "
                "which sends them all.")
    if got == body:
        return (f"{what} the body without its length. Send the 2-byte big-endian length first: "
                "len(body).to_bytes(2, 'big') + body.")
    if got == len(body).to_bytes(4, "big") + body:
        return (f"{what} a 4-byte length. writeUTF's length is 2 bytes (an unsigned short): "
                "len(body).to_bytes(2, 'big').")
    head, rest = got[:2], got[2:]
    if rest == body:
        if int.from_bytes(head, "little") == len(body):
            return (f"{what} the length {head!r}, little-endian (lowest byte first). Java "
                    f"reads it big-endian, as {int.from_bytes(head, 'big')}: use "
                    "len(body).to_bytes(2, 'big').")
        if int.from_bytes(head, "big") == len(text):
            return (f"{what} the length {len(text)}, the number of characters. Java's length "
                    f"counts the bytes of the body, {len(body)} here: send len(body), the "
                    "length of the encoded bytes.")
        return (f"{what} the length {int.from_bytes(head, 'big')}, but the body has "
                f"{len(body)} bytes: the length must count the bytes of the body.")
    if plain != body and got == len(plain).to_bytes(2, "big") + plain:
        which = ("U+0000 as C0 80, not 00" if "\x00" in text else
                 "a character beyond U+FFFF as two 3-byte surrogates, not 4 bytes")
        return (f"{what} plain UTF-8. Java reads modified UTF-8, which writes {which}: "
                "labkit.encode_modified_utf8(text) gives the body.")
    return (f"{what} {got[:16]!r}{'…' if len(got) > 16 else ''}; writeUTF sends "
            f"{want[:16]!r}{'…' if len(want) > 16 else ''}.")


def _raised(fn, *args) -> bool:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - any exception is a refusal here
        return True
    return False


def _refuses_too_long(write_utf, text: str) -> None:
    what = f"write_utf(sock, {_shown(text)})"
    size, plain = len(encode_modified_utf8(text)), len(text.encode("utf-8"))
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(3)
        b.setblocking(False)
        failed = call(lambda: _raised(write_utf, a, text), what=what)
        try:
            sent = b.recv(1 << 20)
        except BlockingIOError:
            sent = b""
    if not failed:
        measured = (f" (only {plain} bytes of plain UTF-8)" if plain <= 65535 else
                    f" (only {len(text)} characters)" if len(text) <= 65535 else "")
        raise NotYet(f"{what} sent it: it is {size} bytes of modified UTF-8{measured}, more than "
                     "a 2-byte length can count. Measure the encoded body, and raise an "
                     "exception when it is over 65535 bytes, as Java does.")
    if sent:
        raise NotYet(f"{what} raised, but only after sending {len(sent)} bytes; check the "
                     "length before sending anything.")


def _check_write_utf_bytes(write_utf) -> str:
    for text in TEXTS:
        wrong = _wrong_bytes(text, _what_was_sent(write_utf, text))
        if wrong:
            raise NotYet(wrong)
    try:
        got = _what_was_sent(write_utf, LARGEST, small=True, pause=0.3)
    except NotYet as exc:
        if "raised" not in str(exc):
            raise
        raise NotYet(f"{str(exc).rstrip('.')}. But {_shown(LARGEST)} is exactly 65535 bytes of "
                     "modified UTF-8, the most a 2-byte length can count, and Java accepts it: "
                     "refuse only a body over 65535 bytes.") from None
    wrong = _wrong_bytes(LARGEST, got)
    if wrong:
        raise NotYet(wrong)
    for text in TOO_LONG:
        _refuses_too_long(write_utf, text)
    server, why_not = _java_server()
    if server is None:
        return _check_write_with_labkit(write_utf, why_not)
    with server:
        for text in TEXTS:
            _write_to_java(write_utf, server, text)
    shown = ", ".join(repr(t) for t in TEXTS)
    return (f"the real Java program (GreetingServerFixed) read {shown} exactly as you sent "
            "them; the largest string, 65535 bytes, went whole over a slow connection; and "
            "strings over 65535 bytes were refused.")


def _write_to_java(write_utf, server, text: str) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        _send_with(write_utf, sock, text)
        with contextlib.suppress(OSError):  # our end of stream: a Java still waiting stops
            sock.shutdown(socket.SHUT_WR)
        try:
            read_utf(sock, timeout=3)
        except (LabkitError, OSError):
            pass
    read = _what_java_read(server)
    if read.startswith("连接出错"):
        raise NotYet(f"For {text!r} Java's readUTF failed: {read.split(': ', 1)[1]}.")
    if read != text:
        raise NotYet(f"For {text!r} Java's readUTF returned {read!r}.")


def _check_write_with_labkit(write_utf, why_not: str) -> str:
    with TCPServer(greeting, name="exercise-greeting", timeout=3) as server:
        for text in TEXTS:
            with socket.create_connection(server.address, timeout=5) as sock:
                _send_with(write_utf, sock, text)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
                try:
                    read_utf(sock, timeout=3)
                except (LabkitError, OSError):
                    pass
            server.wait_quiet(2)
            events = [e for e in server.events.snapshot() if e.conn == server.accepted]
            read = [e.detail for e in events if e.kind == "read"]
            want = f"readUTF() -> {text!r}"
            if read != [want]:
                dropped = [e.detail for e in events if e.kind == "dropped"]
                raise NotYet(f"For {text!r} the greeting server "
                             + (f"could not read it: {dropped[0]}" if dropped else
                                f"read {read[0] if read else 'nothing'}") + ".")
    return (f"checked against labkit's greeting server, not Java ({why_not}): every string "
            "came through, the largest went whole over a slow connection, and strings over "
            "65535 bytes were refused.")

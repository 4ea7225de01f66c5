"""Exercises of lesson 09-other-languages: Java's writeUTF and readUTF, written in Python.

Each check talks to the real Java program (GreetingServerFixed) when Java is
installed, and to labkit's greeting server otherwise; the verdict says which.
"""

from __future__ import annotations

import socket
import threading

from .. import langs
from ..errors import LabkitError
from ..exercises import NotYet, call, register
from ..framing import encode_utf, read_utf
from ..protocols import greeting, java_address
from ..servers import TCPServer

TEXTS = ["你好", "Hello, Java", "A\x00B", "😀", ""]
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


# --- write_utf ---------------------------------------------------------------------

_WRITE_SOLUTION = '''
def write_utf(sock, text):
    body = labkit.encode_modified_utf8(text)     # U+0000 -> C0 80, 😀 -> two surrogates
    if len(body) > 65535:
        raise ValueError(f"{len(body)} bytes: writeUTF allows at most 65535")
    sock.sendall(len(body).to_bytes(2, "big") + body)
'''


def _refuses_too_long(write_utf) -> None:
    a, b = socket.socketpair()
    with a, b:
        b.setblocking(False)
        failed = call(lambda: _raised(write_utf, a, "你" * 21846), what="write_utf(sock, '你' * 21846)")
        try:
            sent = b.recv(70000)
        except BlockingIOError:
            sent = b""
    if not failed:
        raise NotYet("write_utf(sock, '你' * 21846) sent it: that is 65538 bytes of UTF-8, which "
                     "a 2-byte length cannot count. Raise an exception instead, as Java does.")
    if sent:
        raise NotYet(f"write_utf(sock, '你' * 21846) raised, but only after sending {len(sent)} "
                     "bytes; check the length before sending anything.")


def _raised(fn, *args) -> bool:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - any exception is a refusal here
        return True
    return False


@register("09-write-utf", title="Write a string as Java's writeUTF does", solution=_WRITE_SOLUTION,
          hints=[
              "writeUTF sends a 2-byte big-endian length, then the text in modified UTF-8.",
              "The length counts bytes, not characters: len('你好') is 2, its UTF-8 is 6 bytes.",
              "labkit.encode_modified_utf8(text) gives the body: U+0000 as C0 80, an emoji as "
              "two 3-byte surrogates. Refuse a body over 65535 bytes before sending anything.",
          ])
def _check_write_utf(write_utf) -> str:
    server, why_not = _java_server()
    if server is None:
        return _check_write_with_labkit(write_utf, why_not)
    with server:
        for text in TEXTS:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                call(write_utf, sock, text, what=f"write_utf(sock, {text!r})")
                sock.settimeout(3)
                try:
                    reply = read_utf(sock, timeout=3)
                except (LabkitError, OSError):
                    reply = None
            read = _what_java_read(server)
            if read.startswith("连接出错"):
                raise NotYet(f"for {text!r} Java's readUTF failed: {read.split(': ', 1)[1]}.")
            if read != text or reply is None:
                raise NotYet(f"for {text!r} Java's readUTF returned {read!r}.")
    _refuses_too_long(write_utf)
    shown = ", ".join(repr(t) for t in TEXTS)
    return (f"the real Java program (GreetingServerFixed) read {shown} exactly as you sent "
            "them, and a string over 65535 bytes was refused.")


def _check_write_with_labkit(write_utf, why_not: str) -> str:
    with TCPServer(greeting, name="exercise-greeting", timeout=3) as server:
        for text in TEXTS:
            with socket.create_connection(server.address, timeout=5) as sock:
                call(write_utf, sock, text, what=f"write_utf(sock, {text!r})")
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
                raise NotYet(f"for {text!r} the greeting server "
                             + (f"could not read it: {dropped[0]}" if dropped else
                                f"read {read[0] if read else 'nothing'}") + ".")
    _refuses_too_long(write_utf)
    return (f"checked against labkit's greeting server, not Java ({why_not}): every string "
            "came through, and one over 65535 bytes was refused.")


# --- read_utf ----------------------------------------------------------------------

_READ_SOLUTION = '''
def read_utf(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError(f"peer closed after {len(data)} of {n} bytes")
            data += chunk
        return data
    length = int.from_bytes(exactly(2), "big")
    return labkit.decode_modified_utf8(exactly(length))
'''


def _feed(sock, data: bytes, piece: int) -> None:
    """Send *data* in pieces of *piece* bytes, then close our writing side (a thread)."""
    try:
        for at in range(0, len(data), piece):
            sock.sendall(data[at:at + piece])
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _read_all(read_utf, data: bytes, count: int, piece: int, what: str) -> list:
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(3)
        feeder = threading.Thread(target=_feed, args=(b, data, piece), daemon=True)
        feeder.start()
        try:
            return [call(read_utf, a, what=what) for _ in range(count)]
        finally:
            feeder.join(3)


@register("09-read-utf", title="Read a string as Java's readUTF does", solution=_READ_SOLUTION,
          hints=[
              "Read exactly 2 bytes for the length, then exactly that many bytes: a recv may "
              "return fewer bytes than you asked for.",
              "recv returning b'' means the peer closed: before the whole string arrived, that "
              "is an error (Java throws EOFException), not an empty string.",
              "labkit.decode_modified_utf8(body) turns the body back into text "
              "(C0 80 into U+0000, a surrogate pair into one emoji).",
          ])
def _check_read_utf(read_utf) -> str:
    server, why_not = _java_server()
    if server is not None:
        with server, socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(encode_utf("你好, Java"))
            got = call(read_utf, sock, what="read_utf(sock) on the Java server's reply")
            want = f"谢谢连接我:{java_address(('127.0.0.1', server.port))}\nGoodbye!"
            if got != want:
                raise NotYet(f"the real Java server replied {want!r}, your read_utf returned {got!r}.")
    stream = b"".join(encode_utf(t) for t in TEXTS)
    for piece, how in ((len(stream), "all at once"), (1, "one byte at a time")):
        got = _read_all(read_utf, stream, len(TEXTS), piece,
                        what=f"read_utf(sock) with strings arriving {how}")
        for text, value in zip(TEXTS, got):
            if value != text:
                raise NotYet(f"with the strings {TEXTS!r} arriving {how}, read_utf returned "
                             f"{value!r} where {text!r} was sent.")
    try:
        got = _read_all(read_utf, b"\x00\x05ab", 1, 4, what="read_utf(sock) on a cut-off string")
    except NotYet as exc:
        if "did not return" in str(exc):
            raise
    else:
        raise NotYet(f"the peer sent a length of 5, then 'ab', then closed: read_utf returned "
                     f"{got[0]!r}; it should raise (Java throws EOFException).")
    source = ("the real Java server's reply" if server is not None
              else f"labkit's frames only ({why_not})")
    return (f"checked against {source} and labkit's frames: U+0000, an emoji, the empty string, "
            "one byte at a time, and a string cut off by the peer.")

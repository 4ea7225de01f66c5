"""Exercises of lesson 09-other-languages: Java's writeUTF and readUTF, written in Python.

Each check talks to the real Java program (GreetingServerFixed) when Java is
installed, and to labkit's greeting server otherwise; the verdict says which.
An answer that hands the work to labkit's own write_utf/encode_utf/read_utf is
"not yet": the point is to write them. The read check feeds one byte at a time
with a pause between bytes, so a single recv(n) per read cannot pass.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from .. import framing, langs
from ..errors import LabkitError
from ..exercises import NotYet, _refers_to, _watching_labkit, call, register
from ..framing import encode_utf, read_utf
from ..peers import AdversarialPeer
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
    labkits = [framing.write_utf, framing.encode_utf]
    if _refers_to(write_utf, labkits):
        used = "write_utf" if _refers_to(write_utf, labkits[:1]) else "encode_utf"
        raise _write_it_yourself("write_utf", used, _WRITE_ALLOWED)
    with _watching_labkit(["write_utf", "encode_utf"]) as used:
        try:
            return _check_write_utf_bytes(write_utf)
        finally:
            if used:  # even if labkit's function failed, that is the first thing to say
                raise _write_it_yourself("write_utf", used[0], _WRITE_ALLOWED)


_WRITE_ALLOWED = ("labkit.encode_modified_utf8 for the body is fine, then the length, then "
                  "sock.sendall")


def _send_with(write_utf, sock, text):
    """Call the learner's write_utf; say so if it returned the bytes instead of sending them."""
    returned = call(write_utf, sock, text, what=f"write_utf(sock, {text!r})")
    if isinstance(returned, (bytes, bytearray)):
        raise NotYet(f"write_utf(sock, {text!r}) returned {bytes(returned)[:12]!r}… instead of "
                     "sending it: the other side got nothing. Send the bytes with "
                     "sock.sendall(...) inside write_utf.")


def _check_write_utf_bytes(write_utf) -> str:
    server, why_not = _java_server()
    if server is None:
        return _check_write_with_labkit(write_utf, why_not)
    with server:
        for text in TEXTS:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                _send_with(write_utf, sock, text)
                closed = False
                try:  # our end of stream: a Java still waiting for bytes stops at once
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    closed = True
                try:
                    reply = read_utf(sock, timeout=3)
                except (LabkitError, OSError):
                    reply = None
            read = _what_java_read(server)
            if read.startswith("连接出错"):
                error = read.split(": ", 1)[1]
                if error == "java.io.EOFException":
                    raise NotYet(f"for {text!r} Java's readUTF failed: java.io.EOFException. The "
                                 "stream ended before Java had the 2-byte length and all the bytes "
                                 "it counts: write_utf sent nothing, or fewer bytes than its "
                                 "length says.")
                raise NotYet(f"for {text!r} Java's readUTF failed: {error}.")
            if read != text:
                raise NotYet(f"for {text!r} Java's readUTF returned {read!r}.")
            if reply is None:
                raise NotYet(f"for {text!r} Java read the string, but its reply could not be read"
                             + (": write_utf closed the socket. Leave closing to the caller."
                                if closed else "."))
    _refuses_too_long(write_utf)
    shown = ", ".join(repr(t) for t in TEXTS)
    return (f"the real Java program (GreetingServerFixed) read {shown} exactly as you sent "
            "them, and a string over 65535 bytes was refused.")


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


PAUSE = 0.005  # s between one-byte pieces: each recv finds only the byte that has come


def _feed(sock, data: bytes, piece: int) -> None:
    """Send *data* in pieces of *piece* bytes, pausing between them, then close our writing
    side (a thread). The pause makes every piece arrive on its own, so one recv(n) per read
    gets a single byte, not the n bytes it asked for."""
    try:
        AdversarialPeer(sock, pause=PAUSE).split_at(data, range(piece, len(data), piece))
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _read_all(read_utf, data: bytes, count: int, piece: int, what: str, check=None) -> list:
    """Feed *data* in pieces and call read_utf *count* times; *check(i, value)* after each."""
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(3)
        feeder = threading.Thread(target=_feed, args=(b, data, piece), daemon=True)
        feeder.start()
        try:
            values = []
            for i in range(count):
                values.append(_call_read(read_utf, a, what))
                if check is not None:
                    check(i, values[-1])
            return values
        finally:
            feeder.join(3)


_MODIFIED = ("Java writes modified UTF-8 (C0 80 for U+0000, surrogate pairs for emoji), which "
             "bytes.decode('utf-8') refuses: decode the body with labkit.decode_modified_utf8.")
_LOOP = ("The same strings arriving all at once came through, so: one recv(n) returns what has "
         "come so far, here a single byte. Loop until you have the 2 bytes of the length, then "
         "until you have all the bytes it counts.")
_READ_ALLOWED = "sock.recv in a loop, or recv_exactly, then labkit.decode_modified_utf8"


def _call_read(read_utf, sock, what):
    try:
        return call(read_utf, sock, what=what)
    except NotYet as exc:
        if "raised UnicodeDecodeError" in str(exc):
            raise NotYet(f"{exc}. {_MODIFIED}") from None
        raise


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
    if _refers_to(read_utf, [framing.read_utf]):
        raise _write_it_yourself("read_utf", "read_utf", _READ_ALLOWED)
    with _watching_labkit(["read_utf"]) as used:
        try:
            return _check_read_utf_bytes(read_utf)
        finally:
            if used:
                raise _write_it_yourself("read_utf", used[0], _READ_ALLOWED)


def _check_read_utf_bytes(read_utf) -> str:
    server, why_not = _java_server()
    if server is not None:
        with server, socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(encode_utf("你好, Java"))
            got = _call_read(read_utf, sock, "read_utf(sock) on the Java server's reply")
            want = f"谢谢连接我:{java_address(('127.0.0.1', server.port))}\nGoodbye!"
            if got != want:
                raise NotYet(f"the real Java server replied {want!r}, your read_utf returned {got!r}.")
    stream = b"".join(encode_utf(t) for t in TEXTS)
    for piece, how in ((len(stream), "all at once"), (1, "one byte at a time")):
        def check(i, value, how=how):
            if value != TEXTS[i]:
                raise NotYet(f"with the strings {TEXTS!r} arriving {how}, read_utf returned "
                             f"{value!r} where {TEXTS[i]!r} was sent.")
        try:
            _read_all(read_utf, stream, len(TEXTS), piece, check=check,
                      what=f"read_utf(sock) with strings arriving {how}")
        except NotYet as exc:
            if piece != 1 or "did not return" in str(exc):
                raise
            raise NotYet(f"{str(exc).rstrip('.')}. {_LOOP}") from None
    try:
        got = _read_all(read_utf, b"\x00\x05ab", 1, 4, what="read_utf(sock) on a cut-off string")
    except NotYet as exc:
        if "did not return" in str(exc):
            raise
    else:
        raise NotYet(f"the peer sent a length of 5, then 'ab', then closed: read_utf returned "
                     f"{got[0]!r}; it should raise (Java throws EOFException): when recv "
                     "returns b'' before you have every byte, raise EOFError or "
                     "ConnectionError.")
    source = ("the real Java server's reply" if server is not None
              else f"labkit's frames only ({why_not})")
    return (f"checked against {source} and labkit's frames: U+0000, an emoji, the empty string, "
            "one byte at a time, and a string cut off by the peer.")

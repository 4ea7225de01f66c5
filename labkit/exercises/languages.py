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
- read_utf gets strings all at once (and must not take bytes past its string), a
  length prefix cut in two, a body cut in the middle of characters, every string
  in pieces cut where ``random.Random(SEED)`` says, and peers that close mid-string,
  mid-length and before anything.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import select
import socket
import threading
import time

from labkit.wire import framing
from labkit.programs import langs
from labkit.errors import LabkitError
from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, _refers_to, _watching_labkit, call
from labkit.wire.framing import encode_modified_utf8, encode_utf, read_utf
from labkit.wire.peers import rechunk, utf8_cuts
from labkit.wire.protocols import greeting, java_address
from labkit.serving.servers import TCPServer

TEXTS = ["你好", "Hello, Java", "A\x00B", "😀", "", "a😀\x00你"]
SEED = 9
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

PAUSE = 0.001  # s after a piece was taken, before the next is sent
BIG = "é" * 30000  # 60000 bytes: many recv calls, whatever the pieces

_MODIFIED = ("Java writes modified UTF-8 (C0 80 for U+0000, surrogate pairs for emoji), which "
             "bytes.decode('utf-8') refuses: decode the body with labkit.decode_modified_utf8.")
_READ_ALLOWED = "sock.recv in a loop, or recv_exactly, then labkit.decode_modified_utf8"
_SPINS = ("once the peer has closed, recv returns b'' at once, again and again, so a loop that "
          "waits for more bytes never ends. When recv returns b'', raise EOFError.")
_RAISE = "it should raise (Java throws EOFException): when recv returns b'' before you have " \
         "every byte, raise EOFError or ConnectionError."


def _has_unread(sock) -> bool:
    """Are bytes (or the end of stream) waiting in *sock*, not yet taken by a recv?"""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # closed
        return False


class _Reading:
    """The learner's read_utf on one end of a socket pair; a thread sends *data* to it in
    pieces cut at *cuts*, then closes its writing side.

    Each piece is sent only once the one before has been taken by a recv, so a recv never
    gets two pieces at once: the pieces a read sees are the same on every run.
    """

    def __init__(self, read_utf, data: bytes, cuts=()):
        self.read_utf = read_utf
        self.a, self.b = socket.socketpair()
        self.a.settimeout(2)  # below call()'s 3 s: a recv waiting for ever times out first
        self.done = threading.Event()
        self.error: Exception | None = None
        self.feeder = threading.Thread(target=self._feed, args=(data, cuts),
                                       name="labkit-peer", daemon=True)

    def _feed(self, data: bytes, cuts) -> None:
        bounds = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
        try:
            for start, end in zip(bounds, bounds[1:]):
                if start:  # wait until the piece before has been taken (or the reading ends)
                    deadline = time.monotonic() + 2
                    while (_has_unread(self.a) and not self.done.is_set()
                           and time.monotonic() < deadline):
                        time.sleep(0.001)
                    time.sleep(PAUSE)
                if end > start:
                    self.b.sendall(data[start:end])
            self.b.shutdown(socket.SHUT_WR)
        except OSError:  # the reading is over: the check closed the sockets
            pass
        except Exception as exc:  # a bug in the check: __exit__ raises it, "check crashed"
            self.error = exc

    def __enter__(self):
        self.feeder.start()
        return self

    def __exit__(self, *exc_info):
        self.done.set()
        self.feeder.join(3)
        with contextlib.suppress(OSError):  # wakes a read_utf still waiting, whatever its timeout
            self.a.shutdown(socket.SHUT_RDWR)
        self.a.close()
        self.b.close()
        if self.error is not None:
            raise self.error

    def unread(self) -> int:
        """How many bytes wait, not yet taken (call it only between reads)."""
        if not _has_unread(self.a):
            return 0
        try:
            return len(self.a.recv(1 << 20, socket.MSG_PEEK))
        except OSError:
            return 0

    def read(self, what: str = "read_utf(sock)"):
        """read_utf(sock): (value, None), or (None, how it failed, in words)."""
        try:
            value = call(self.read_utf, self.a, what=what)
        except NotYet as exc:
            if self.a.fileno() == -1:
                raise _closed_it() from None
            text = str(exc)
            if "raised UnicodeDecodeError" in text:
                raise NotYet(f"{text.rstrip('.')}. {_MODIFIED}") from None
            failed = text[len(what) + 1:]
            if failed.startswith("did not return"):
                return None, failed.split(". ")[0]
            return None, failed.rstrip(".")
        if self.a.fileno() == -1:
            raise _closed_it()
        if isinstance(value, (bytes, bytearray)):
            raise NotYet(f"read_utf returned bytes {bytes(value)[:16]!r}; return a str: decode "
                         "the body with labkit.decode_modified_utf8.")
        if value is None:
            raise NotYet("read_utf returned None: end it with `return` and the text, "
                         "labkit.decode_modified_utf8(body).")
        return value, None


def _closed_it() -> NotYet:
    return NotYet("read_utf closed the socket, so nothing more could be read from it. The "
                  "socket belongs to the caller, who may read more strings: leave closing to "
                  "the caller (no `with sock:` or sock.close() inside read_utf).")


def _outcome(value, failed) -> str:
    return f"read_utf {failed}" if failed else f"read_utf returned {_shown(value)}"


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


def _all_at_once(read_utf) -> None:
    frames = [encode_utf(t) for t in TEXTS]
    left = sum(map(len, frames))
    with _Reading(read_utf, b"".join(frames)) as reading:
        reading.feeder.join(3)  # every byte is there before the first read
        for text, frame in zip(TEXTS, frames):
            value, failed = reading.read()
            left -= len(frame)
            said = (f"With the strings {TEXTS!r} arriving all at once, "
                    f"{_outcome(value, failed)}")
            if reading.unread() < left:
                raise NotYet(f"{said} and took bytes past the end of {text!r}: they belong to "
                             "the strings after it, and are lost. Ask recv for at most the bytes "
                             "still missing (n - len(data)); a buffered reader such as "
                             "sock.makefile() reads ahead and keeps what it took to itself.")
            if failed or value != text:
                raise NotYet(f"{said} where {text!r} was sent.")


def _names(code) -> set[str]:
    """Every name *code* and the functions defined in it use."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _names(const)
    return names


def _waitall(read_utf) -> str:
    code = getattr(read_utf, "__code__", None)
    if code is None or "MSG_WAITALL" not in _names(code):
        return ""
    return (" MSG_WAITALL does not change that here: this socket has a timeout, so Python "
            "keeps it non-blocking underneath, and recv returns what has come.")


def _in_pieces(read_utf, text: str, cuts, where: str, fix: str) -> None:
    data = encode_utf(text)
    with _Reading(read_utf, data, cuts) as reading:
        value, failed = reading.read()
    if failed or value != text:
        raise NotYet(f"{where}: {_outcome(value, failed)}"
                     + ("" if failed else f" where {text!r} was sent") + f". {fix}"
                     + _waitall(read_utf))


def _random_pieces(read_utf) -> None:
    texts = [*TEXTS, BIG, "end"]
    frames = [encode_utf(t) for t in texts]
    data = b"".join(frames)
    rng = random.Random(SEED)  # frames merged and split, lengths and characters cut
    pieces = (rechunk(frames[:len(TEXTS)], rng, max_piece=3)
              + rechunk(frames[len(TEXTS):], rng, max_piece=5000))
    cuts = list(itertools.accumulate(map(len, pieces)))
    with _Reading(read_utf, data, cuts) as reading:
        for text in texts:
            value, failed = reading.read()
            if failed or value != text:
                raise NotYet("With the strings arriving in pieces cut at random (the same "
                             f"pieces every run), {_outcome(value, failed)} where "
                             f"{_shown(text)} was sent. Loop until you have each part whole: "
                             "the 2 bytes of the length, then all the bytes it counts."
                             + _waitall(read_utf))


CUT_OFF = [
    (b"\x00\x05ab", "The peer sent a length of 5, then 'ab', then closed"),
    (b"\x00", "The peer sent one byte of a length, then closed"),
    (b"", "The peer closed without sending anything"),
]


def _cut_off(read_utf) -> None:
    for data, said in CUT_OFF:
        with _Reading(read_utf, data) as reading:
            value, failed = reading.read()
        if failed and failed.startswith("did not return"):
            raise NotYet(f"{said}, and read_utf did not return: {_SPINS}")
        if failed:
            continue  # any exception will do, as Java's EOFException
        if not data:
            raise NotYet(f"{said}: read_utf returned {value!r}. An empty string (a length of 0) "
                         "gives '' too, so the caller could not tell them apart: raise EOFError, "
                         "as Java's readUTF throws EOFException.")
        raise NotYet(f"{said}: read_utf returned {value!r}; {_RAISE}")


def _from_java(read_utf, server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(encode_utf("你好, Java"))
        what = "read_utf(sock) on the Java server's reply"
        try:
            got = call(read_utf, sock, what=what)
        except NotYet as exc:
            raise NotYet(str(exc).replace(str(server.port), "PORT")) from None
    want = f"谢谢连接我:{java_address(('127.0.0.1', server.port))}\nGoodbye!"
    if got != want:
        port = str(server.port)
        raise NotYet(f"The real Java server replied {want.replace(port, 'PORT')!r}; your "
                     f"read_utf returned {str(got).replace(port, 'PORT')!r}.")


def _check_read_utf_bytes(read_utf) -> str:
    _all_at_once(read_utf)
    _in_pieces(read_utf, "你好", [1],
               "The 2-byte length of '你好' arrived in two pieces, one byte and then the other",
               "One recv(2) returns what has come so far, here a single byte: loop until you "
               "have both bytes of the length.")
    text = "你好😀"
    _in_pieces(read_utf, text, [c + 2 for c in utf8_cuts(encode_modified_utf8(text))][::2],
               f"The body of {text!r} arrived in pieces cut in the middle of characters",
               "One recv(n) returns what has come so far: loop until you have all n bytes, and "
               "decode them once, when you have them all.")
    _random_pieces(read_utf)
    _cut_off(read_utf)
    server, why_not = _java_server()
    if server is not None:
        with server:
            _from_java(read_utf, server)
    source = ("the real Java server's reply" if server is not None
              else f"labkit's frames only ({why_not})")
    return (f"checked against {source} and labkit's frames: U+0000, emoji, the empty string, "
            "60000 bytes, a length and characters cut in two, pieces cut at random, and peers "
            "that closed mid-string.")

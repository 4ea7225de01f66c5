"""Exercise 09-read-utf of lesson 09-other-languages: Java's readUTF, written in Python.

As for write_utf (:mod:`labkit.exercises.languages`), the check first compares what the
answer read, from Python, then reads the real Java program's reply when Java is
installed, and says which it did. An answer that hands the work to labkit's own
read_utf is "not yet".

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

from labkit.wire import javautf
from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, _refers_to, _watching_labkit, call
from labkit.wire.javautf import encode_modified_utf8, encode_utf
from labkit.wire.peers import rechunk, utf8_cuts
from labkit.wire.protocols import java_address
from labkit.exercises.languages import TEXTS, _java_server, _shown, _write_it_yourself

__all__: list[str] = []  # its check registers itself; exercise() finds it by name


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

SEED = 9  # random.Random(SEED) cuts the pieces: the same pieces on every run
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
    if _refers_to(read_utf, [javautf.read_utf]):
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

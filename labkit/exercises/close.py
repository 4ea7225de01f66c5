"""Lesson 06-close: its exercises (its helpers are in labkit.course.close).

Exercises: read until the peer closes; finish sending, then read.

The peers here close for real: ``b''`` from ``recv`` is the only signal that
the other side has finished, and a server that answers only after the end of
the request is waiting for exactly that. They are the worst legal peers, the
same on every run: they send in small seeded pieces, fall silent for a moment
half-way (a pause is not the end), and close as soon as they are done.

Once in each check the silence outlasts a timeout the learner's code gave its
socket (up to OUTWAIT_MOST seconds): the peer stays silent until that ``recv``
has timed out, so taking the timeout for the end fails on every run, however
busy the machine, and letting the error propagate passes. 06-read-all sees
the learner's calls through the socket it hands over (``WatchedSocket``);
06-ask, whose learner makes its own socket, sees them by wrapping
``socket.socket``'s ``shutdown``, ``recv`` and ``recv_into`` while it runs
(:func:`labkit.exercises.closewatch._seeing`), which tells SHUT_RDWR, a shutdown
before sending and a timeout taken for the end from one another.

06-read-all is here; 06-ask is in :mod:`labkit.exercises.closeask`, and what it sees
of the learner's socket in :mod:`labkit.exercises.closewatch`.
"""

from __future__ import annotations

import functools
import random
import socket

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet
from labkit.wire.peers import rechunk
from labkit.exercises.checksockets import (WatchedSocket, in_background, send_in_step,
                                           spin_message)
from labkit.exercises.connect import outcome, tcp_pair

__all__: list[str] = []  # its check registers itself; exercise() finds it by name

# -- 06-read-all ---------------------------------------------------------------

SILENCE = 0.3  # seconds a peer stays silent half-way: longer than a timeout taken for the end
# A silence outlasts the learner's socket timeout when that is at most this many seconds: the
# peer stays silent until the learner's recv() has timed out, so an answer that takes the
# timeout for the end returns too early on every run. A longer timeout (5 s, say) would make
# the check too slow to wait out: such an answer is not told apart, and passes.
OUTWAIT_MOST = 3.0

_READ_ALL = '''
def read_all(sock):
    chunks = []
    while True:
        data = sock.recv(1024)
        if data == b"":        # bytes, not '': the peer has closed its side
            break
        chunks.append(data)
    return b"".join(chunks)
'''

_TEST_THE_CHUNK = ("test the bytes this recv() returned, not everything kept so far: "
                   "`chunk = sock.recv(1024)`, then `if not chunk: break` (b'' == '' is "
                   "False, so never compare with '')")


class _Round:
    """One round of 06-read-all: what the peer sends, in which pieces, and how."""

    def __init__(self, message: bytes, pieces: list[bytes], how: dict, does: str):
        self.message, self.pieces, self.how, self._does = message, pieces, how, does

    def does(self, reader) -> str:
        """What the peer did, in words; said after the round, when it is known whether
        the silence outlasted a timeout the learner's code gave the socket."""
        if reader.outlasted is not None and reader.outlasted >= SILENCE:
            return (f"sent {len(self.message)} bytes in {len(self.pieces)} pieces, silent "
                    f"half-way for longer than your socket's timeout of {reader.outlasted:g} "
                    "s, then closed its side")
        return self._does


def _read_all_rounds() -> list[_Round]:
    message = "服务端消息: 2026-01-01 12:00:00".encode()
    pieces = rechunk([message], random.Random(6), max_piece=6)
    big = bytes(range(32, 127)) * 32  # 3,040 bytes: more than one recv(1024)
    return [
        _Round(message, pieces, {"silence": (len(pieces) // 2, SILENCE),
                                 "outwait": OUTWAIT_MOST},
               f"sent {len(message)} bytes in {len(pieces)} pieces, silent for a moment "
               "half-way, then closed its side"),
        _Round(big, [big], {"close": True}, f"sent {len(big):,} bytes at once and closed"),
        _Round(b"", [], {}, "closed without sending anything"),
    ]


@register("06-read-all", title="Read until the peer closes", solution=_READ_ALL, hints=[
    "One recv() returns only what has arrived so far. Loop, keeping every chunk.",
    "When the peer has closed its side, recv() returns b'' (empty bytes), at once and for "
    "ever. That is the end: leave the loop. A pause is not the end, however long.",
    "b'' == '' is False in Python 3: compare the bytes this recv() returned with b'', or "
    "test them with `if not chunk:` (where chunk = sock.recv(1024), not the total you keep).",
])
def _check_read_all(read_all) -> str:
    raised = None
    for plan in _read_all_rounds():
        hung = None
        with tcp_pair() as (client, server_side):
            reader = WatchedSocket(server_side)
            sender = in_background(functools.partial(send_in_step, **plan.how), client,
                                   plan.pieces, reader, delay=0)
            try:  # an outlasted timeout of up to OUTWAIT_MOST s must fit in the time
                value, error = outcome(read_all, reader, timeout=3 + OUTWAIT_MOST,
                                       what="read_all(sock)")
            except NotYet as exc:
                hung = exc
            finally:
                reader.release()
                sender.join(2)
            closed = server_side.fileno() == -1
        does = plan.does(reader)
        if hung is not None:
            raise NotYet(f"{hung} The peer had {does}. At the end recv() returns b'' (empty "
                         "bytes), and b'' == '' is False.")
        what = f"The peer {does}, and read_all(sock)"
        raised = _judge_read_all(what, reader, plan.message, value, error, closed) or raised
    if raised is not None:
        timeout, name = raised
        return ("Every byte came back from a peer that closed at once, b'' from a peer that "
                "sent nothing, and when the peer fell silent for longer than your socket's "
                f"timeout of {timeout:g} s, your code raised {name} instead of taking the "
                "pause for the end.")
    return ("Every byte came back, from pieces with a pause half-way, from a peer that closed "
            "at once, and b'' from a peer that sent nothing.")


def _judge_read_all(what: str, reader: WatchedSocket, message: bytes, value, error,
                    closed: bool) -> tuple[float, str] | None:
    """Raise NotYet for the first thing wrong. Returns (the timeout, the error's name) when
    the answer rightly raised during a silence longer than its socket's timeout."""
    if reader.spun:
        raise NotYet(spin_message(what, f"Leave the loop when it does: {_TEST_THE_CHUNK}."))
    shut = [how for how in reader.shutdowns if how in (socket.SHUT_RD, socket.SHUT_RDWR)]
    if shut and value != message:
        raise NotYet(f"{what} called sock.shutdown(socket.{_SHUT_NAMES[shut[0]]}) before it "
                     "had read everything. That ends reading: recv() then returns b'' at "
                     f"once, and the {len(message):,} bytes the peer sent were never read. "
                     "read_all should only read: leave shutdown() and close() to the caller, "
                     "who owns the socket.")
    if isinstance(error, socket.timeout) or (error is not None and reader.timed_out):
        waited = [t for t in reader.timeouts_set if t]
        timeout = reader.outlasted if reader.outlasted is not None else (
            waited[-1] if waited else None)
        if timeout is not None and timeout < SILENCE:
            raise NotYet(f"{what} raised {type(error).__name__}: you gave the socket a timeout of "
                         f"{timeout:g} s, and the peer was silent for longer half-way. A pause "
                         "is not the end, and so short a timeout gives up on a slow peer: "
                         "leave the socket's timeout as it is.")
        if timeout is not None:  # a silence longer than the timeout: raising is right
            return timeout, type(error).__name__
    if isinstance(error, BlockingIOError):
        raise NotYet(f"{what} raised BlockingIOError: {error}. Your code put the socket in "
                     "non-blocking mode (setblocking(False)), so recv() raises this at once "
                     "whenever nothing has arrived yet. Leave the socket blocking: recv() then "
                     "waits for the next piece, and returns b'' at the end.")
    if isinstance(error, UnicodeDecodeError):
        cut = _cut_character(error, reader, message)
        raise NotYet(f"{what} raised UnicodeDecodeError: {error}. {cut} read_all returns "
                     "bytes: join the pieces, b''.join(chunks), and leave decoding to whoever "
                     "needs the text, once, after the end.")
    if error is not None:
        raise NotYet(f"{what} raised {type(error).__name__}: {error}")
    if reader.watched and not reader.eof:
        if reader.timeouts:  # how many calls depends on the timeout: left out
            raise NotYet(f"{what} returned before it had seen the end: recv() timed out while "
                         "the peer was silent, and your code took that for the end. A pause is "
                         "not the end, only b'' is: do not catch the timeout as the end (let "
                         "the TimeoutError propagate), and keep reading until recv() returns "
                         "b''.")
        if reader.would_block:
            raise NotYet(f"{what} returned before it had seen the end: your code put the "
                         "socket in non-blocking mode (setblocking(False)), recv() raised "
                         "BlockingIOError because nothing had arrived yet, and your code took "
                         "that for the end. Nothing to read yet is not the end, only b'' is: "
                         "leave the socket blocking, and keep reading until recv() returns b''.")
        if message and reader.taken == len(message):
            raise NotYet(f"{what} read all {len(message):,} bytes, but returned without "
                         "waiting for the end: recv() had not yet returned b''. Your loop "
                         "stopped at a byte count, but only the peer knows how much it will "
                         "send, and it says so by closing: keep reading until recv() returns "
                         "b''.")
        calls = f"{reader.calls} call{'s' * (reader.calls != 1)} of recv()"
        raise NotYet(f"{what} returned after {calls}, before it had seen the end. One recv() "
                     "returns only what has arrived so far, often fewer bytes than you asked "
                     "for: keep reading until recv() returns b''.")
    if isinstance(value, str):
        raise NotYet(f"{what} returned a str, {value!r}: return the bytes as they came, "
                     "b''.join(chunks); decoding is the caller's business.")
    if isinstance(value, list):
        raise NotYet(f"{what} returned a list of {len(value)} chunks: join them into one bytes "
                     "object, b''.join(chunks).")
    if not isinstance(value, (bytes, bytearray)):
        raise NotYet(f"{what} returned {value!r}; return the bytes it sent, as one bytes "
                     "object.")
    if value != message:
        if not value:
            got = f"b'', but the peer had sent {len(message):,} bytes"
        elif message.startswith(value):
            got = f"only the first {len(value):,} of the {len(message):,} bytes"
        else:
            got = f"{len(value):,} bytes that are not the {len(message):,} it sent"
        raise NotYet(f"{what} returned {got}. Keep every chunk, in order, until recv() "
                     "returns b''.")
    if closed:
        raise NotYet(f"{what} returned every byte, but closed the socket. The socket is the "
                     "caller's: it may still want to use it, and it closes it itself. "
                     "read_all should only read: leave close() (and `with sock:`) to the "
                     "caller.")
    return None


_SHUT_NAMES = {socket.SHUT_RD: "SHUT_RD", socket.SHUT_WR: "SHUT_WR",
               socket.SHUT_RDWR: "SHUT_RDWR"}


def _cut_character(error: UnicodeDecodeError, reader: WatchedSocket, message: bytes) -> str:
    """Which character a piece cut, in words, e.g. "'务' is 3 bytes in UTF-8 ...". """
    piece = bytes(error.object)
    at = reader.taken - len(piece) + error.start  # where the cut character starts
    lead = message[at:at + 1]
    size = (1 if not lead or lead[0] < 0xC0 else 2 if lead[0] < 0xE0
            else 3 if lead[0] < 0xF0 else 4)
    whole = message[at:at + size]
    try:
        char = whole.decode("utf-8")
    except UnicodeDecodeError:
        char = ""
    if size > 1 and char and message.startswith(piece, reader.taken - len(piece)):
        have = len(piece) - error.start
        first = "its first byte" if have == 1 else f"its first {have} bytes"
        return (f"A recv() returned a piece that ends in the middle of a character: {char!r} "
                f"is {size} bytes in UTF-8, and the piece held only {first}; the rest came "
                "with the next recv(). Decoding each piece on its own fails whenever that "
                "happens.")
    return ("A recv() returned a piece that ends in the middle of a character, which takes "
            "several bytes in UTF-8: decoding each piece on its own fails whenever a "
            "character is cut between two pieces.")

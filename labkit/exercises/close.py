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
(:func:`_seeing`), which tells SHUT_RDWR, a shutdown before sending and a
timeout taken for the end from one another.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import socket
import threading
import time

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, learner_sockets, left_open
from labkit.wire.peers import AdversarialPeer, rechunk
from labkit.serving.servers import TCPServer
from labkit.exercises.checksockets import (PAUSE, SPIN, Stopped, WatchedSocket, in_background,
                           send_in_step, spin_message)
from labkit.exercises.connect import outcome, tcp_pair

__all__ = ["answer_at_eof"]

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


# -- 06-ask --------------------------------------------------------------------


def answer_at_eof(conn, silence=None) -> None:
    """A server that reads the whole request in small pieces, until EOF, then answers in
    pieces, silent for a moment half-way (or for as long as *silence(conn)* takes), and
    closes."""
    request = bytearray()
    while chunk := conn.recv(7):
        request += chunk
    reply = _reply(bytes(request))
    peer = AdversarialPeer(conn.sock, seed=len(request), max_piece=5, pause=PAUSE)
    half = len(reply) // 2
    peer.sendall(reply[:half])
    if silence is None:
        time.sleep(SILENCE)
    else:
        silence(conn)
    peer.sendall(reply[half:])
    conn.log("sent", f"{len(reply)} bytes in pieces")


def _reply(request: bytes) -> bytes:
    return "收到 ".encode() + request + f" ({len(request)} bytes)".encode()


_ASK = '''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)     # "that was all": the server sees b''
        chunks = []
        while data := sock.recv(1024):    # the server closes after answering
            chunks.append(data)
        return b"".join(chunks)
'''

# (request, whether the server's silence outlasts the learner's timeout, up to OUTWAIT_MOST)
_REQUESTS = (("你好".encode(), False), (b"hello", True), (b"", False))


def _code(data: bytes) -> str:
    """Bytes as a learner would write them: b'hello', or '你好'.encode() for UTF-8 text."""
    if data.isascii():
        return repr(bytes(data))
    try:
        return f"{bytes(data).decode('utf-8')!r}.encode()"
    except UnicodeDecodeError:
        return repr(bytes(data))


def _text(data: bytes) -> str:
    """Bytes in prose: b'hello', or '收到 你好 (6 bytes)' as UTF-8 bytes."""
    if data.isascii():
        return repr(bytes(data))
    try:
        return f"{bytes(data).decode('utf-8')!r} as UTF-8 bytes"
    except UnicodeDecodeError:
        return repr(bytes(data))


class _Seen:
    """What the learner's code does with its own sockets while 06-ask runs, seen by
    wrapping socket.socket's shutdown, recv and recv_into (see :func:`_seeing`): every
    call still reaches the real socket. ``reset()`` before each call of ask()."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.shutdowns: list[int] = []  # what it gave shutdown(), in order
        self.reads = 0  # recv() calls begun
        self.timeouts = 0  # recv() calls that timed out
        self.timed_out = False  # the latest recv() call timed out
        self.eof = False  # a recv() returned b''
        self.after_eof = 0  # recv() calls after that
        self.spun = False  # stopped: recv() called again and again after b''


def _is_learners(sock) -> bool:
    return any(s is sock for s in learner_sockets())


@contextlib.contextmanager
def _seeing():
    """Note what the learner's code does with its sockets; a loop that calls recv() for
    ever after b'' is stopped (with Stopped) and named, as in 06-read-all."""
    seen = _Seen()
    names = ("shutdown", "recv", "recv_into")
    own = {name: socket.socket.__dict__.get(name) for name in names}  # None: inherited
    real = {name: getattr(socket.socket, name) for name in names}

    def shutdown(self, how):
        if _is_learners(self):
            seen.shutdowns.append(how)
        return real["shutdown"](self, how)

    def reading(name):
        method = real[name]

        def read(self, *args, **kwargs):
            if not _is_learners(self):
                return method(self, *args, **kwargs)
            if seen.eof:
                seen.after_eof += 1
                if seen.after_eof > SPIN:
                    seen.spun = True
                    raise Stopped(f"the check stopped a loop that called recv() {SPIN} times "
                                  "after it had returned b''")
            seen.reads += 1
            try:
                result = method(self, *args, **kwargs)
            except socket.timeout:
                seen.timeouts += 1
                seen.timed_out = True
                raise
            seen.timed_out = False
            if (result == 0 if isinstance(result, int) else not result) and _asked(name, args):
                seen.eof = True
            return result

        return read

    socket.socket.shutdown = shutdown
    socket.socket.recv, socket.socket.recv_into = reading("recv"), reading("recv_into")
    try:
        yield seen
    finally:
        for name in names:
            if own[name] is None:
                delattr(socket.socket, name)
            else:
                setattr(socket.socket, name, own[name])


def _asked(name: str, args) -> bool:
    """Whether a recv call asked for at least one byte (recv(0) returns b'' too)."""
    if not args:
        return True
    if name == "recv":
        return args[0] > 0
    size = args[1] if len(args) > 1 and args[1] else memoryview(args[0]).nbytes
    return size > 0


class _Ask:
    """One call of the learner's ask(): its request, the server's silence half-way through
    the answer, and whether the call has ended."""

    def __init__(self, request: bytes, outwait: bool, seen: _Seen):
        self.request, self.outwait, self.seen = request, outwait, seen
        self.ended = threading.Event()
        self.timeout = None  # the learner's socket timeout, as the server's silence began

    def silence(self, conn) -> None:
        """Stay silent SILENCE s; and, if the learner's socket has a timeout shorter than
        that (or, when outwait, one of up to OUTWAIT_MOST s), until its recv() has timed
        out and the learner has either read again or returned. Waiting for the timeout
        itself, not for a time, keeps the verdict the same on a slow machine."""
        start = time.monotonic()
        mine = _learners_end(conn)
        self.timeout = mine.gettimeout() if mine is not None else None
        limit = OUTWAIT_MOST if self.outwait else SILENCE
        if self.timeout and self.timeout <= limit:
            before = self.seen.timeouts
            self._wait(lambda: self.seen.timeouts > before, start + self.timeout + 2.0)
            if self.seen.timeouts > before:
                reads = self.seen.reads
                self._wait(lambda: self.seen.reads > reads, time.monotonic() + 1.0)
        rest = SILENCE - (time.monotonic() - start)
        if rest > 0:
            time.sleep(rest)

    def _wait(self, done, deadline: float) -> None:
        while not done() and not self.ended.is_set() and time.monotonic() < deadline:
            time.sleep(0.005)

    def run(self, ask, address, what: str):
        def timed(address, request):
            try:
                return ask(address, request)
            finally:
                self.ended.set()

        self.seen.reset()
        limit = 3 + OUTWAIT_MOST if self.outwait else 3  # an outlasted timeout must fit
        return outcome(timed, address, self.request, timeout=limit, what=what)


def _learners_end(conn):
    """The learner's socket at the other end of the server's connection *conn*, or None."""
    for sock in learner_sockets():
        with contextlib.suppress(OSError):
            if sock.fileno() != -1 and sock.getsockname() == conn.peer:
                return sock
    return None


@register("06-ask", title="Finish sending, then read the answer", solution=_ASK, hints=[
    "This server answers only after it has read the whole request, and it knows the request "
    "is whole when recv() returns b''. So your side must say 'I have finished sending'.",
    "sock.shutdown(socket.SHUT_WR) sends that end-of-stream but keeps the socket open for "
    "reading. sock.close() would give up reading too. Shut down after sendall(), not before.",
    "Then read until recv() returns b'': the server closes after its answer. A pause is not "
    "the end: if recv() times out, let the error propagate.",
])
def _check_ask(ask) -> str:
    current: list[_Ask] = []

    def handler(conn):
        answer_at_eof(conn, silence=current[-1].silence)

    raised = None
    with _seeing() as seen, TCPServer(handler, name="exercise-ask", timeout=5) as server:
        for request, outwait in _REQUESTS:
            call = _Ask(request, outwait, seen)
            current.append(call)
            what = f"ask(address, {_code(request)})"
            before = server.accepted
            try:
                value, error = call.run(ask, server.address, what)
            except NotYet as exc:
                _judge_hang(exc, server, before, seen)
            number = _connection(server, before)
            # the end of the request counts only if it came while ask() still waited: from
            # shutdown(), not from a close on the way out of a `with` block
            saw_the_end = (number is not None and _ended_sending(seen)
                           and _saw_the_end(server, number))
            verdict = _judge_answer(what, call, value, error, number is not None, saw_the_end)
            raised = verdict or raised
            still = left_open(wait=0.5)
            if still:
                done = (f"raised {verdict[1]}, as it should when the server is silent for "
                        "longer than the timeout" if verdict else "returned the right answer")
                raise NotYet(f"{what} {done}, but your code still had {still[0]} open. Close "
                             "it however ask() ends: `with socket.create_connection(address, "
                             "timeout=2) as sock:` closes it even if something fails.")
    if any(s.gettimeout() is None for s in learner_sockets()):
        raise NotYet("ask() connected without a timeout: if the server never answered, "
                     "recv() would wait for ever. Give the socket one: "
                     "socket.create_connection(address, timeout=2).")
    if raised:
        timeout, name = raised
        return ("The server saw the end of each request; you read its answers to their end, "
                "and when it fell silent for longer than your socket's timeout of "
                f"{timeout:g} s, ask() raised {name} instead of taking the pause for the end.")
    return "The server saw the end of each request, and you read each answer to its end."


def _ended_sending(seen: _Seen) -> bool:
    return any(how in (socket.SHUT_WR, socket.SHUT_RDWR) for how in seen.shutdowns)


def _connection(server, before: int) -> int | None:
    """The number of the connection ask() made (the server's latest), or None if it made
    none. The server may take a moment to accept: wait for it, a little."""
    deadline = time.monotonic() + 1.0
    while server.accepted == before and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.accepted if server.accepted > before else None


def _saw_the_end(server, number: int) -> bool:
    """Whether the server's connection *number* saw the end of the request."""
    return any(e.kind == "end of stream" and e.conn == number
               for e in server.events.snapshot())


def _judge_hang(exc: NotYet, server, before: int, seen: _Seen) -> None:
    number = _connection(server, before)
    if number is None:
        raise NotYet(f"{exc} It never connected to the server: connect first, "
                     "socket.create_connection(address, timeout=2).") from None
    if not (_ended_sending(seen) and _saw_the_end(server, number)):
        raise NotYet(f"{exc} The server was still waiting for the end of your request: shut "
                     "down your sending side.") from None
    if "closed" in server.events.kinds(number):
        raise NotYet(f"{exc} The server had sent its answer and closed: recv() then returns "
                     "b'' at once, for ever (and b'' == '' is False). Leave the loop when it "
                     "does.") from None
    raise exc


_SHUT_WR_AFTER = ("Shut down only your sending side, sock.shutdown(socket.SHUT_WR), after "
                  "sendall(request); then read until recv() returns b''.")


def _judge_answer(what: str, call: _Ask, value, error, connected: bool,
                  saw_the_end: bool) -> tuple[float, str] | None:
    """Raise NotYet for the first thing wrong with one call of ask(). Returns (the socket's
    timeout, the error's name) when ask() rightly raised during a silence longer than it."""
    want, seen = _reply(call.request), call.seen
    if seen.spun:
        raise NotYet(spin_message(what, f"Leave the loop when it does: {_TEST_THE_CHUNK}."))
    if isinstance(error, OSError) and error.errno == 9:
        raise NotYet(f"{what} raised {type(error).__name__}: {error}. After close() the "
                     "socket is gone; shutdown(socket.SHUT_WR) ends only sending.")
    if isinstance(error, AttributeError) and "'bytes' object has no attribute 'encode'" in \
            str(error):
        raise NotYet(f"{what} raised AttributeError: {error}. request is bytes already: send "
                     "it as it is.")
    if not connected:
        did = (f"raised {type(error).__name__}: {error}" if error is not None
               else f"returned {value!r}")
        raise NotYet(f"{what} {did}, and it never connected to the server. Connect first, "
                     "socket.create_connection(address, timeout=2), then send the request.")
    right = error is None and isinstance(value, (bytes, bytearray)) and value == want
    shut = [how for how in seen.shutdowns if how in (socket.SHUT_RD, socket.SHUT_RDWR)]
    if shut and not right:
        raise NotYet(f"{what} called sock.shutdown(socket.{_SHUT_NAMES[shut[0]]}), which ends "
                     f"reading too, so it could not read the answer ({_text(want)}): after "
                     "that recv() returns b'' at once, or raises ConnectionResetError if the "
                     f"answer has arrived. {_SHUT_WR_AFTER}")
    if isinstance(error, BrokenPipeError) and seen.shutdowns:
        raise NotYet(f"{what} raised BrokenPipeError: {error}. Your code called "
                     "sock.shutdown() before it had sent the whole request, and after "
                     "shutdown(socket.SHUT_WR) nothing more can be sent. Shut down after "
                     "sending everything: sock.sendall(request), then "
                     "sock.shutdown(socket.SHUT_WR).")
    timeout = call.timeout if call.timeout is not None else min(
        (s.gettimeout() for s in learner_sockets() if s.gettimeout()), default=None)
    if isinstance(error, socket.timeout) and not saw_the_end:
        raise NotYet(f"{what} raised TimeoutError: {error}. The server was still waiting for "
                     "the end of your request, as it answers only after that: shut down your "
                     "sending side, sock.shutdown(socket.SHUT_WR).")
    if error is not None and (isinstance(error, socket.timeout) or seen.timed_out):
        if timeout is not None and timeout < SILENCE:
            raise NotYet(f"{what} raised {type(error).__name__}: {error}. The server paused "
                         "for a moment half-way through its answer, as a busy server may, "
                         f"longer than your socket's timeout of {timeout:g} s: give it a few "
                         "seconds, e.g. timeout=2.")
        if timeout is not None:  # a silence longer than the timeout: raising is right
            return timeout, type(error).__name__
    if error is not None:
        raise NotYet(f"{what} raised {type(error).__name__}: {error}")
    if isinstance(value, str):
        raise NotYet(f"{what} returned a str, {value!r}: return the answer's bytes as they "
                     "came.")
    if isinstance(value, list):
        raise NotYet(f"{what} returned a list: join the chunks into one bytes object, "
                     "b''.join(chunks).")
    if not isinstance(value, (bytes, bytearray)):
        raise NotYet(f"{what} returned {value!r}; return the server's answer, as bytes.")
    if value == want:
        return None
    if not saw_the_end:
        if seen.timeouts:
            raise NotYet(f"{what} returned {_text(value)} when recv() timed out, but the "
                         "server had not answered yet: it answers only after the end of your "
                         "request, and it never saw one. Shut down your sending side after "
                         "sendall(request): sock.shutdown(socket.SHUT_WR). And a timeout is "
                         "not the end of the answer, only b'' is: let the TimeoutError "
                         "propagate.")
        raise NotYet(f"{what} returned {_text(value)} before the server had answered: it "
                     "answers only after the end of your request, and it never saw one. "
                     f"{_SHUT_WR_AFTER}")
    if seen.timeouts and want.startswith(value):
        pause = (f"longer than your socket's timeout of {timeout:g} s" if timeout
                 else "for a moment")
        raise NotYet(f"{what} returned only the start of the answer: the server was silent "
                     f"half-way, {pause}, recv() timed out, and your code took that for the "
                     "end. A pause is not the end, only b'' is: do not catch the timeout as "
                     "the end (let the TimeoutError propagate), and read until recv() "
                     "returns b''.")
    if not value:
        raise NotYet(f"{what} returned b'', but the server answered {_text(want)}: read "
                     "until recv() returns b''.")
    if want.startswith(value):
        raise NotYet(f"{what} returned only the start of the answer: the server sent "
                     f"{_text(want)} in pieces, with a pause half-way, then closed. A pause "
                     "is not the end: read until recv() returns b''.")
    raise NotYet(f"{what} returned {_text(value)}; the server sent {_text(want)} in pieces, "
                 "then closed. Read until b''.")

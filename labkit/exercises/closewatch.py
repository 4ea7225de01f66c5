"""What 06-ask sees of the learner's own sockets, and how its server falls silent.

06-ask's learner makes the socket, so the check cannot hand over a watched one: while it
runs, :func:`_seeing` wraps ``socket.socket``'s ``shutdown``, ``recv`` and ``recv_into``
and notes (in a :class:`_Seen`) what the learner's code does with its sockets; every call
still reaches the real socket. :class:`_Ask` is one call of ``ask()``: the server's
silence half-way through its answer waits for the learner's timeout to pass, not for a
time, so the verdict is the same on a slow machine.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from labkit.exercises.watch import learner_sockets
from labkit.exercises.checksockets import SPIN, Stopped
from labkit.exercises.connect import outcome
from labkit.exercises.close import OUTWAIT_MOST, SILENCE

__all__: list[str] = []  # the 06-ask check's own


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

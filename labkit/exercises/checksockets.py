"""The sockets that the checks of lessons 05 and 06 hand to the learner's code.

Theory of operation
-------------------
Each check plays the worst legal peer, the same way on every run:

- ``05-send-all`` hands the learner a :class:`SendOnly` socket. Its ``send`` takes a
  seeded random part of what it is offered (all of it only when that is one byte), as
  a real ``send`` may when the buffer is full, and that part really goes out, through
  a small send buffer, to a reader that takes it in small random pieces with pauses.
  Each part is found in the data, so the check names the first call that skipped or
  repeated bytes, and counts what never arrived or arrived twice.
- The reading exercises hand the learner a :class:`WatchedSocket`: every call reaches
  a real connected socket, and ``recv`` calls are counted (bytes taken, ``b''``,
  timeouts, flags). :func:`send_in_step` sends the next piece only when the learner
  waits in ``recv`` with nothing left to read, so each ``recv`` returns exactly one
  piece, and cut characters or half headers reach the learner's code on every run,
  however busy the machine is. Its silence half-way outlasts a short timeout that the
  learner's code gave the socket: it ends only once that ``recv`` has timed out, so a
  timeout taken for the end of the stream is caught on every run, on a slow machine too.
- A loop that would never end (``recv`` after ``b''`` for ever, ``send`` a byte at a
  time) is stopped by the socket itself with :class:`Stopped`, and named.
"""

from __future__ import annotations

import random
import select
import socket
import threading
import time

__all__ = ["PAUSE", "SPIN", "WAITALL", "MOST_TAKEN", "MOST_CALLS", "Stopped", "WatchedSocket",
           "send_in_step", "stay_silent", "SendOnly", "cut", "in_background",
           "spin_message"]

PAUSE = 0.02  # between pieces when the learner's reads cannot be watched (makefile, ...)
SPIN = 1000  # recv() calls after b'' before the check stops a loop that never ends
WAITALL = getattr(socket, "MSG_WAITALL", 0)


class Stopped(Exception):
    """Raised into the learner's code by the check's socket: this loop would never end."""


def in_background(action, *args, delay: float = 0.05) -> threading.Thread:
    """Run the sending side in a thread, after *delay* (the learner is waiting by then)."""

    def run():
        time.sleep(delay)
        try:
            action(*args)
        except OSError:
            pass  # the learner's side went away: the check reports what it saw

    thread = threading.Thread(target=run, name="labkit-exercise-peer", daemon=True)
    thread.start()
    return thread


def _readable(sock) -> bool:
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # closed: recv() answers at once
        return True


def cut(data: bytes, offsets) -> list[bytes]:
    """*data* cut at these offsets: ``cut(b"abcd", [1, 3])`` is ``[b"a", b"bc", b"d"]``."""
    bounds = [0, *sorted(set(offsets)), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


# -- a socket whose reads the check can see ---------------------------------------


class WatchedSocket:
    """A connected socket handed to the learner's reading code, its ``recv`` calls counted.

        reader = WatchedSocket(server_side)
        sender = in_background(send_in_step, client, pieces, reader)
        value, error = outcome(read_all, reader)
        reader.release(); sender.join(2)

    Every call reaches the real socket. Reading it another way (``makefile``...) works
    too, but is not watched: then the sender only pauses between pieces.
    """

    _UNWATCHED = {"makefile", "recvmsg", "recvmsg_into", "recvfrom", "recvfrom_into", "dup",
                  "detach"}

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self.calls = self.taken = self.timeouts = self.flags = 0
        self.eof = False  # a recv returned b'': the peer has closed its side
        self.timed_out = False  # the latest recv call timed out
        self.would_block = 0  # recv calls that raised BlockingIOError (non-blocking mode)
        self.shutdowns: list[int] = []  # what the learner gave shutdown()
        self.outlasted = None  # the timeout (s) that a silence of the peer outlasted
        self.last = (0, 0)  # (bytes asked for, bytes returned) by the latest recv
        self.timeouts_set: list = []  # what the learner gave settimeout()
        self.watched = True
        self.in_step = True  # the sender sends a piece only when the learner waits for it
        self.spun = False  # stopped: recv() called again and again after b''
        self._after_eof = 0
        self._waiting = threading.Event()  # the learner is in recv, with nothing to read
        self._released = False

    def recv(self, bufsize, flags=0):
        return self._read(self._sock.recv, bufsize, bufsize, flags)

    def recv_into(self, buffer, nbytes=0, flags=0):
        return self._read(self._sock.recv_into, nbytes or memoryview(buffer).nbytes,
                          buffer, nbytes, flags)

    def _read(self, method, asked, *args):
        flags = args[-1]
        if self.eof:
            self._after_eof += 1
            if self._after_eof > SPIN:
                self.spun = True
                raise Stopped(f"the check stopped a loop that called recv() {SPIN} times "
                              "after it had returned b''")
        self.calls += 1
        self.flags |= flags
        if flags & WAITALL and self._sock.gettimeout() is None:
            self.in_step = False  # a blocking MSG_WAITALL waits for many pieces: just pause
        if not self.in_step or not _readable(self._sock):
            self._waiting.set()  # the sender may send the next piece now
        self.timed_out = False
        try:
            result = method(*args)
        except socket.timeout:
            self.timeouts += 1
            self.timed_out = True
            raise
        except BlockingIOError:
            self.would_block += 1
            raise
        size = result if isinstance(result, int) else len(result)
        if not flags & socket.MSG_PEEK:
            self.taken += size
        if size == 0 and asked > 0:
            self.eof = True
        self.last = (asked, size)
        return result

    def settimeout(self, value) -> None:
        self.timeouts_set.append(value)
        self._sock.settimeout(value)

    def setblocking(self, flag) -> None:
        self.timeouts_set.append(None if flag else 0.0)
        self._sock.setblocking(flag)

    def shutdown(self, how) -> None:
        self.shutdowns.append(how)
        self._sock.shutdown(how)

    def __getattr__(self, name):
        if name in self._UNWATCHED:
            self.watched = self.in_step = False
            self._waiting.set()
        return getattr(self._sock, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._sock.close()

    def __repr__(self) -> str:
        return repr(self._sock)

    def wait_for_reader(self, timeout: float = 1.0) -> None:
        """Return when the learner waits in recv() with nothing to read (or after *timeout*)."""
        if self.in_step and not self._released:
            self._waiting.wait(timeout)
            self._waiting.clear()
        if not self.in_step:
            time.sleep(PAUSE)

    def release(self) -> None:
        """The learner's call is over: the sender stops waiting for its reads."""
        self._released = True
        self._waiting.set()


def send_in_step(sock, pieces, reader: WatchedSocket, *, silence=(0, 0.0), outwait=0.0,
                 close=False):
    """Send each piece when *reader*'s learner waits for it, then end the stream.

    *silence* ``(i, seconds)``: stay silent that long before piece *i*, as a busy peer
    may; and longer, if the learner's socket has a timeout of at most *outwait* seconds,
    until its ``recv`` has timed out (see :func:`stay_silent`). The end is
    ``shutdown(SHUT_WR)``, or ``close()`` when *close* is true.
    """
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one piece, one segment
    for i, piece in enumerate(pieces):
        reader.wait_for_reader()
        if i == silence[0] and silence[1]:
            stay_silent(reader, silence[1], outwait)
        sock.sendall(piece)
    if close:
        sock.close()
    else:
        sock.shutdown(socket.SHUT_WR)


def stay_silent(reader: WatchedSocket, seconds: float, outwait: float = 0.0) -> None:
    """Send nothing for *seconds*, the learner waiting in recv; and, when the learner's
    socket has a timeout of at most *outwait* seconds, until that recv has timed out and
    the learner has either called recv again or returned (then ``reader.outlasted`` is
    that timeout).

    Waiting for the timeout itself, not for a time, keeps the verdict the same on a slow
    machine. Reads that are not watched (makefile) are outlasted by the clock.
    """
    start = time.monotonic()
    timeout = reader._sock.gettimeout()
    if timeout and timeout <= outwait:
        if reader.in_step:
            before = reader.timeouts
            deadline = start + timeout + 2.0  # the timeout is due long before
            while (reader.timeouts == before and not reader._released
                   and time.monotonic() < deadline):
                time.sleep(0.005)
            if reader.timeouts > before:
                reader.outlasted = timeout
                reader.wait_for_reader()  # it reads again, or its call is over
        else:
            time.sleep(timeout + 0.5)
            reader.outlasted = timeout
    rest = seconds - (time.monotonic() - start)
    if rest > 0:
        time.sleep(rest)


def spin_message(what: str, fix: str) -> str:
    return (f"{what} kept calling recv() after it had returned b''. b'' means the peer has "
            f"closed its side, and recv() then returns it at once, for ever. {fix}")


# -- a socket that offers only send ------------------------------------------------

MOST_TAKEN = 16 * 1024  # the most one send() takes: about what a small buffer has room for
MOST_CALLS = 20_000  # 1 MiB a byte at a time would take a million: stopped long before


class SendOnly:
    """A socket that offers only ``send``, which takes fewer bytes than offered.

    Each ``send`` takes a seeded random part of what it is offered (all of it only when
    that is one byte) and hands that part to a real socket. It notes where in *data*
    each part came from, and the first call that did not go on where the last stopped.
    """

    def __init__(self, sock, data: bytes, seed: int = 5):
        self._sock, self._data = sock, data
        self._rng = random.Random(seed)
        self.calls = 0
        self.done = 0  # bytes of data that went out in order, before any mistake
        self.parts: list[tuple[int, int]] = []  # (offset in data, length) of each part taken
        self.mistake: str | None = None  # the first wrong call, in words
        self.largest = 0  # the most bytes one call offered
        self.stopped = False
        self.empty_at_end = False  # the latest call offered b'' after everything had gone
        self._last = None  # (offset, offered, taken) of the previous call
        self._sent = 0
        self._limit = MOST_CALLS  # lowered after a mistake: the verdict is known by then

    def send(self, data, flags=0) -> int:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            return self._sock.send(data, flags)  # the real error: "a bytes-like object..."
        if self.calls >= self._limit or self._sent > 4 * len(self._data):
            self.stopped = True
            raise Stopped(f"the check stopped send_all after {self.calls:,} calls of send()")
        self.calls += 1
        offered = memoryview(data).cast("B")
        size = len(offered)
        taken = size if size <= 1 else self._rng.randint(1, min(size - 1, MOST_TAKEN))
        self.largest = max(self.largest, size)
        self.empty_at_end = size == 0 and self.done == len(self._data)
        if taken:
            self._note(offered[:taken], size)
            self._sock.sendall(offered[:taken])
            self._sent += taken
        return taken

    def __getattr__(self, name):
        raise AttributeError(f"this socket offers only send() - {name}() is what you are "
                             "writing yourself")

    def _note(self, part, offered: int) -> None:
        at = self._find(part)
        last, self._last = self._last, (at, offered, len(part))
        if at is not None:
            self.parts.append((at, len(part)))
        if self.mistake is None:
            if at == self.done:
                self.done += len(part)
            else:
                self.mistake = self._describe(at, last)
                self._limit = self.calls + 2000

    def _find(self, part) -> int | None:
        part = bytes(part)
        guesses = [self.done, 0]
        if self._last and self._last[0] is not None:
            at, offered, taken = self._last
            guesses += [at + offered, at + taken, at]
        for at in guesses:
            if self._data.startswith(part, at):
                return at
        at = self._data.find(part[:64])  # the data is random: 64 bytes pin a place
        return at if at >= 0 and self._data.startswith(part, at) else None

    def _describe(self, at, last) -> str:
        if at is None:
            return ("A call of send() offered bytes that are not the next part of data: "
                    "send the bytes of data, in order.")
        if last is not None and last[2] < last[1]:
            short = f"send() took only {last[2]:,} of the {last[1]:,} bytes offered, and "
            if at == last[0] + last[1]:
                return (f"{short}your next call went on after all {last[1]:,}: the other "
                        f"{last[1] - last[2]:,} were never sent. Your code ignored the count "
                        "that send() returns.")
            if at < self.done:
                again = ("data from its start again" if at == 0
                         else "again bytes that had already gone out")
                return (f"{short}your next call offered {again}: {self.done - at:,} bytes "
                        "went a second time.")
        if at < self.done:
            return (f"A call of send() offered again {self.done - at:,} bytes that had "
                    "already gone out.")
        return (f"A call of send() started at byte {at:,} of data, when {self.done:,} had gone "
                f"out: the {at - self.done:,} in between were never sent.")

    def totals(self) -> tuple[int, int]:
        """(bytes of data that never went out, bytes that went out more than once)."""
        covered = end = 0
        for at, n in sorted(self.parts):
            covered += max(0, at + n - max(at, end))
            end = max(end, at + n)
        return len(self._data) - covered, sum(n for _, n in self.parts) - covered

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

import select
import socket
import threading
import time

__all__ = ["PAUSE", "SPIN", "WAITALL", "Stopped", "WatchedSocket",
           "send_in_step", "stay_silent", "cut", "in_background",
           "spin_message"]

PAUSE = 0.02  # between pieces when the learner's reads cannot be watched (makefile, ...)
SPIN = 1000  # recv() calls after b'' before the check stops a loop that never ends
WAITALL = getattr(socket, "MSG_WAITALL", 0)


class Stopped(Exception):
    """Raised into the learner's code by the check's socket: this loop would never end.

    >>> raise Stopped("the check stopped a loop that called recv() 1000 times")
    Traceback (most recent call last):
    labkit.exercises.checksockets.Stopped: the check stopped a loop that called recv() 1000 times
    """


def in_background(action, *args, delay: float = 0.05) -> threading.Thread:
    """Run the sending side in a thread, after *delay* (the learner is waiting by then).

    >>> from labkit.exercises.connect import tcp_pair
    >>> with tcp_pair() as (client, server_side):
    ...     sender = in_background(client.sendall, b"late")
    ...     server_side.recv(10)
    ...     sender.join(2)
    b'late'
    """

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
    """*data* cut at these offsets.

    >>> cut(b"abcd", [1, 3])
    [b'a', b'bc', b'd']
    >>> cut("你".encode(), [1])            # a character cut in two
    [b'\\xe4', b'\\xbd\\xa0']
    """
    bounds = [0, *sorted(set(offsets)), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


# -- a socket whose reads the check can see ---------------------------------------


class WatchedSocket:
    """A connected socket handed to the learner's reading code, its ``recv`` calls counted.

    >>> from labkit.exercises.connect import outcome, tcp_pair
    >>> def read_all(sock):                  # a learner's answer
    ...     data = b""
    ...     while chunk := sock.recv(1024):
    ...         data += chunk
    ...     return data
    >>> with tcp_pair() as (client, server_side):
    ...     reader = WatchedSocket(server_side)
    ...     sender = in_background(send_in_step, client, [b"ab", b"cd"], reader)
    ...     value, error = outcome(read_all, reader)
    ...     reader.release(); sender.join(2)
    >>> value, error, reader.calls, reader.eof
    (b'abcd', None, 3, True)

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

    >>> from labkit.exercises.connect import tcp_pair
    >>> with tcp_pair() as (client, server_side):
    ...     reader = WatchedSocket(server_side)
    ...     sender = in_background(send_in_step, client, [b"one ", b"two"], reader)
    ...     pieces = [reader.recv(100), reader.recv(100), reader.recv(100)]
    ...     reader.release(); sender.join(2)
    >>> pieces                               # one piece per recv, then the end
    [b'one ', b'two', b'']

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

    >>> import socket
    >>> from labkit.exercises.connect import tcp_pair
    >>> with tcp_pair() as (client, server_side):
    ...     server_side.settimeout(0.2)            # a learner who takes a pause for the end
    ...     reader = WatchedSocket(server_side)
    ...     silent = in_background(stay_silent, reader, 0.1, 1.0)
    ...     try:
    ...         reader.recv(100)
    ...     except socket.timeout:
    ...         print("timed out")
    ...     reader.release(); silent.join(5)
    timed out
    >>> reader.outlasted
    0.2
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
    """The message for a loop that kept calling recv() after b''.

    >>> print(spin_message("read_all()", "Stop when recv returns b''."))
    read_all() kept calling recv() after it had returned b''. b'' means the peer has closed its side, and recv() then returns it at once, for ever. Stop when recv returns b''.
    """
    return (f"{what} kept calling recv() after it had returned b''. b'' means the peer has "
            f"closed its side, and recv() then returns it at once, for ever. {fix}")

"""The chat server of lesson 10: one room, many clients, and nobody stalls the others.

Theory of operation
-------------------
The protocol: UTF-8 lines ending in ``\\n``. ``/nick NAME`` sets a name; ``/quit`` (or
EOF) leaves and the others get ``* NAME left``; any other line goes to every other
client as ``NAME: text``. A line over ``max_line`` bytes gets ``! line too long`` and is
dropped; bytes that are not UTF-8 get ``! invalid UTF-8``. The connection stays open.

Each connection has two threads. The *reader* (the server's handler thread) splits the
bytes into lines and acts on them. A line that passes ``max_line`` is answered at once
and its bytes are thrown away as they arrive, until its newline: an endless line costs
at most ``max_line`` bytes of memory. A message is *broadcast*: under the room's lock it
is appended to every other member's outbox, so every member sees the messages in one
order, which keeps each sender's order.

Nobody writes to a socket while holding the lock: each member's *writer* thread drains
its own outbox. The outbox is bounded (``queue_size`` lines and ``queue_bytes`` bytes).
When a broadcast finds an outbox full it waits up to ``patience`` seconds for the writer
to take it: a reader that is merely behind holds the room back a little, which is fair.
A client that does not read at all is then *too slow*: its queued lines are dropped,
its writer sends ``! too slow, disconnecting`` (if the client takes it within ``grace``
seconds) and the connection closes. The others never wait for it again.
"""

from __future__ import annotations

import collections
import selectors
import socket
import threading
import time

from labkit.serving.events import preview
from labkit.wire.framing import LineDecoder, TooLong

__all__ = ["ChatRoom"]

LINE_TOO_LONG = b"! line too long\n"
INVALID_UTF8 = b"! invalid UTF-8\n"
TOO_SLOW = b"! too slow, disconnecting\n"
BAD_NAME = b"! a name is 1 to 32 characters without spaces\n"
_BATCH = 1 << 16  # most bytes a writer takes from its outbox at once


class _Member:
    """One participant: a name, a bounded outbox, and the writer thread that drains it."""

    def __init__(self, conn):
        self.conn = conn
        self.name = f"guest{conn.number}"
        self.lines: LineDecoder | None = None
        self.slow = False
        self._cond = threading.Condition()
        self._outbox: collections.deque[bytes] = collections.deque()
        self._queued = 0  # bytes in the outbox
        self._closing = False  # no more lines accepted: flush what is queued, then stop
        self._deadline: float | None = None  # when closing, give up writing at this time
        self._selector: selectors.BaseSelector | None = None  # the writer's, made on first use

    def put(self, data: bytes, max_lines: int, max_bytes: int, patience: float) -> bool:
        """Queue *data*. If the outbox is full, wait up to *patience* s for the writer
        to take it; False if it did not (the member is too slow)."""
        deadline = time.monotonic() + patience
        with self._cond:
            while not self._closing and (len(self._outbox) >= max_lines
                                         or self._queued + len(data) > max_bytes):
                left = deadline - time.monotonic()
                if left <= 0 or self.conn.stopping:
                    return False
                self._cond.wait(min(left, 0.05))
            if self._closing:
                return True
            self._outbox.append(data)
            self._queued += len(data)
            self._cond.notify_all()
            return True

    def close(self, grace: float, notice: bytes | None = None) -> None:
        """Accept no more lines; flush within *grace* s (with *notice*: drop the rest first)."""
        with self._cond:
            if notice is not None:
                self._outbox.clear()
                self._outbox.append(notice)
                self._queued = len(notice)
            if not self._closing:
                self._closing = True
                self._deadline = time.monotonic() + grace
            self._cond.notify_all()

    def write_loop(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._outbox and not self._closing:
                        self._cond.wait(0.5)
                    if not self._outbox:
                        return  # closing, and everything went out
                    batch = bytearray()  # one send for many small lines, but not too many
                    while self._outbox and len(batch) < _BATCH:
                        batch += self._outbox.popleft()
                    self._queued -= len(batch)
                    self._cond.notify_all()  # a broadcast may be waiting for room
                if not self._write(batch):
                    self._give_up()
                    return
        finally:
            if self._selector is not None:
                self._selector.close()
                self._selector = None

    def _give_up(self) -> None:
        # the client is gone (or too slow to flush to): take no more lines for it,
        # and end its reader too, so that it leaves the room
        with self._cond:
            self._closing = True
            self._outbox.clear()
            self._queued = 0
            self._cond.notify_all()
        try:
            self.conn.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def _writable(self, timeout: float) -> bool:
        """Wait up to *timeout* s until the socket takes bytes (or has failed: then the
        send says so). A selector, because poll() does not exist on Windows; there
        DefaultSelector is select(), which takes sockets and counts a failed one as
        writable too."""
        sock = self.conn.sock
        if sock.fileno() < 0:
            return True  # closed under us: the send raises, and the writer gives up
        try:
            if self._selector is None:
                selector = selectors.DefaultSelector()
                try:
                    selector.register(sock, selectors.EVENT_WRITE)
                except BaseException:
                    selector.close()
                    raise
                self._selector = selector
            return bool(self._selector.select(timeout))
        except (OSError, ValueError):
            return True  # no selector, or the socket went bad: let the send report it

    def _write(self, data) -> bool:
        sock, view = self.conn.sock, memoryview(data)
        while view:
            if self.conn.stopping or (self._deadline and time.monotonic() > self._deadline):
                return False
            # short wait, so that a member who is dropped or a stopping server is noticed
            if not self._writable(0.05):
                continue
            try:
                n = sock.send(view)
            except OSError:
                return False
            view = view[n:]
        self.conn.log("sent", f"{len(data)} bytes: {preview(bytes(data[:41]))}", nbytes=len(data))
        return True


class ChatRoom:
    """The chat protocol: one room shared by every connection of a server.

    >>> from labkit import serve, connect
    >>> with serve(ChatRoom()) as server:                # a chat server on 127.0.0.1
    ...     alice, bob = connect(server), connect(server)
    ...     alice.sendall(b"/nick alice\\n")
    ...     server.wait_quiet(5)
    ...     server.handler.names()
    ...     alice.close(); bob.close()
    True
    ['alice', 'guest2']

    *max_line*: the longest line in bytes (without its newline). *queue_size* and
    *queue_bytes* bound each member's outbox. A broadcast that finds an outbox full
    waits up to *patience* seconds for it to drain (so a reader that is merely behind
    holds the sender back); if it does not, the member is too slow and is disconnected,
    after at most *grace* seconds spent on a last notice. *sndbuf* caps the kernel's
    send buffer of each connection (SO_SNDBUF), which otherwise grows to megabytes.
    Thread-safe: the server calls it from one thread per connection.
    """

    __name__ = "chat"

    def __init__(self, *, max_line: int = 4096, queue_size: int = 16384,
                 queue_bytes: int = 1 << 18, patience: float = 0.5, grace: float = 1.0,
                 sndbuf: int | None = 1 << 16):
        self.max_line = max_line
        self.patience = patience
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self.grace = grace
        self.sndbuf = sndbuf
        self.members: dict[int, _Member] = {}
        self.slow_dropped = 0
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """The names of the members, in the order they joined."""
        with self._lock:
            return [m.name for m in self.members.values()]

    def pending_bytes(self) -> int:
        """The most bytes any member has buffered towards its next line (<= max_line)."""
        with self._lock:
            return max((m.lines.pending for m in self.members.values() if m.lines), default=0)

    def broadcast(self, line: str, *, sender: _Member | None = None) -> None:
        """Queue *line* for every member but *sender*; one order for all (under the lock)."""
        data = line.encode("utf-8")
        with self._lock:
            for member in list(self.members.values()):
                if member is not sender and not self._put(member, data):
                    self._drop_slow(member)

    def _put(self, member: _Member, data: bytes) -> bool:
        return member.put(data, self.queue_size, self.queue_bytes, self.patience)

    def _tell(self, member: _Member, data: bytes) -> None:
        with self._lock:
            if not self._put(member, data):
                self._drop_slow(member)

    def _drop_slow(self, member: _Member) -> None:
        # called with the lock held; nothing here blocks
        if member.slow:
            return
        member.slow = True
        self.slow_dropped += 1
        self.members.pop(member.conn.number, None)
        member.conn.log("too slow", f"its outbox is full; disconnecting {member.name}")
        member.close(self.grace, notice=TOO_SLOW)
        try:
            member.conn.sock.shutdown(socket.SHUT_RD)  # its reader sees EOF and leaves
        except OSError:
            pass

    def __call__(self, conn) -> None:
        if self.sndbuf:  # else the kernel buffers megabytes for a client that never reads
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf)
        member = _Member(conn)
        member.lines = LineDecoder(self.max_line, at_once=True)  # answered before it ends
        with self._lock:
            self.members[conn.number] = member
        writer = conn.server._start_thread(member.write_loop,
                                           f"labkit-{conn.server.name}-writer-{conn.number}")
        try:
            self._read(member)
        finally:
            with self._lock:
                self.members.pop(conn.number, None)
            self.broadcast(f"* {member.name} left\n")
            member.close(self.grace)
            writer.join(self.grace + 0.5)
            if writer.is_alive():  # pragma: no cover - the writer keeps its own deadline
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                writer.join(1.0)

    def _read(self, member: _Member) -> None:
        while not member.slow:
            try:
                data = member.conn.recv(4096)
            except socket.timeout:
                # a member who only listens is no fault (the server's timeout is for the
                # other protocols' silent peers); stop() still wakes this recv at once
                continue
            if not data:
                return
            for line in member.lines.feed(data):
                if not self._handle(member, line):
                    return

    def _handle(self, member: _Member, line) -> bool:
        """Act on one line; False means the member asked to leave."""
        if isinstance(line, TooLong):
            self._tell(member, LINE_TOO_LONG)
            return True
        try:
            text = line.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError:
            self._tell(member, INVALID_UTF8)
            return True
        if text == "/quit":
            return False
        if text == "/nick" or text.startswith("/nick "):
            name = text[len("/nick"):].strip()
            if 1 <= len(name) <= 32 and not any(c.isspace() for c in name):
                member.name = name
            else:
                self._tell(member, BAD_NAME)
            return True
        self.broadcast(f"{member.name}: {text}\n", sender=member)
        return True

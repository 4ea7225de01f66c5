"""The lesson protocols, as handlers for :class:`labkit.servers.TCPServer`.

- ``echo``: the seed's ``server.py``, fixed. For each piece of text received it
  replies ``欢迎访问>>>>`` + text + ``\\r\\n``. It decodes UTF-8 incrementally,
  so a character split across two reads is held back, never an error.
- ``greeting``: the seed's Java ``GreetingServer``: reads one ``writeUTF``
  string, replies ``writeUTF("谢谢连接我:/127.0.0.1:6666\\nGoodbye!")``, closes.
- ``clock``: the seed's ``server.php``: writes ``服务端消息: <date>`` and closes.
- ``chat``: UTF-8 lines; ``/nick NAME``, ``/quit``; every other line goes to
  everyone else as ``NAME: text``.
"""

from __future__ import annotations

import datetime
import queue
import socket
import threading

from .framing import LineDecoder, TextDecoder, TooLong, encode_utf, read_utf

__all__ = ["echo", "greeting", "clock", "ChatRoom", "handler_for", "java_address", "PROTOCOLS",
           "ECHO_PREFIX", "GREETING_PREFIX", "CLOCK_PREFIX"]

ECHO_PREFIX = "欢迎访问>>>>"
GREETING_PREFIX = "谢谢连接我:"
CLOCK_PREFIX = "服务端消息: "


def echo(conn) -> None:
    """Reply ``欢迎访问>>>>`` + text + ``\\r\\n`` to every piece of text, until EOF."""
    decoder = TextDecoder()
    while True:
        data = conn.recv(1024)  # the seed's buffer size: a character can straddle two reads
        if not data:
            break
        text = decoder.feed(data)
        if text:  # empty when the chunk held only the first bytes of a character
            conn.sendall(f"{ECHO_PREFIX}{text}\r\n".encode("utf-8"))
    rest = decoder.finish()  # an incomplete last character becomes U+FFFD
    if rest:
        conn.sendall(f"{ECHO_PREFIX}{rest}\r\n".encode("utf-8"))


def java_address(address) -> str:
    """How Java prints a socket address: ``/127.0.0.1:6666``."""
    return f"/{address[0]}:{address[1]}"


def greeting(conn) -> None:
    """Read one Java ``writeUTF`` string and answer as the seed's GreetingServer does."""
    text = read_utf(conn, timeout=conn.server.timeout)
    conn.log("read", f"readUTF() -> {text!r}")
    reply = f"{GREETING_PREFIX}{java_address(conn.local)}\nGoodbye!"
    conn.sendall(encode_utf(reply))


def clock(conn, *, now=datetime.datetime.now) -> None:
    """Push ``服务端消息: YYYY-MM-DD HH:MM:SS`` and close, as the seed's server.php does."""
    stamp = now().strftime("%Y-%m-%d %H:%M:%S")
    conn.sendall(f"{CLOCK_PREFIX}{stamp}".encode("utf-8"))


class _Member:
    """One chat participant: a name and a bounded queue drained by a writer thread."""

    def __init__(self, conn, queue_size: int):
        self.conn = conn
        self.name = f"guest{conn.number}"
        self.outbox: queue.Queue[bytes] = queue.Queue(queue_size)
        self.gone = threading.Event()

    def write_loop(self) -> None:
        while not self.gone.is_set() or not self.outbox.empty():
            try:
                data = self.outbox.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                self.conn.sock.sendall(data)
            except OSError:
                return


class ChatRoom:
    """The chat protocol: one room shared by every connection of a server.

    ``serve(ChatRoom())`` starts a chat server. Lines are UTF-8 ending in
    ``\\n``. ``/nick NAME`` sets a name; ``/quit`` or EOF leaves, and the
    others get ``* NAME left``; any other line goes to everyone else as
    ``NAME: text``. A line over *max_line* bytes gets ``! line too long`` and
    is dropped (never buffered whole); invalid UTF-8 gets ``! invalid UTF-8``.
    A client that stops reading fills its queue of *queue_size* lines, gets
    ``! too slow, disconnecting`` if it can take it, and is disconnected, so
    it never stalls the others.
    """

    __name__ = "chat"

    def __init__(self, *, max_line: int = 4096, queue_size: int = 1024):
        self.max_line = max_line
        self.queue_size = queue_size
        self.members: dict[int, _Member] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        with self._lock:
            return [m.name for m in self.members.values()]

    def _send(self, member: _Member, line: str) -> None:
        try:
            member.outbox.put_nowait(line.encode("utf-8"))
        except queue.Full:
            self._drop_slow(member)

    def _drop_slow(self, member: _Member) -> None:
        if member.gone.is_set():
            return
        member.gone.set()
        member.conn.log("too slow", f"{self.queue_size} lines queued; disconnecting")
        try:
            member.conn.sock.send(b"! too slow, disconnecting\n", socket.MSG_DONTWAIT)
        except OSError:
            pass
        try:
            member.conn.sock.shutdown(socket.SHUT_RDWR)  # its handler sees EOF and leaves
        except OSError:
            pass

    def broadcast(self, line: str, *, sender: _Member | None = None) -> None:
        """Queue *line* for every member but *sender* (under the lock: order is kept)."""
        with self._lock:
            for member in self.members.values():
                if member is not sender and not member.gone.is_set():
                    self._send(member, line)

    def __call__(self, conn) -> None:
        member = _Member(conn, self.queue_size)
        with self._lock:
            self.members[conn.number] = member
        writer = conn.server._start_thread(member.write_loop, f"labkit-chat-writer-{conn.number}")
        try:
            self._read_lines(member)
        finally:
            with self._lock:
                self.members.pop(conn.number, None)
            self.broadcast(f"* {member.name} left\n")
            member.gone.set()
            writer.join(1.0)  # let what was queued for this member go out first

    def _read_lines(self, member: _Member) -> None:
        decoder = LineDecoder(max_length=self.max_line)
        while not member.gone.is_set():
            data = member.conn.recv(4096)
            if not data:
                return
            for line in decoder.feed(data):
                if not self._handle_line(member, line):
                    return

    def _handle_line(self, member: _Member, line) -> bool:
        """Act on one line; False means the member asked to leave."""
        if isinstance(line, TooLong):
            self._send(member, "! line too long\n")
            return True
        try:
            text = line.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError:
            self._send(member, "! invalid UTF-8\n")
            return True
        if text == "/quit":
            return False
        if text.startswith("/nick"):
            name = text[5:].strip()
            if not name or len(name) > 32 or any(c.isspace() for c in name):
                self._send(member, "! a name is 1 to 32 characters without spaces\n")
            else:
                member.name = name
            return True
        self.broadcast(f"{member.name}: {text}\n", sender=member)
        return True


def handler_for(name: str):
    """A fresh handler for the protocol called *name* (each chat server gets its own room)."""
    if name == "chat":
        return ChatRoom()
    try:
        return {"echo": echo, "greeting": greeting, "clock": clock}[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; expected one of {', '.join(PROTOCOLS)}") from None


PROTOCOLS = ("echo", "greeting", "clock", "chat")

"""The clients 11-server's check plays: a connection that sees the handler's reads, a
client that reads whole HTTP replies with deadlines, and the waits that time each byte of
a request sent a byte at a time."""

from __future__ import annotations

import socket
import time

from labkit.exercises.checksockets import SPIN, Stopped
from labkit.serving.base import any_readable
from labkit.serving.httpserve import IncompleteMessage, split_head

__all__: list[str] = []


_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class _Spun(Stopped):
    """Raised into the handler: recv() called again and again after b''."""


class _CheckedConn:
    """The Connection handed to the learner's handler; stops a loop that recv()s for ever
    after b''."""

    def __init__(self, conn):
        self._conn, self._after_eof = conn, 0
        self.eof = False

    def recv(self, bufsize: int = 65536) -> bytes:
        if self.eof:
            self._after_eof += 1
            if self._after_eof > SPIN:
                raise _Spun(f"the check stopped a loop that called recv() {SPIN} times after "
                            "it had returned b''")
        data = self._conn.recv(bufsize)
        self.eof = self.eof or not data
        return data

    def __getattr__(self, name):
        return getattr(self._conn, name)


class _Client:
    """The check's client: a socket, and the bytes it has read but not used yet."""

    def __init__(self, address):
        self.sock = socket.create_connection(address, timeout=3)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.sock.close()


def _read_reply(client: _Client, wait: float = 2.0):
    """The next reply on *client*: (start line, headers, body, closed); start line and
    headers are None if no whole head came within *wait* s (body: what came). The body is
    read by Content-Length, or until the close; what follows stays in client.buffer."""
    data, client.buffer = client.buffer, b""
    deadline = time.monotonic() + wait
    while True:
        try:
            start, headers, rest = split_head(data)
            break
        except IncompleteMessage:
            pass
        except ValueError:  # a head line without a colon: judge it by its start line
            start, rest = data.partition(b"\r\n\r\n")[0].decode("latin-1"), b""
            return start.split("\r\n")[0], {}, rest, False
        chunk = _recv_until(client.sock, deadline)
        if not chunk:
            return (None, None, data, chunk == b"")
        data += chunk
    length = headers.get("content-length")
    want = int(length) if length is not None and length.isdigit() else None
    closed = False
    while want is None or len(rest) < want:
        chunk = _recv_until(client.sock, deadline)
        if not chunk:
            closed = chunk == b""
            break
        rest += chunk
    if want is not None and len(rest) > want and not _looks_like_reply(rest[want:]):
        return start, headers, rest, closed  # more than it said: the check names it
    if want is not None:
        rest, client.buffer = rest[:want], rest[want:]
    return start, headers, rest, closed


def _looks_like_reply(data: bytes) -> bool:
    return data.startswith(b"HTTP/")


def _recv_until(sock: socket.socket, deadline: float):
    """The next bytes, b'' at the close, None if nothing came before *deadline*."""
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        return sock.recv(65536)
    except socket.timeout:
        return None
    except ConnectionError:
        return b""


def _closes(client: _Client, wait: float = 2.0) -> bool:
    deadline = time.monotonic() + wait
    while True:
        chunk = _recv_until(client.sock, deadline)
        if chunk is None:
            return False
        if not chunk:
            return True


def _count(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


def _early(client: _Client):
    """What the server has sent already: bytes, b'' if it closed, or None (nothing)."""
    sock = client.sock
    sock.settimeout(0.005)
    try:
        return sock.recv(65536)
    except socket.timeout:
        return None
    except ConnectionError:
        return b""
    finally:
        sock.settimeout(3)


def _wait_reading(server, wait: float = 1.0) -> None:
    """Until the handler of each open connection of *server* (a TCPServer) waits in recv()
    with nothing left to read (or *wait* s)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with server._lock:
            conns = [c for c in server.connections.values() if not c.done]
        if conns and all(c.waiting and not any_readable([c.sock]) for c in conns):
            return
        time.sleep(0.001)

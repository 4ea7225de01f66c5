"""Background TCP and UDP servers, so that one notebook can play both sides.

Theory of operation
-------------------
``TCPServer(handler)`` binds and listens *in the caller's thread*: when the
constructor returns, the port is known and a client can connect at once (no
``sleep(1)``). Then one daemon thread accepts. It waits in a selector on the
listening socket and on one end of a socketpair; ``stop()`` writes a byte to
the other end, so the accept thread wakes at once instead of polling.

Each accepted connection gets its own daemon thread, which calls
``handler(conn)`` with a :class:`Connection`: a thin wrapper around the socket
that records every recv and send in the server's event log and has a timeout,
so a silent client can never hold a thread forever. ``stop()`` closes the
listener, shuts down every open connection (a thread blocked in ``recv`` gets
``b""`` at once), and joins every thread it started, all within ``timeout``.

Threads never print. What happens is recorded in ``server.events``; a
handler's unexpected exception is kept in ``server.errors`` and re-raised in
the owning cell by ``server.raise_errors()``.

A registry keyed by name lets a notebook cell be re-run: ``serve(echo)`` stops
the previous server called "echo" before binding the new one, so re-running a
cell with a fixed port does not fail with ``EADDRINUSE``.
"""

from __future__ import annotations

import selectors
import socket
import threading

from labkit.serving.base import (LOOPBACK, _PEER_ERRORS, BaseServer, _name_of,
                                 SERVERS, any_readable)
from labkit.serving.events import plural, preview

__all__ = ["Connection", "TCPServer", "serve", "running", "stop_all"]


class Connection:
    """The server's end of one accepted connection, as a handler sees it.

    >>> def shout(conn):                      # a handler gets a Connection
    ...     conn.sendall(conn.recv(1024).upper())
    >>> with TCPServer(shout) as server, socket.create_connection(server.address) as s:
    ...     s.sendall(b"hi")
    ...     s.recv(1024)
    b'HI'
    >>> server.log()
    [conn 1] connected from 127.0.0.1
    [conn 1] received 2 bytes: 'hi'
    [conn 1] sent 2 bytes: 'HI'
    [conn 1] closed
    [server] stopped

    It behaves like a socket (``recv``, ``sendall``, ``send``, ``shutdown``,
    ``settimeout``) and records each call in the server's event log.
    ``conn.number`` counts connections from 1 in the order they were accepted.
    """

    def __init__(self, server: TCPServer, sock: socket.socket, number: int, peer):
        self.server, self.sock, self.number, self.peer = server, sock, number, peer
        self.local = sock.getsockname()
        self._waiting = threading.Event()  # set while blocked in recv: read by wait_quiet()
        self.done = False  # written under the server's lock
        self._selector = None  # made at the first recv: it waits for input

    @property
    def stopping(self) -> bool:
        """True once the server is stopping: long loops should end."""
        return self.server._stopping.is_set()

    @property
    def waiting(self) -> bool:
        """True while the handler waits in recv() for bytes that have not arrived."""
        return self._waiting.is_set()

    def log(self, kind: str, detail: str = "", **fields) -> None:
        self.server.events.add(self.number, kind, detail, peer=self.peer, **fields)

    def recv(self, bufsize: int = 65536) -> bytes:
        # Wait with the flag up and lower it before reading: the bytes stay in the socket
        # until then, so wait_quiet() never sees "waiting, nothing to read" in the moment
        # between recv() taking them and this thread handling them.
        self._waiting.set()
        try:
            self._wait_readable()
        finally:
            self._waiting.clear()
        data = self.sock.recv(bufsize)
        if data:
            self.log("received", f"{plural(len(data))}: {preview(data)}", nbytes=len(data))
        elif not self.stopping:
            self.log("end of stream", "(the client closed its side)")
        return data

    def _wait_readable(self) -> None:
        """Block until the socket has bytes or EOF, within its timeout (as recv would)."""
        timeout = self.sock.gettimeout()
        if timeout == 0.0 or self.sock.fileno() < 0:
            return  # non-blocking or closed: recv() itself answers at once
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
            self._selector.register(self.sock, selectors.EVENT_READ)
        if not self._selector.select(timeout):
            raise socket.timeout("timed out")

    def _close(self) -> None:
        if self._selector is not None:
            self._selector.close()
        self.sock.close()

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.log("sent", f"{plural(len(data))}: {preview(data)}", nbytes=len(data))

    def send(self, data: bytes) -> int:
        n = self.sock.send(data)
        self.log("sent", f"{plural(n)}: {preview(data[:n])}", nbytes=n)
        return n

    def shutdown(self, how: int = socket.SHUT_WR) -> None:
        self.sock.shutdown(how)
        self.log("shutdown", {0: "reading", 1: "writing", 2: "both"}.get(how, str(how)))

    def settimeout(self, timeout) -> None:
        self.sock.settimeout(timeout)

    def gettimeout(self):
        return self.sock.gettimeout()

    def fileno(self) -> int:
        return self.sock.fileno()

    def start_thread(self, target, *args) -> threading.Thread:
        """Run ``target(*args)`` in a thread of this connection that ``server.stop()`` joins.

        Its exceptions are kept like the handler's, never printed: OSError and
        LabkitError are the peer's doing (logged "dropped"), others go to server.errors.
        """
        def run():
            try:
                target(*args)
            except socket.timeout:
                self.log("timed out", f"silent for {self.server.timeout:g} s")
            except _PEER_ERRORS as exc:
                if not self.stopping:
                    self.log("dropped", f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug: keep it for the owner
                self.server._record_error(self.number, exc)
        name = getattr(target, "__name__", "thread")
        return self.server._start_thread(run, f"labkit-{self.server.name}-{name}-{self.number}")


class TCPServer(BaseServer):
    """A TCP server that runs *handler(conn)* in a thread per connection.

    >>> with TCPServer(lambda conn: conn.sendall(b"hi")) as server:
    ...     with socket.create_connection(server.address, timeout=2) as s:
    ...         s.recv(10)
    b'hi'

    *timeout* is how long a connection may stay silent before the server
    drops it; stop() does not wait for it.
    """

    def __init__(self, handler, *, host: str = LOOPBACK, port: int = 0,
                 timeout: float = 60.0, name: str | None = None, max_connections: int = 256,
                 backlog: int = 1024):
        super().__init__(name or _name_of(handler), host, port, timeout)
        self.handler = handler
        self.max_connections = max_connections
        self.backlog = backlog
        self.connections: dict[int, Connection] = {}  # open ones, by number
        self.accepted = 0
        self.sock = self._open(socket.SOCK_STREAM, host, port, backlog)
        with self._starting():
            self.sock.setblocking(False)  # accept() after select() must never block
            self._note_address(host)
            self._start_thread(self._accept_loop, f"labkit-{self.name}-accept")

    def _accept_loop(self) -> None:
        for _ in self._each_readable(self.sock):
            # accept and register as one step, so wait_quiet() and stop() see both or neither
            with self._lock:
                try:
                    sock, peer = self.sock.accept()
                except OSError:  # nothing left to accept (the client gave up meanwhile)
                    continue
                if self._stopping.is_set():
                    sock.close()
                    continue
                self.accepted += 1
                number = self.accepted
                if len(self.connections) >= self.max_connections:
                    sock.close()
                    self.events.add(number, "refused", "too many connections")
                    continue
                sock.settimeout(self.timeout)
                conn = Connection(self, sock, number, peer)
                self.connections[number] = conn
            conn.log("connected", f"from {peer[0]}")
            self._start_thread(self._handle, f"labkit-{self.name}-conn-{number}", conn)

    def _handle(self, conn: Connection) -> None:
        try:
            self.handler(conn)
        except socket.timeout:
            conn.log("timed out", f"silent for {self.timeout:g} s")
        except _PEER_ERRORS as exc:
            if not conn.stopping:
                conn.log("dropped", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug in the handler: keep it for the owner
            self._record_error(conn.number, exc)
        finally:
            conn._close()
            conn.log("closed")
            with self._lock:
                conn.done = True
                self.connections.pop(conn.number, None)

    def _interrupt(self) -> None:
        with self._lock:
            conns = list(self.connections.values())
        for conn in conns:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)  # recv in the handler returns b""
            except OSError:
                pass

    def _quiet(self) -> bool:
        # quiet: no connection waits to be accepted, and every handler waits for input
        # that has not arrived (anything readable still has work to do)
        if any_readable([self.sock]):
            return False
        with self._lock:  # taken after that check: an accept under way has registered now
            conns = [c for c in self.connections.values() if not c.done]
        return all(c.waiting for c in conns) and not any_readable([c.sock for c in conns])

    def __repr__(self) -> str:
        text = super().__repr__()[:-1]
        return f"{text}, {len(self.connections)} open connection(s)>" if self.running else text + ">"


# -- the registry (kept in labkit.serving.base, which every server shares) ------


def serve(handler, *, name: str | None = None, host: str = LOOPBACK, port: int = 0,
          timeout: float = 60.0) -> TCPServer:
    """Start a TCP server for *handler* in the background, replacing any of the same name.

    >>> from labkit import echo, echo_client
    >>> server = serve(echo)          # re-running this cell is safe
    >>> server.address                # doctest: +ELLIPSIS
    ('127.0.0.1', ...)
    >>> echo_client(server, "你好")
    '欢迎访问>>>>你好\\r\\n'
    >>> server.stop()

    The server is a context manager too: ``with serve(echo) as server:`` stops it
    at the end of the block.
    """
    name = name or _name_of(handler)
    return SERVERS.replace(name, lambda: TCPServer(handler, host=host, port=port,
                                            timeout=timeout, name=name))


def running() -> list[BaseServer]:
    """The servers started with serve() or serve_udp() that are still running.

    >>> from labkit import echo
    >>> with serve(echo):
    ...     running()                             # doctest: +ELLIPSIS
    [<TCPServer 'echo' listening on 127.0.0.1:..., 0 open connection(s)>]
    >>> running()
    []
    """
    return SERVERS.all()


def stop_all(timeout: float = 1.0) -> int:
    """Stop every server in the registry; return how many were stopped.

    >>> from labkit import echo, clock
    >>> first, second = serve(echo), serve(clock)
    >>> stop_all()
    2
    >>> first.running, second.running
    (False, False)
    """
    servers = running()
    for server in servers:
        server.stop(timeout)
    return len(servers)

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

import contextlib
import errno
import ipaddress
import os
import selectors
import socket
import threading
import time

from labkit.errors import LabkitError
from labkit.serving.events import EventLog, plural, preview

__all__ = ["Connection", "TCPServer", "serve", "running", "stop_all", "BaseServer", "is_loopback",
           "any_readable"]

LOOPBACK = "127.0.0.1"
_PEER_ERRORS = (OSError, LabkitError)  # the peer's doing, not a bug in the handler


def _check_address(host, port) -> None:
    if not isinstance(host, str) or not host:
        raise TypeError(f"host must be a non-empty str, not {host!r}")
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, not {port!r}")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, not {port}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# SO_REUSEADDR means "connections in TIME_WAIT do not count" on POSIX systems only. On
# Windows it lets a second socket take the port even from a live listener, and a plain
# bind there already ignores TIME_WAIT: so it is set on POSIX only (as asyncio does).
_REUSE_ADDRESS = os.name == "posix"
_WSAEADDRINUSE = 10048  # Windows' "address in use", in OSError.winerror


def _in_use(exc: OSError) -> bool:
    return exc.errno == errno.EADDRINUSE or getattr(exc, "winerror", None) == _WSAEADDRINUSE


def _bind(kind: int, host: str, port: int, backlog: int = 1024) -> socket.socket:
    """Create, bind (and for TCP listen) a socket; close it again if that fails."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        # lets a fixed port be reused while old connections sit in TIME_WAIT;
        # it does not help against a listener that is still alive (see registry)
        if _REUSE_ADDRESS:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if _in_use(exc):
                raise LabkitError(
                    f"{host}:{port} is already in use - another server (or an older run "
                    "of this cell outside labkit's registry) is listening there; stop it, "
                    "or use port=0 to let the system choose a free port"
                ) from exc
            raise
        if kind == socket.SOCK_STREAM:
            # a burst of connects (500 in tests/test_reliability.py) overflows a short
            # queue, and each dropped SYN costs its client a 1 s retransmit
            sock.listen(backlog)
        return sock
    except BaseException:
        sock.close()
        raise


class BaseServer:
    """What TCP and UDP servers share: address, log, errors, registry name."""

    unit = "conn"

    def __init__(self, name: str, host: str, port: int, timeout: float):
        _check_address(host, port)
        if timeout is None or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.name = name
        self.timeout = timeout
        self.events = EventLog(unit=self.unit)
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = False
        self._threads: list[threading.Thread] = []
        self._wake_r, self._wake_w = socket.socketpair()

    # -- facts --------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the server listens on; the port is real even if 0 was asked."""
        return self._address

    @property
    def host(self) -> str:
        return self._address[0]

    @property
    def port(self) -> int:
        return self._address[1]

    @property
    def running(self) -> bool:
        return not self._stopped

    def _note_address(self, host: str) -> None:
        self._address = self.sock.getsockname()[:2]
        if not is_loopback(host):
            self.events.add(0, "note", f"listening on {host}, reachable from other machines")

    def _open(self, kind: int, host: str, port: int, backlog: int = 1024) -> socket.socket:
        """Bind (and listen) the server's socket; on failure close what __init__ opened."""
        try:
            return _bind(kind, host, port, backlog)
        except BaseException:
            self._wake_r.close()
            self._wake_w.close()
            raise

    @contextlib.contextmanager
    def _starting(self):
        """Wrap a constructor's steps after _open(): if one fails (a thread that cannot
        start, a selector that cannot be made), close what was opened, then raise."""
        try:
            yield
        except BaseException:
            self._stopping.set()
            for thing in (getattr(self, "_selector", None), getattr(self, "sock", None),
                          self._wake_r, self._wake_w):
                if thing is not None:
                    with contextlib.suppress(OSError):
                        thing.close()
            raise

    # -- errors -------------------------------------------------------------
    def _record_error(self, conn: int, exc: BaseException) -> None:
        with self._lock:
            self.errors.append(exc)
        self.events.add(conn, "error", f"{type(exc).__name__}: {exc}")

    def raise_errors(self) -> None:
        """Re-raise, in the calling cell, the first exception a handler raised."""
        if self.errors:
            raise self.errors[0]

    # -- lifecycle ----------------------------------------------------------
    def _start_thread(self, target, name: str, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def _each_readable(self, sock: socket.socket):
        """Yield each time *sock* is readable, until stop() is called.

        One selector serves the whole loop, so serving opens no descriptor per
        connection.
        """
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.fileobj is sock and not self._stopping.is_set():
                        yield

    def _interrupt(self) -> None:
        """Wake threads blocked on client sockets (TCP overrides this)."""

    def stop(self, timeout: float = 1.0) -> None:
        """Stop serving and join every thread this server started. Safe to call twice."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        deadline = time.monotonic() + timeout
        self._stopping.set()
        try:
            self._wake_w.send(b"x")  # wakes the serving thread's selector at once
        except OSError:
            pass
        self._interrupt()
        current = threading.current_thread()
        while True:  # join until none is left: the serving thread may start one as it ends
            with self._lock:
                threads = [t for t in self._threads if t.is_alive() and t is not current]
            if not threads or time.monotonic() >= deadline:
                break
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            self._interrupt()  # connections registered while the serving thread finished
        self.sock.close()
        self._wake_r.close()
        self._wake_w.close()
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            self.events.add(0, "note", f"threads still running after stop(): {stuck}")
        self.events.add(0, "stopped")
        _forget(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def log(self, wait: float = 3.0) -> EventLog:
        """The event log, after waiting (up to *wait* s) for the server to go quiet."""
        self.wait_quiet(wait)
        return self.events

    def wait_quiet(self, timeout: float = 3.0) -> bool:
        """Wait until the server has nothing left to do (see ``_quiet``).

        Returns False if that did not happen within *timeout* seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self._stopped or self._quiet():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)

    def _quiet(self) -> bool:
        """True when no work is pending; each kind of server says what that means."""
        return not any_readable([self.sock])

    def __repr__(self) -> str:
        state = f"listening on {self.host}:{self.port}" if self.running else "stopped"
        return f"<{type(self).__name__} {self.name!r} {state}>"


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


def any_readable(socks) -> bool:
    """True if any of *socks* has data (or EOF) waiting; a closed socket counts as busy."""
    try:
        with selectors.DefaultSelector() as sel:
            for sock in socks:
                sel.register(sock, selectors.EVENT_READ)
            return bool(sel.select(0))
    except (OSError, ValueError, KeyError):  # a socket closed meanwhile
        return True


# -- the registry --------------------------------------------------------------

_registry: dict[str, BaseServer] = {}
_registry_lock = threading.Lock()


def _name_of(handler) -> str:
    name = getattr(handler, "__name__", None) or type(handler).__name__
    return name.lower()


def _forget(server: BaseServer) -> None:
    with _registry_lock:
        if _registry.get(server.name) is server:
            del _registry[server.name]


def _replace(name: str, make):
    with _registry_lock:
        old = _registry.pop(name, None)
    if old is not None:
        old.stop()
    server = make()
    with _registry_lock:
        _registry[server.name] = server
    return server


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
    return _replace(name, lambda: TCPServer(handler, host=host, port=port,
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
    with _registry_lock:
        return list(_registry.values())


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


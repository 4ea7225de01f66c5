"""What every labkit server shares: binding its socket (SO_REUSEADDR on POSIX only, a
clear error when the port is taken), :class:`BaseServer` (address, event log, errors,
threads, ``stop()``), and the registry by name that ``serve()``, ``running()`` and
``stop_all()`` in :mod:`labkit.serving.servers` keep.
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
from labkit.registry import Registry
from labkit.serving.events import EventLog

__all__ = ["BaseServer", "is_loopback", "any_readable", "check_address"]

LOOPBACK = "127.0.0.1"
_PEER_ERRORS = (OSError, LabkitError)  # the peer's doing, not a bug in the handler


def check_address(host, port) -> None:
    """Refuse a host or port no socket could use, with a message that says why.

    >>> check_address("127.0.0.1", 0)
    >>> check_address("127.0.0.1", 70000)
    Traceback (most recent call last):
    ValueError: port must be in 0..65535, not 70000
    """
    if not isinstance(host, str) or not host:
        raise TypeError(f"host must be a non-empty str, not {host!r}")
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, not {port!r}")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, not {port}")


def is_loopback(host: str) -> bool:
    """True for a host only this machine can reach: ``localhost``, 127.x.x.x, ``::1``.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
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
    """What TCP and UDP servers share: address, log, errors, registry name.

    >>> from labkit.serving.udp import UDPServer
    >>> with UDPServer(lambda data, peer: data) as server:
    ...     isinstance(server, BaseServer), server.running
    (True, True)
    >>> server.running
    False
    """

    unit = "conn"

    def __init__(self, name: str, host: str, port: int, timeout: float):
        check_address(host, port)
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
        SERVERS.forget(self)

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


def any_readable(socks) -> bool:
    """True if any of *socks* has data (or EOF) waiting; a closed socket counts as busy.

    >>> a, b = socket.socketpair()
    >>> with a, b:
    ...     before = any_readable([a])
    ...     b.sendall(b"x")
    ...     before, any_readable([a])
    (False, True)
    """
    try:
        with selectors.DefaultSelector() as sel:
            for sock in socks:
                sel.register(sock, selectors.EVENT_READ)
            return bool(sel.select(0))
    except (OSError, ValueError, KeyError):  # a socket closed meanwhile
        return True


# -- the registry --------------------------------------------------------------

SERVERS = Registry()  # every server labkit.serve*() started, by name


def _name_of(handler) -> str:
    name = getattr(handler, "__name__", None) or type(handler).__name__
    return name.lower()

"""Lesson 02's helpers: who may bind low ports, a quick connect, a fresh TIME_WAIT."""

from __future__ import annotations

import os
import socket
import sys

__all__ = ["may_bind_low_ports", "leave_time_wait", "try_connect"]


def may_bind_low_ports() -> bool:
    """Whether this process may bind ports below 1024 (root, or a lowered Linux limit).

    >>> import socket
    >>> with socket.socket() as s:        # port 80 binds exactly when this says so
    ...     try:
    ...         s.bind(("127.0.0.1", 80))
    ...         bound = True
    ...     except PermissionError:
    ...         bound = False
    ...     except OSError:               # allowed, but something already has port 80
    ...         bound = True
    >>> bound == may_bind_low_ports()
    True
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return True
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
                return int(f.read()) <= 80
        except (OSError, ValueError):
            return False
    # macOS dropped the rule in 10.14 (Mojave); Windows never had it
    return sys.platform in ("darwin", "win32")


def try_connect(host: str, port: int, timeout: float = 1.0) -> str:
    """Connect and close at once; return ``"connected"`` or the error's class name.

    >>> import socket
    >>> with socket.create_server(("127.0.0.1", 0)) as listener:
    ...     port = listener.getsockname()[1]
    ...     try_connect("127.0.0.1", port)
    'connected'
    >>> try_connect("127.0.0.1", port)          # nothing listens there now
    'ConnectionRefusedError'
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "connected"
    except OSError as exc:
        return type(exc).__name__


def leave_time_wait(host: str = "127.0.0.1", port: int = 0) -> int:
    """Make a connection whose server side ends in TIME_WAIT; return the server's port.

    The listener sets SO_REUSEADDR (as every server should), the server closes
    first, the client closes second: the server's end of the connection then
    waits in TIME_WAIT (60 s on Linux) on that port, although nothing listens.
    Port 0 lets the system choose; given a port again, it makes a fresh TIME_WAIT
    there (SO_REUSEADDR lets the listener bind over an old one).

    >>> import socket
    >>> port = leave_time_wait()
    >>> with socket.socket() as s:     # doctest: +IGNORE_EXCEPTION_DETAIL
    ...     s.bind(("127.0.0.1", port))     # without SO_REUSEADDR the port is taken
    Traceback (most recent call last):
    OSError: [Errno 98] Address already in use
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(1)
        listener.settimeout(3)
        port = listener.getsockname()[1]
        with socket.create_connection((host, port), timeout=3) as client:
            conn, _ = listener.accept()
            conn.close()                  # the side that closes first gets TIME_WAIT
            assert client.recv(1) == b""  # the client saw the end ...
        # ... and closed too: the server's end is now in TIME_WAIT
    return port

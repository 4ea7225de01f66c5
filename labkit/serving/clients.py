"""The client side: connect with a timeout and a helpful error, and one call per protocol.

>>> from labkit import serve, echo
>>> with serve(echo) as server:
...     echo_client(server, "你好")
'欢迎访问>>>>你好\\r\\n'

Each call takes a server, a ``(host, port)`` pair or a bare port on 127.0.0.1.
"""

from __future__ import annotations

import socket
import time

from labkit.errors import FrameTooLargeError, LabTimeoutError, NotListeningError
from labkit.wire.javautf import read_utf, write_utf

__all__ = ["connect", "recv_until_eof", "echo_client", "greeting_client", "clock_client", "to_address"]


def to_address(target) -> tuple[str, int]:
    """Accept a server object, a ``(host, port)`` pair, or a bare port on 127.0.0.1.

    >>> to_address(9998)
    ('127.0.0.1', 9998)
    >>> to_address(("::1", 9998, 0, 0))
    ('::1', 9998)
    >>> to_address("9998")
    Traceback (most recent call last):
    TypeError: expected a server, a (host, port) tuple or a port number, not '9998'
    """
    if hasattr(target, "address"):
        return tuple(target.address[:2])
    if isinstance(target, int) and not isinstance(target, bool):
        return ("127.0.0.1", target)
    if isinstance(target, tuple) and len(target) >= 2:
        return (target[0], target[1])
    raise TypeError(f"expected a server, a (host, port) tuple or a port number, not {target!r}")


def connect(target, *, timeout: float = 5.0) -> socket.socket:
    """Open a TCP connection to *target*; the socket keeps *timeout* for every call.

    >>> from labkit import serve, echo
    >>> with serve(echo) as server, connect(server) as sock:
    ...     sock.sendall(b"hi")
    ...     sock.recv(1024).decode()
    '欢迎访问>>>>hi\\r\\n'

    A refused connection raises NotListeningError, which says what to check.
    """
    host, port = to_address(target)
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError as exc:
        raise NotListeningError(host, port) from exc
    except socket.timeout as exc:
        raise LabTimeoutError(
            f"connecting to {host}:{port} took longer than {timeout:g} s - "
            "is the address right, and is a firewall dropping packets?"
        ) from exc


def recv_until_eof(sock: socket.socket, *, timeout: float = 5.0, limit: int = 1 << 24) -> bytes:
    """Read until the peer closes; raise LabTimeoutError if it stays silent for *timeout* s overall.

    >>> a, b = socket.socketpair()
    >>> with a, b:
    ...     b.sendall(b"good"); b.sendall(b"bye"); b.close()
    ...     recv_until_eof(a)
    b'goodbye'
    """
    chunks, total = [], 0
    deadline = time.monotonic() + timeout
    previous = sock.gettimeout()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabTimeoutError(
                    f"the peer sent {total} bytes but did not close within {timeout:g} s")
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except socket.timeout as exc:
                raise LabTimeoutError(
                    f"the peer sent {total} bytes but did not close within {timeout:g} s") from exc
            if not data:
                return b"".join(chunks)
            chunks.append(data)
            total += len(data)
            if total > limit:
                raise FrameTooLargeError(f"the peer sent more than {limit} bytes without closing")
    finally:
        sock.settimeout(previous)


def echo_client(target, message: str, *, timeout: float = 5.0) -> str:
    """Send *message* to an echo server, close our side, and return everything it replied.

    >>> from labkit import serve, echo
    >>> with serve(echo) as server:
    ...     echo_client(server, "你好")
    '欢迎访问>>>>你好\\r\\n'
    """
    with connect(target, timeout=timeout) as sock:
        sock.sendall(message.encode("utf-8"))
        sock.shutdown(socket.SHUT_WR)  # EOF tells the server we are done
        return recv_until_eof(sock, timeout=timeout).decode("utf-8", errors="replace")


def greeting_client(target, message: str, *, timeout: float = 5.0) -> str:
    """Send *message* with Java's writeUTF and return the server's readUTF reply.

    >>> from labkit import serve, greeting
    >>> with serve(greeting) as server:
    ...     print(greeting_client(server, "你好"))      # doctest: +ELLIPSIS
    谢谢连接我:/127.0.0.1:...
    Goodbye!
    """
    with connect(target, timeout=timeout) as sock:
        write_utf(sock, message)
        return read_utf(sock, timeout=timeout)


def clock_client(target, *, timeout: float = 5.0) -> str:
    """Return what a clock server pushes before it closes.

    >>> from labkit import serve, clock
    >>> with serve(clock) as server:
    ...     clock_client(server)                        # doctest: +ELLIPSIS
    '服务端消息: ...'
    """
    with connect(target, timeout=timeout) as sock:
        return recv_until_eof(sock, timeout=timeout).decode("utf-8", errors="replace")

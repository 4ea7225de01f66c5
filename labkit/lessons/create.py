"""Exercises of lesson 01-create: make the right kind of socket, and close it.

Both checks use real sockets: the learner's TCP socket must connect to a real
TCP server, the UDP one must trade a datagram with a real UDP server, and a
socket left open is caught by the ``ResourceWarning`` Python gives when it has
to close one for you. The ping check also reads the timeout of the learner's
socket while it is in use: the echo server finds that socket among this
process's objects by its address (the check and the learner's code run in the
same process).
"""

from __future__ import annotations

import gc
import socket
import warnings

from ..exercises import NotYet, call, register
from ..protocols import ECHO_PREFIX, echo
from ..servers import TCPServer
from ..udp import UDPServer

__all__ = ["unclosed_warnings"]

_MAKE_SOCKET = '''
def make_socket(kind):
    if kind == "tcp":
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if kind == "udp":
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    raise ValueError(f"kind must be 'tcp' or 'udp', not {kind!r}")
'''

_KINDS = {"tcp": (socket.SOCK_STREAM, "TCP is a stream: SOCK_STREAM"),
          "udp": (socket.SOCK_DGRAM, "UDP sends datagrams: SOCK_DGRAM")}


def _name(value) -> str:
    return getattr(value, "name", str(value))


def _try_tcp(sock: socket.socket, server: TCPServer) -> None:
    sock.settimeout(3)
    try:
        sock.connect(server.address)
        reply = sock.recv(64)
    except OSError as exc:
        raise NotYet(f"the socket from make_socket('tcp') could not talk to a TCP server "
                     f"({type(exc).__name__}: {exc}).") from None
    if reply != b"tcp ok":
        raise NotYet(f"the TCP socket received {reply!r} instead of b'tcp ok'.")


def _try_udp(sock: socket.socket, server: UDPServer) -> None:
    sock.settimeout(3)
    try:
        sock.sendto(b"hi", server.address)
        reply = sock.recv(64)
    except OSError as exc:
        raise NotYet(f"the socket from make_socket('udp') could not trade a datagram with a "
                     f"UDP server ({type(exc).__name__}: {exc}).") from None
    if reply != b"udp ok":
        raise NotYet(f"the UDP socket received {reply!r} instead of b'udp ok'.")


@register("01-make-socket", title="A TCP socket and a UDP socket", solution=_MAKE_SOCKET, hints=[
    "Both are IPv4 sockets: the family is socket.AF_INET for both.",
    "The type is what differs: TCP is socket.SOCK_STREAM, UDP is socket.SOCK_DGRAM.",
    "Return the socket itself (no `with` here: the caller uses it, then closes it).",
])
def _check_make_socket(make_socket) -> str:
    with TCPServer(lambda conn: conn.sendall(b"tcp ok"), name="exercise-tcp", timeout=5) as tcp, \
            UDPServer(lambda data, peer: b"udp ok", name="exercise-udp", timeout=5) as udp:
        for kind, (want, why) in _KINDS.items():
            try:
                sock = call(make_socket, kind, what=f"make_socket({kind!r})")
            except NotYet as exc:
                if "'str' object cannot be interpreted as an integer" in str(exc):
                    raise NotYet(f"{exc}. socket.socket() takes numbers, the constants "
                                 "socket.AF_INET and socket.SOCK_STREAM or socket.SOCK_DGRAM, "
                                 f"not the string {kind!r}: choose the type from kind with "
                                 "an if.") from None
                raise
            if not isinstance(sock, socket.socket):
                raise NotYet(f"make_socket({kind!r}) returned {sock!r}, not a socket.socket.")
            with sock:
                if sock.fileno() == -1:
                    raise NotYet(f"make_socket({kind!r}) returned a socket that is already "
                                 "closed: return it open (no `with` inside the function).")
                if sock.family != socket.AF_INET:
                    raise NotYet(f"make_socket({kind!r}) made a socket of family "
                                 f"{_name(sock.family)}; this exercise wants IPv4, AF_INET.")
                if sock.type != want:
                    raise NotYet(f"make_socket({kind!r}) made a socket of type "
                                 f"{_name(sock.type)}; {why}.")
                (_try_tcp if kind == "tcp" else _try_udp)(sock, tcp if kind == "tcp" else udp)
    return ("your TCP socket connected to a real TCP server and your UDP socket traded a "
            "datagram with a real UDP server.")


def unclosed_warnings(fn, *args, **kwargs):
    """Call *fn* and return ``(result, messages)``: one message per socket left unclosed.

    >>> def leaky():
    ...     s = socket.socket()
    >>> unclosed_warnings(leaky)[1]
    ["unclosed <socket.socket fd=5, family=2, type=1, proto=0, laddr=('0.0.0.0', 0)>"]

    Python closes a socket you forgot when it is garbage-collected, and says so
    with a ``ResourceWarning`` (hidden by default). Here they are recorded, not
    printed, so nothing reaches stderr.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        result = fn(*args, **kwargs)
        gc.collect()
    return result, [str(w.message) for w in caught
                    if issubclass(w.category, ResourceWarning) and "socket" in str(w.message)]


_PING = '''
def ping(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(5)               # before connect: no call may wait forever
        s.connect(address)
        s.sendall(b"ping")
        return s.recv(1024)
'''


_UNSEEN = object()
_MAX_TIMEOUT = 30.0  # "a few seconds"; an hour is no protection against a silent server


def _client_timeout(address):
    """``gettimeout()`` of this process's open socket bound to *address*, else _UNSEEN."""
    for obj in gc.get_objects():
        if isinstance(obj, socket.socket) and obj.fileno() != -1:
            try:
                if obj.getsockname() == address:
                    return obj.gettimeout()
            except OSError:
                continue
    return _UNSEEN


class _NotingTimeout:
    """A server's Connection that notes the client socket's timeout when data first arrives.

    By then the client has connected and sent; it is about to wait in recv(), which is
    the call a timeout protects.
    """

    def __init__(self, conn, timeouts: list) -> None:
        self._conn, self._timeouts = conn, timeouts

    def recv(self, bufsize: int) -> bytes:
        data = self._conn.recv(bufsize)
        if data and not self._timeouts:
            self._timeouts.append(_client_timeout(self._conn.peer))
        return data

    def __getattr__(self, name):
        return getattr(self._conn, name)


def _check_timeout(timeout) -> None:
    if timeout is _UNSEEN:
        raise NotYet("the check could not find the socket ping() used, to read its timeout; "
                     "create it with socket.socket(...) inside ping().")
    if timeout is None:
        raise NotYet("ping() got the right reply, but its socket had no timeout while it "
                     "waited (gettimeout() gave None): a server that never answers would keep "
                     "recv() waiting forever. Call s.settimeout(5) before connect().")
    if timeout == 0:
        raise NotYet("ping()'s socket was non-blocking (timeout 0); give it a timeout of a "
                     "few seconds with s.settimeout(5) before connect().")
    if timeout > _MAX_TIMEOUT:
        raise NotYet(f"ping()'s socket had a timeout of {timeout:g} s; the task asks for a few "
                     f"seconds (at most {_MAX_TIMEOUT:g}), e.g. s.settimeout(5).")


@register("01-with", title="Ping, and leave nothing open", solution=_PING, hints=[
    "Start with `with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:` and put "
    "everything else inside the block.",
    "Inside the block: s.connect(address), then s.sendall(b'ping'), then "
    "return s.recv(1024). Returning from inside `with` still closes the socket.",
    "Give the socket a timeout (s.settimeout(5)) before connecting, so that nothing can "
    "wait forever.",
])
def _check_ping(ping) -> str:
    want = f"{ECHO_PREFIX}ping\r\n".encode("utf-8")
    timeouts: list = []  # the learner's socket's gettimeout(), read when its data arrived
    with TCPServer(lambda conn: echo(_NotingTimeout(conn, timeouts)), name="exercise-echo",
                   timeout=5) as server:
        try:
            reply, leaks = unclosed_warnings(call, ping, server.address, what="ping(address)")
        except NotYet as exc:
            if "Bad file descriptor" in str(exc):
                raise NotYet(f"{exc}: the socket was already closed when it was used. "
                             "Everything that uses it, recv() too, belongs inside the "
                             "`with` block.") from None
            if "bytes-like object is required, not 'str'" in str(exc):
                raise NotYet(f"{exc}. A socket sends bytes, not text: send b'ping', or "
                             "encode a str first, 'ping'.encode('utf-8').") from None
            raise
        if leaks:
            raise NotYet(f"ping() left a socket open; Python had to close it and warned: "
                         f"ResourceWarning: {leaks[0]}. Create the socket with `with`.")
        if isinstance(reply, str):
            raise NotYet(f"ping() returned the str {reply!r}; return the bytes that recv() "
                         "gave you, undecoded.")
        if reply != want:
            raise NotYet(f"ping() returned {reply!r}; the echo server answers {want!r} "
                         "to b'ping'.")
        if server.accepted < 1:
            raise NotYet("ping() must connect to the address it is given.")
    _check_timeout(timeouts[0] if timeouts else _UNSEEN)
    return ("your function connected with a timeout, sent b'ping', got the reply and closed "
            "its socket.")

"""Exercises of lesson 01-create: make the right kind of socket, and close it.

Both checks use real sockets: the learner's TCP socket must connect to a real
TCP server, the UDP one must trade a datagram with a real UDP server, and the
ping must get its reply from a real echo server.

Leaks are found by what is still open (``labkit.exercises.left_open``) at the
moment the learner's function has returned, not by the ``ResourceWarning`` the
garbage collector gives: during a check every learner's socket stays referenced.
The ping check reads the learner's socket's timeout (``gettimeout()``) when its
bytes reach the server, the moment it is about to wait in ``recv``; and in a
second round the server drops the connection with a reset, so that a ``close()``
that runs only when nothing goes wrong is caught.

The helpers these checks share with lessons 00 and 02 (``_value``, ``_watched``,
``_stuck``) are in :mod:`labkit.exercises.support`.
"""

from __future__ import annotations

import enum
import gc
import socket
import struct
import warnings

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, call, learner_sockets, left_open
from labkit.wire.protocols import ECHO_PREFIX, echo
from labkit.serving.servers import TCPServer
from labkit.serving.udp import UDPServer
from labkit.exercises.support import (_MAX_TIMEOUT, _UNSEEN, _Client, _kind, _name, _stuck,
                                      _value, _watched)

__all__ = ["unclosed_warnings"]


# -- 01-make-socket ----------------------------------------------------------------

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


def _try_tcp(sock: socket.socket, server: TCPServer) -> None:
    sock.settimeout(3)
    reply = b""
    try:
        sock.connect(server.address)
        while chunk := sock.recv(64):  # the server sends b"tcp ok" and closes
            reply += chunk
    except OSError as exc:
        raise NotYet(f"The socket from make_socket('tcp') could not talk to a TCP server "
                     f"({type(exc).__name__}: {exc}).") from None
    if reply != b"tcp ok":
        raise NotYet(f"The TCP socket received {reply!r} instead of b'tcp ok'.")


def _try_udp(sock: socket.socket, server: UDPServer) -> None:
    sock.settimeout(3)
    try:
        sock.sendto(b"hi", server.address)
        reply = sock.recv(64)
    except OSError as exc:
        raise NotYet(f"The socket from make_socket('udp') could not trade a datagram with a "
                     f"UDP server ({type(exc).__name__}: {exc}).") from None
    if reply != b"udp ok":
        raise NotYet(f"The UDP socket received {reply!r} instead of b'udp ok'.")


def _not_a_socket(what: str, value) -> NotYet:
    if value is None:
        return NotYet(f"{what} returned None: return the socket you made "
                      "(return socket.socket(...)).")
    if isinstance(value, enum.Enum):
        return NotYet(f"{what} returned socket.{value.name}, a constant, not a socket: pass "
                      "it to socket.socket(...) and return the socket that makes.")
    if isinstance(value, (tuple, list)):
        return NotYet(f"{what} returned {_value(value)}; return one socket, the kind that "
                      "was asked for.")
    return NotYet(f"{what} returned {_value(value)}, not a socket.socket.")


# The kinds in the order they are asked for: each twice, so that a socket made once
# (outside the function) and handed out again is noticed.
_ORDER = ("tcp", "udp", "udp", "tcp")


@register("01-make-socket", title="A TCP socket and a UDP socket", solution=_MAKE_SOCKET, hints=[
    "Both are IPv4 sockets: the family is socket.AF_INET for both.",
    "The type is what differs: TCP is socket.SOCK_STREAM, UDP is socket.SOCK_DGRAM.",
    "Return the socket itself (no `with` here: the caller uses it, then closes it).",
])
def _check_make_socket(make_socket) -> str:
    given: list[tuple[str, socket.socket]] = []
    with TCPServer(lambda conn: conn.sendall(b"tcp ok"), name="exercise-tcp", timeout=5) as tcp, \
            UDPServer(lambda data, peer: b"udp ok", name="exercise-udp", timeout=5) as udp:
        for kind in _ORDER:
            want, why = _KINDS[kind]
            what = f"make_socket({kind!r})"
            before = len(learner_sockets())
            try:
                sock = call(make_socket, kind, what=what)
            except NotYet as exc:
                if "'str' object cannot be interpreted as an integer" in str(exc):
                    raise NotYet(f"{exc}. socket.socket() takes numbers, the constants "
                                 "socket.AF_INET and socket.SOCK_STREAM or socket.SOCK_DGRAM, "
                                 f"not the string {kind!r}: choose the type from kind with "
                                 "an if.") from None
                raise
            if not isinstance(sock, socket.socket):
                raise _not_a_socket(what, sock)
            for earlier_kind, earlier in given:
                if sock is earlier:
                    raise NotYet(f"{what} returned the same socket object as "
                                 f"make_socket({earlier_kind!r}) did before: make a new socket "
                                 "on every call, with socket.socket(...) inside the function.")
            given.append((kind, sock))
            others = [s for s in learner_sockets()[before:] if s is not sock and s.fileno() != -1]
            if others:
                also = " and ".join(f"a {_kind(s)} socket" for s in others)
                raise NotYet(f"{what} made {len(others) + 1} sockets and returned one; it also "
                             f"left {also} open, which nobody will ever close. Make only the "
                             "socket that kind asks for.")
            with sock:
                if sock.fileno() == -1:
                    raise NotYet(f"{what} returned a socket that is already closed: return it "
                                 "open (no `with` inside the function).")
                if sock.family != socket.AF_INET:
                    raise NotYet(f"{what} made a socket of family {_name(sock.family)}; this "
                                 "exercise wants IPv4, AF_INET.")
                if sock.type != want:
                    raise NotYet(f"{what} made a socket of type {_name(sock.type)}; {why}.")
                (_try_tcp if kind == "tcp" else _try_udp)(sock, tcp if kind == "tcp" else udp)
    return ("your TCP socket connected to a real TCP server and your UDP socket traded a "
            "datagram with a real UDP server.")


# -- the lesson's ResourceWarning demonstration ----------------------------------------

def unclosed_warnings(fn, *args, **kwargs):
    """Call *fn* and return ``(result, messages)``: one message per socket left unclosed.

    >>> def leaky():
    ...     s = socket.socket()
    >>> unclosed_warnings(leaky)[1]  # doctest: +ELLIPSIS
    ["unclosed <socket.socket fd=..., family=2, type=1, proto=0, laddr=('0.0.0.0', 0)>"]

    Python closes a socket you forgot when it is garbage-collected, and says so
    with a ``ResourceWarning`` (hidden by default). Here they are recorded, not
    printed, so nothing reaches stderr. It sees nothing during an exercise check,
    which keeps every socket of the learner's referenced (and finds leaks with
    ``left_open()`` instead).
    """
    gc.collect()  # what was garbage before the call is not the call's doing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        result = fn(*args, **kwargs)
        gc.collect()
    return result, [str(w.message) for w in caught
                    if issubclass(w.category, ResourceWarning) and "socket" in str(w.message)]


# -- 01-with -----------------------------------------------------------------------

_PING = '''
def ping(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(5)               # before connect: no call may wait forever
        s.connect(address)
        s.sendall(b"ping")
        return s.recv(1024)
'''


def _check_timeout(timeout) -> None:
    if timeout is _UNSEEN:
        raise NotYet("The check could not find the socket ping() used, to read its timeout; "
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


def _reset_after_question(conn) -> None:
    """A server that vanishes: it reads the question, then drops the connection with an
    RST (SO_LINGER 0), so the client's recv() raises ConnectionResetError."""
    if conn.recv(1024):
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # the server closes the connection when the handler returns


def _outcome(fn, *args):
    """Call *fn*; return ``(value, None)`` or ``(None, exception)``: an exception is an
    answer's right reaction here, not a failure."""
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - reported to the learner
        return None, exc


_LEFT_OPEN = ("Create the socket with `with socket.socket(...) as s:` and do everything "
              "inside the block: it closes the socket however the block is left.")


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
    clients: list[_Client] = []
    with TCPServer(_watched(echo, clients), name="exercise-echo", timeout=5) as server:
        try:
            reply = call(ping, server.address, what="ping(address)")
        except NotYet as exc:
            if "Bad file descriptor" in str(exc):
                raise NotYet(f"{exc}: the socket was already closed when it was used. "
                             "Everything that uses it, recv() too, belongs inside the "
                             "`with` block.") from None
            if "bytes-like object is required, not 'str'" in str(exc):
                raise NotYet(f"{exc}. A socket sends bytes, not text: send b'ping', or "
                             "encode a str first, 'ping'.encode('utf-8').") from None
            if "did not return within" in str(exc) or "TimeoutError" in str(exc):
                stuck = _stuck("ping(address)", clients[0] if clients else None, "b'ping'",
                               "s.sendall(b'ping')")
                raise NotYet(stuck or str(exc)) from None
            if "BlockingIOError" in str(exc):
                raise NotYet(f"{exc}. A timeout of 0 makes the socket non-blocking: calls "
                             "fail at once instead of waiting. Give it a few seconds, "
                             "s.settimeout(5).") from None
            raise
        if isinstance(reply, str):
            raise NotYet(f"ping() returned the str {reply!r}; return the bytes that recv() "
                         "gave you, undecoded.")
        if reply is None:
            raise NotYet("ping() returned None: return what recv(1024) gave you "
                         "(return s.recv(1024)).")
        if reply != want:
            raise NotYet(f"ping() returned {_value(reply)}; the echo server answers {want!r} "
                         "to b'ping'.")
        if server.accepted < 1:
            raise NotYet("ping() must connect to the address it is given.")
        if left_open():
            raise NotYet("ping() returned, but its socket is still open. Python would close "
                         "it only when the socket object is garbage-collected, with a "
                         f"ResourceWarning, and until then it holds its file descriptor. "
                         f"{_LEFT_OPEN}")
    _check_timeout(clients[0].timeout if clients else _UNSEEN)

    # Round 2: the server reads b"ping", then vanishes (an RST). Raising is fine; a socket
    # that is still open afterwards is not: its close() ran only when all went well.
    with TCPServer(_reset_after_question, name="exercise-vanish", timeout=5) as server:
        _, error = call(_outcome, ping, server.address, what="ping(address)")
        if left_open():
            did = f"raised {type(error).__name__}" if error else "returned"
            raise NotYet(f"When the server dropped the connection before answering, ping() "
                         f"{did} and left its socket open: a close() at the end runs only "
                         f"when nothing before it fails. {_LEFT_OPEN}")
    return ("your function connected with a timeout, sent b'ping', got the reply and closed "
            "its socket, even when the server dropped the connection.")

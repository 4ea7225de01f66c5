"""Exercises of lesson 04-connect: trying addresses in turn, and both ends of a handshake.

The checks build their own listeners on 127.0.0.1: one that accepts, a port
that refuses (bound, never listening), and one whose backlog is full, so a
connect to it neither succeeds nor fails until its timeout. The helpers at the
bottom (`tcp_pair`, `outcome`) are shared with the other lessons' checks.
"""

from __future__ import annotations

import contextlib
import errno
import socket

from ..exercises import NotYet, call, register
from ..protocols import echo
from ..servers import TCPServer

# -- helpers shared by the checks of lessons 04-06 ---------------------------------


@contextlib.contextmanager
def tcp_pair(timeout: float = 5.0):
    """Yield ``(client, server_side)``: two ends of a real loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=timeout)
        server_side, _ = listener.accept()
    server_side.settimeout(timeout)
    try:
        yield client, server_side
    finally:
        client.close()
        server_side.close()


def outcome(fn, *args, timeout: float = 3.0, what: str | None = None):
    """Run the learner's *fn* like :func:`call`, but return ``(value, exception)``.

    For checks where raising is the right answer. Not returning in time is
    still a NotYet.
    """

    def capture(*a):
        try:
            return fn(*a), None
        except Exception as exc:  # noqa: BLE001 - the check decides what is right
            return None, exc

    what = what or f"{getattr(fn, '__name__', 'your function')}()"
    return call(capture, *args, timeout=timeout, what=what)


@contextlib.contextmanager
def refusing_port():
    """Yield a loopback address where nothing listens: bound (so no one else takes it), never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()


@contextlib.contextmanager
def full_backlog():
    """Yield the address of a listener whose accept queue is full: a connect there hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # Linux queues backlog + 1 connections, then drops SYNs
        filler = socket.create_connection(listener.getsockname(), timeout=2)
        try:
            yield listener.getsockname()
        finally:
            filler.close()
            # a connect still waiting in the learner's thread gets a refusal at its next try
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)


def _close(sock) -> None:
    if isinstance(sock, socket.socket):
        sock.close()


# -- 04-connect-first ----------------------------------------------------------

_CONNECT_FIRST = '''
def connect_first(addresses, timeout):
    last_error = None
    for address in addresses:
        try:
            return socket.create_connection(address, timeout=timeout)
        except OSError as exc:          # refused, timed out, unreachable ...
            last_error = exc
    raise last_error
'''


@register("04-connect-first", title="Try each address in turn", solution=_CONNECT_FIRST, hints=[
    "Loop over the addresses; for each one, try socket.create_connection(address, timeout=timeout) "
    "and return the socket as soon as one works.",
    "Wrap the attempt in try/except OSError: ConnectionRefusedError and TimeoutError are both "
    "OSErrors. Remember the exception and go on to the next address.",
    "If no address worked, `raise` the last exception you caught, so the caller learns why.",
])
def _check_connect_first(connect_first) -> str:
    with TCPServer(echo, name="exercise-connect", timeout=5) as server, \
            refusing_port() as closed1, refusing_port() as closed2:
        what = "connect_first([refused, refused, listening], 1.0)"
        try:
            sock = call(connect_first, [closed1, closed2, server.address], 1.0, what=what)
        except NotYet as exc:
            if "raised ConnectionRefusedError" in str(exc):
                raise NotYet(f"{exc}. The first two addresses refuse and the third listens: "
                             "when one address fails, remember the error and try the next "
                             "address before giving up.") from None
            raise
        try:
            if not isinstance(sock, socket.socket):
                raise NotYet(f"connect_first() returned {sock!r}; return the connected socket.")
            if sock.getpeername() != server.address:
                raise NotYet("The socket you returned is not connected to the one address that "
                             "listens (the third).")
        finally:
            _close(sock)
        value, error = outcome(connect_first, [closed1, closed2], 1.0,
                               what="connect_first([refused, refused], 1.0)")
        _close(value)
        if error is None:
            raise NotYet(f"When nothing listens, connect_first() returned {value!r}; raise the "
                         "last error instead, so the caller learns why it failed.")
        if not isinstance(error, ConnectionRefusedError):
            raise NotYet(f"When nothing listens, expected the last ConnectionRefusedError, got "
                         f"{type(error).__name__}: {error}.")
        with full_backlog() as hanging:
            try:
                sock = call(connect_first, [hanging, server.address], 0.3, timeout=2.5,
                            what="connect_first([never answers, listening], 0.3)")
            except NotYet as exc:
                text = str(exc)
                if "raised TimeoutError" in text:
                    raise NotYet(f"{text}. That is the timeout working: the first address never "
                                 "answers, and the connect gave up after 0.3 s. Catch "
                                 "TimeoutError too (or OSError, which covers both) and go on "
                                 "to the next address.") from None
                if "did not return" in text:
                    raise NotYet(f"{text} The first address never answers, so only a connect "
                                 "timeout gets you to the second: pass timeout=timeout to "
                                 "create_connection().") from None
                raise
            try:
                if not isinstance(sock, socket.socket) or sock.getpeername() != server.address:
                    raise NotYet("With a first address that never answers, connect_first() did not "
                                 "return a socket connected to the second one.")
            finally:
                _close(sock)
    return ("Refused addresses were skipped, a silent one was given up after its timeout, "
            "and the last error was raised when nothing listened.")


# -- 04-both-ends --------------------------------------------------------------

_BOTH_ENDS = '''
def both_ends(listener):
    client = socket.create_connection(listener.getsockname(), timeout=2)
    server_side, client_address = listener.accept()   # the kernel already did the handshake
    return client, server_side
'''


@register("04-both-ends", title="Make both ends of one connection", solution=_BOTH_ENDS, hints=[
    "Connect first: socket.create_connection(listener.getsockname(), timeout=2). It returns "
    "as soon as the kernel has done the handshake; nobody has to call accept() yet.",
    "Then listener.accept() returns a pair: a NEW socket for this connection and the client's "
    "address. Keep the socket, not the tuple.",
    "Return (client, server_side). The listener itself stays a listener.",
])
def _check_both_ends(both_ends) -> str:
    for round_ in (1, 2):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.settimeout(1.0)  # accept() before connect() fails quickly, not forever
            pair, error = outcome(both_ends, listener, what="both_ends(listener)")
            if isinstance(error, TimeoutError):
                raise NotYet("both_ends(listener) raised TimeoutError: accept() waited for a "
                             "client that never came. Connect first, then accept.")
            if isinstance(error, OSError) and error.errno == errno.ENOTCONN:
                raise NotYet(f"both_ends(listener) raised {type(error).__name__}: {error}. "
                             "Only a connected socket has a peer, and a listener is connected "
                             "to nobody, so listener.getpeername() fails. The address to "
                             "connect to is the listener's own, listener.getsockname().")
            if error is not None:
                raise NotYet(f"both_ends(listener) raised {type(error).__name__}: {error}")
            try:
                if not isinstance(pair, tuple) or len(pair) != 2:
                    raise NotYet(f"both_ends() returned {pair!r}; return a tuple "
                                 "(client, server_side).")
                client, server_side = pair
                if isinstance(server_side, tuple):
                    raise NotYet("The second item is a tuple: accept() returns (socket, address); "
                                 "return just the socket.")
                if not all(isinstance(s, socket.socket) for s in pair):
                    raise NotYet(f"both_ends() returned {pair!r}; both items must be sockets.")
                if server_side is listener or client is listener:
                    raise NotYet("You returned the listener: accept() gives a NEW socket for each "
                                 "connection, and the listener keeps listening.")
                if any(s.fileno() == -1 for s in pair):
                    raise NotYet("both_ends() returned closed sockets: a `with` block closes its "
                                 "socket when the block ends. Return them open; the caller "
                                 "closes them when it is done.")
                if client.getpeername() != server_side.getsockname() or \
                        server_side.getpeername() != client.getsockname():
                    raise NotYet("The two sockets are not the two ends of one connection: "
                                 "client.getpeername() should equal server_side.getsockname().")
                if client.getsockname() == listener.getsockname():
                    raise NotYet("The order is reversed: you returned (server_side, client). "
                                 "Return (client, server_side), the client first.")
                if server_side.getsockname() != listener.getsockname():
                    raise NotYet("The server side should have the listener's address.")
                client.settimeout(2)
                server_side.settimeout(2)
                client.sendall(b"ping %d" % round_)
                if server_side.recv(16) != b"ping %d" % round_:
                    raise NotYet("Bytes sent by the client did not arrive at the server side.")
            finally:
                if isinstance(pair, tuple):
                    for sock in pair:
                        if sock is not listener:
                            _close(sock)
    return ("Your connect() returned before accept() was called, and accept() gave a new socket "
            "whose address is the listener's and whose peer is the client.")

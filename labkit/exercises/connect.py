"""Exercises of lesson 04-connect: trying addresses in turn, and both ends of a handshake.

The checks build their own listeners on 127.0.0.1: listeners that take
connections (the kernel queues them; nobody needs to accept), a port that
refuses (bound, never listening), and one whose backlog is full, so a connect
to it neither succeeds nor fails until its timeout. They mix them in different
orders (a silent address first, two that listen), and look at what the
learner's code left open and at the timeout of every socket it made. The
helpers at the top (`tcp_pair`, `outcome`) are shared with the other lessons'
checks.
"""

from __future__ import annotations

import contextlib
import errno
import socket

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, call, describe_socket, learner_sockets, left_open
from labkit.exercises.support import _plain, _plain_error

__all__ = ["tcp_pair", "outcome", "refusing_port", "full_backlog"]

# -- helpers shared by the checks of lessons 04-06 ---------------------------------


@contextlib.contextmanager
def tcp_pair(timeout: float = 5.0):
    """Yield ``(client, server_side)``: two ends of a real loopback TCP connection.

    >>> with tcp_pair() as (client, server_side):
    ...     client.sendall(b"hi")
    ...     server_side.recv(10)
    b'hi'
    """
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

    >>> outcome(int, "42")
    (42, None)
    >>> outcome(int, "forty-two")
    (None, ValueError("invalid literal for int() with base 10: 'forty-two'"))
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
    """Yield a loopback address where nothing listens: bound (so no one else takes it),
    never listening.

    >>> import socket
    >>> with refusing_port() as address:
    ...     socket.create_connection(address, timeout=2)
    Traceback (most recent call last):
    ConnectionRefusedError: [Errno 111] Connection refused
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()


@contextlib.contextmanager
def full_backlog():
    """Yield the address of a listener whose accept queue is full: a connect there hangs.

    >>> import socket
    >>> with full_backlog() as address:      # doctest: +SKIP
    ...     socket.create_connection(address, timeout=0.5)
    Traceback (most recent call last):
    TimeoutError: timed out

    (Skipped as a test: how many connections a queue holds is the system's choice, and
    on some systems the connect is refused rather than left waiting.)
    """
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

_ORDINALS = ["first", "second", "third", "fourth", "fifth"]


def _timeouts_mistake(timeout: float, what: str, since: int) -> str | None:
    """What is wrong with the timeouts of the sockets the learner's code made since the
    *since*-th, or None."""
    for sock in learner_sockets()[since:]:
        given = sock.gettimeout()
        if given is None:
            return (f"{what} made a connect without a timeout, and a connect to an address "
                    "that never answers waits for minutes. Give every try the timeout you are "
                    "given: socket.create_connection(address, timeout=timeout), or "
                    "sock.settimeout(timeout) before sock.connect(address).")
        if abs(given - timeout) > 1e-9:
            return (f"{what} gave a connect a timeout of {given:g} s, not the {timeout:g} s it "
                    "was given: pass timeout=timeout, the caller's choice, not a time of your "
                    "own.")
    return None


def _failed_left_open(returned, what: str, since: int) -> None:
    """Raise NotYet if a socket of a failed try is still open (besides the one returned)."""
    left_open(wait=0.2)  # a learner's thread may be about to close them
    still = [s for s in learner_sockets()[since:] if s.fileno() != -1 and s is not returned]
    if still:
        many = "a socket" if len(still) == 1 else f"{len(still)} sockets"
        raise NotYet(f"{what} left {many} of the tries that failed open. Close the socket of "
                     "a failed connect before you try the next address (sock.close() in the "
                     "`except` block), or use socket.create_connection(), which does that "
                     "for you.")


def _first_works(connect_first, addresses, names, timeout, want, what) -> None:
    """connect_first(addresses, timeout) must return a socket connected to *want*."""
    since = len(learner_sockets())
    try:
        sock = call(connect_first, addresses, timeout, timeout=2.5, what=what)
    except NotYet as exc:
        text = str(exc)
        mistake = _timeouts_mistake(timeout, what, since)
        if mistake:
            raise NotYet(mistake) from None
        if "raised ConnectionRefusedError" in text:
            raise NotYet(f"{text}. The first address refuses, and a later one listens: when "
                         "one address fails, remember the error and try the next address "
                         "before giving up.") from None
        if "raised TimeoutError" in text:
            raise NotYet(f"{text}. That is the timeout working: the first address never "
                         f"answers, and the connect gave up after {timeout:g} s. Catch "
                         "TimeoutError too (or OSError, which covers both) and go on to the "
                         "next address.") from None
        raise
    try:
        if not isinstance(sock, socket.socket):
            raise NotYet(f"{what} returned {_plain(sock)}; return the connected socket.")
        try:
            peer = sock.getpeername()
        except OSError:
            raise NotYet(f"{what} returned a socket that is not connected (closed, or never "
                         "connected): return the socket whose connect worked, open.") from None
        if peer != want:
            where = names[addresses.index(peer)] if peer in addresses else "another address"
            raise NotYet(f"{what} returned a socket connected to the {where} address, but "
                         f"the {names[addresses.index(want)]} had connected already: return "
                         "the first socket that connects, as soon as it does.")
        mistake = _timeouts_mistake(timeout, what, since)
        if mistake:
            raise NotYet(mistake)
        _failed_left_open(sock, what, since)
    finally:
        _close(sock)


@register("04-connect-first", title="Try each address in turn", solution=_CONNECT_FIRST, hints=[
    "Loop over the addresses; for each one, try socket.create_connection(address, timeout=timeout) "
    "and return the socket as soon as one works.",
    "Wrap the attempt in try/except OSError: ConnectionRefusedError and TimeoutError are both "
    "OSErrors. Remember the exception and go on to the next address.",
    "If no address worked, `raise` the last exception you caught, so the caller learns why.",
])
def _check_connect_first(connect_first) -> str:
    # listeners that never accept: a connect to one works at once, the kernel queues it
    with socket.create_server(("127.0.0.1", 0)) as one, \
            socket.create_server(("127.0.0.1", 0)) as two, \
            refusing_port() as closed1, refusing_port() as closed2, \
            full_backlog() as silent:
        a, b = one.getsockname(), two.getsockname()
        _first_works(connect_first, [closed1, closed2, a], ["first", "second", "third"], 1.0, a,
                     "connect_first([refused, refused, listening], 1.0)")
        _first_works(connect_first, [silent, closed1, a, b],
                     ["first", "second", "third", "fourth"], 0.3, a,
                     "connect_first([never answers, refused, listening, listening], 0.3)")
        what = "connect_first([refused, never answers], 0.3)"
        since = len(learner_sockets())
        value, error = outcome(connect_first, [closed2, silent], 0.3, timeout=2.5, what=what)
        try:
            if error is None and isinstance(value, BaseException):
                raise NotYet(f"When no address works, {what} returned the exception "
                             f"{type(value).__name__}; `raise` it instead of returning it, so "
                             "that the caller's `except` sees it.")
            if error is None:
                raise NotYet(f"When no address works, {what} returned {_plain(value)}; raise "
                             "the last error instead, so the caller learns why it failed.")
            if isinstance(error, (UnboundLocalError, NameError)):
                raise NotYet(f"{what} raised {type(error).__name__}: {error}. Python forgets "
                             "the name of `except ... as exc:` when the except block ends: keep "
                             "the error in a variable of your own inside the block (last_error "
                             "= exc), and `raise last_error` after the loop.")
            if type(error) is ConnectionRefusedError:
                raise NotYet(f"{what} raised the first error, ConnectionRefusedError; the last "
                             "address timed out, so raise its TimeoutError: keep the error of "
                             "each failed try (last_error = exc), and raise the last one after "
                             "the loop.")
            if not isinstance(error, TimeoutError):
                raise NotYet(f"When no address works, {what} should raise the last error, "
                             f"TimeoutError; it raised {_plain_error(error)}. "
                             "Raise the exception you caught, not one of your own.")
            mistake = _timeouts_mistake(0.3, what, since)
            if mistake:
                raise NotYet(mistake)
            _failed_left_open(None, what, since)
        finally:
            _close(value)
    return ("The first listening address was returned at once, refused and silent addresses were "
            "skipped (the silent one after its timeout), no failed socket was left open, and "
            "the last error was raised when nothing worked.")


# -- 04-both-ends --------------------------------------------------------------

_BOTH_ENDS = '''
def both_ends(listener):
    client = socket.create_connection(listener.getsockname(), timeout=2)
    server_side, client_address = listener.accept()   # the kernel already did the handshake
    return client, server_side
'''


def _pair_mistake(pair, listener) -> str | None:
    """What is wrong with both_ends()'s answer *pair*, in the learner's words; None if right."""
    if isinstance(pair, socket.socket):
        return ("both_ends() returned one socket; return both ends as a pair, "
                "(client, server_side).")
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        return f"both_ends() returned {_plain(pair)}; return a pair (client, server_side)."
    client, server_side = pair
    if isinstance(client, tuple) and isinstance(server_side, tuple):
        return ("both_ends() returned two addresses; return the two sockets, "
                "(client, server_side).")
    if isinstance(server_side, tuple):
        return ("The second item is a tuple: accept() returns (socket, address); return just "
                "the socket.")
    if not all(isinstance(s, socket.socket) for s in pair):
        return f"both_ends() returned {_plain(pair)}; both items must be sockets."
    if server_side is listener or client is listener:
        return ("You returned the listener: accept() gives a NEW socket for each connection, "
                "and the listener keeps listening.")
    if listener.fileno() == -1:
        return ("both_ends() closed the listener it was given (a `with listener:` block does "
                "that): the listener belongs to the caller, and keeps listening.")
    if any(s.fileno() == -1 for s in pair):
        return ("both_ends() returned closed sockets: a `with` block closes its socket when the "
                "block ends. Return them open; the caller closes them when it is done.")
    try:
        ends = [(s.getsockname(), s.getpeername()) for s in pair]
    except OSError:
        return ("both_ends() returned a socket that is connected to nothing: return the client "
                "you connected and the socket accept() gave you.")
    (client_here, client_there), (server_here, server_there) = ends
    if client_there != server_here or server_there != client_here:
        return ("The two sockets are not the two ends of one connection: "
                "client.getpeername() should equal server_side.getsockname(). Connect once, "
                "and accept that connection.")
    if client_here == listener.getsockname():
        return ("The order is reversed: you returned (server_side, client). Return "
                "(client, server_side), the client first.")
    if server_here != listener.getsockname():
        return ("The server side is not a connection of the listener you were given: you made "
                "a listener of your own. Connect to listener.getsockname() and accept on "
                "listener.")
    return None


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
                raise NotYet(f"both_ends(listener) raised {_plain_error(error)}")
            mistake = _pair_mistake(pair, listener)
            if mistake:
                raise NotYet(mistake)
            client, server_side = pair
            for sender, receiver, name in ((client, server_side, "client"),
                                           (server_side, client, "server side")):
                sender.settimeout(2)
                receiver.settimeout(2)
                data = b"ping %d from the %s" % (round_, name.encode())
                sender.sendall(data)
                got = b""
                while len(got) < len(data):
                    piece = receiver.recv(len(data) - len(got))
                    if not piece:
                        break
                    got += piece
                if got != data:
                    raise NotYet(f"Bytes sent by the {name} did not arrive at the other end.")
            left_open(wait=0.2)
            others = [s for s in learner_sockets() if s.fileno() != -1 and s not in pair]
            if others:
                mine = "a listener of your own" if any(
                    describe_socket(s).startswith("a TCP socket listening") for s in others) \
                    else describe_socket(others[0])
                raise NotYet(f"both_ends(listener) left {mine} open besides the two sockets it "
                             "returned: close every socket you do not return (or better, make "
                             "none you do not need).")
            client.close()
            server_side.close()
    return ("Your connect() returned before accept() was called, and accept() gave a new socket "
            "whose address is the listener's and whose peer is the client.")

"""Exercises of lesson 03-listen-accept, and a way to start the seed's server.

Every check plays the clients itself against a real listener it made, hands
the listener to the learner's function, and afterwards checks that the
listener is still open and still listening. The clients are not polite: they
come before the call and during it, in pairs and after pauses, one sends
nothing, some wait for the end of the connection before they close; and the
waits differ from call to call, so that a time of one's own is found out.

03-serve-many, whose clients outnumber the backlog, is in
:mod:`labkit.exercises.listenmany`; it shares this module's listener and messages.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, call, left_open
from labkit.exercises.support import _plain

__all__ = ["make_listener"]


def make_listener(backlog: int = 5) -> socket.socket:
    """A TCP listener on 127.0.0.1 and a port the system picks.

    >>> with make_listener() as listener:
    ...     listener.getsockname()[0], listener.getsockname()[1] > 0
    ('127.0.0.1', True)
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


class _Listener(socket.socket):
    """A check's listener: counts the calls to its accept() and remembers what they returned.

    A check reads ``calls``, ``waiting`` and ``accepted`` to say how far the learner's
    function got: how many clients it accepted, and whether it waits in accept() now.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.accepted: list[socket.socket] = []
        self.waiting = 0  # calls to accept() still waiting for a client
        self.calls = 0  # calls to accept(), returned or not

    def accept(self):
        self.waiting += 1
        self.calls += 1
        try:
            conn, address = super().accept()
        finally:
            self.waiting -= 1
        self.accepted.append(conn)
        return conn, address


@contextlib.contextmanager
def _listening(backlog: int = 5):
    """A listener for a check; shut down on exit, so a learner's thread stuck in accept() wakes."""
    listener = _Listener(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(backlog)
        yield listener
    finally:
        try:
            listener.shutdown(socket.SHUT_RDWR)  # close() alone does not wake accept()
        except OSError:
            pass
        listener.close()  # what the learner's code accepted, the check closes when it ends


def _bytes_hint(text: str) -> str:
    """*text*, plus what to do when it is the error of mixing str and bytes."""
    if "bytes-like object is required, not 'str'" in text:
        return (f"{text}. Sockets send bytes: write b\"...\", or encode a str first with "
                ".encode(\"utf-8\")")
    if "can't concat str to bytes" in text or 'not "bytes") to str' in text:
        return (f"{text}. recv() gives bytes, and text in quotes is a str; they do not mix: "
                "decode what you received (data.decode(\"utf-8\")), build the reply as a "
                "str, then encode it (reply.encode(\"utf-8\")) for sendall()")
    return text


def _shown(data: bytes) -> str:
    """Bytes shown as the text they encode, so that a missing '\\r\\n' is easy to spot."""
    return repr(data.decode("utf-8", errors="backslashreplace"))


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _still_listening(listener: socket.socket, what: str) -> None:
    if listener.fileno() == -1:
        raise NotYet(f"{what} closed the listening socket: a server closes a connection "
                     "when it is done with a client, never its listener (a `with listener:` "
                     "block closes it too).")
    listener.settimeout(2)
    with socket.create_connection(listener.getsockname(), timeout=2):
        conn, _ = listener.accept()
    conn.close()  # after the client, so that no TIME_WAIT is left on the listener's port


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        data = sock.recv(4096)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def _accepted_open(listener: _Listener) -> int:
    """How many of the sockets accept() gave the learner's code are still open.

    By what is still open, not by what the garbage collector finalises: waits (up to
    1 s, see left_open) for the learner's threads to close them first.
    """
    left_open()
    return sum(1 for conn in listener.accepted if conn.fileno() != -1)


def _address_mistake(value, client: socket.socket, listener: socket.socket) -> str | None:
    """What is wrong with *value* as the client's address, in the learner's words; None if right."""
    if value == client.getsockname():
        return None
    if value == listener.getsockname():
        return ("the server's own address (getsockname() of the listener or of conn); "
                "return the client's address, the second thing accept() gives you")
    if value == client.getsockname()[1]:
        return "only the client's port; return its whole address, the pair (host, port)"
    return f"{_plain(value)}, not the client's address, the second thing accept() gives you"


# -- 03-accept ---------------------------------------------------------------------

_SERVE_ONE = '''
def serve_one(listener):
    conn, address = listener.accept()   # a NEW socket, just for this client
    with conn:
        conn.sendall(b"hello\\n")
    return address
'''


@register("03-accept", title="Accept one client on a new socket", solution=_SERVE_ONE, hints=[
    "listener.accept() waits for a client and returns two things: a new socket and the "
    "client's address.",
    "Send on the new socket, not on the listener: the listener is connected to nobody.",
    "Close the new socket when you are done (a `with` block), but leave the listener open.",
])
def _check_accept(serve_one) -> str:
    what = "serve_one(listener)"
    with _listening() as listener, \
            socket.create_connection(listener.getsockname(), timeout=3) as client:
        # no timeout on the listener: the client is already queued, and a timeout would
        # turn a send on the listener into a wait instead of an error
        try:
            address = call(serve_one, listener, what=what)
        except NotYet as exc:
            text = str(exc)
            if "did not return" in text and listener.accepted and listener.waiting:
                raise NotYet(f"{what} accepted the check's client, then called accept() "
                             "again and waits there for a second client that never comes. "
                             "The check connects one client: call accept() once.") from None
            if "did not return" in text and listener.accepted:
                raise NotYet(f"{text} The check's one client sends nothing: it only waits "
                             "for b'hello\\n' and the end of the connection.") from None
            if "Broken pipe" in text or "not connected" in text:
                raise NotYet(f"{text}. You sent on the listening socket, which is connected to "
                             "nobody: send on the socket accept() returned.") from None
            if "'tuple' object has no attribute" in text:
                raise NotYet(f"{text}. accept() returns a pair, (socket, address): unpack it "
                             "with conn, address = listener.accept().") from None
            raise NotYet(_bytes_hint(text)) from None
        if isinstance(address, socket.socket):
            raise NotYet(f"{what} returned a socket; return the client's address, the "
                         "second thing accept() gives you.")
        if isinstance(address, tuple) and address and isinstance(address[0], socket.socket):
            raise NotYet(f"{what} returned accept()'s whole pair (socket, address); return "
                         "just the address, the second item.")
        if not listener.accepted:
            raise NotYet(f"{what} returned {_plain(address)} without calling listener.accept(): "
                         "the client is still waiting in the queue.")
        if _accepted_open(listener):  # also when a thread of the learner's holds it
            client.settimeout(0.2)
            with contextlib.suppress(OSError):
                _read_all(client)  # returns if the connection was shut down
                raise NotYet(f"{what} shut down the socket that accept() returned, but left "
                             "it open: shutdown() ends the conversation, only close() gives "
                             "the socket back. Close it (conn.close(), or a `with conn:` "
                             "block).")
            raise NotYet(f"{what} left the socket that accept() returned open. Close it when "
                         "you are done (conn.close(), or a `with conn:` block): the close is "
                         "what tells the client that nothing more will come.")
        try:
            got = _read_all(client)
        except socket.timeout:
            raise NotYet(f"The client waited 3 s for {what} to send b'hello\\n' and "
                         "close the connection.") from None
        if got != b"hello\n":
            raise NotYet(f"The client received {got!r}, expected b'hello\\n'.")
        mistake = _address_mistake(address, client, listener)
        if mistake:
            raise NotYet(f"{what} returned {mistake}.")
        _still_listening(listener, "serve_one()")
    return ("You accepted on the listener, talked on the new socket and closed it, and the "
            "listener still takes clients.")


# -- 03-wait -----------------------------------------------------------------------

_WAIT_FOR_CLIENT = '''
def wait_for_client(listener, seconds):
    listener.settimeout(seconds)
    try:
        return listener.accept()
    except TimeoutError:         # also called socket.timeout
        return None
'''


def _wait_no_client(wait_for_client, listener, seconds: float) -> None:
    """No client comes: the function must return None after about *seconds*."""
    what = f"wait_for_client(listener, {seconds:g})"
    started = time.monotonic()
    try:
        result = call(wait_for_client, listener, seconds, timeout=2, what=what)
    except NotYet as exc:
        text = str(exc)
        if "raised TimeoutError" in text:
            raise NotYet(f"{text}. That is the timeout working: catch TimeoutError "
                         "(socket.timeout) and return None.") from None
        if "did not return" in text and listener.gettimeout() is None:
            raise NotYet(f"With no client coming, {what} was still waiting after 2 s: "
                         "accept() waits forever unless the listener has a timeout. Call "
                         "listener.settimeout(seconds) before accept().") from None
        if "did not return" not in text:
            raise NotYet(_bytes_hint(text)) from None
    else:
        waited = time.monotonic() - started
        if result is not None:
            raise NotYet(f"With no client at all, {what} returned {_plain(result)}; return "
                         "None itself.")
        if waited < seconds - 0.1:
            raise NotYet(f"With no client, {what} returned before {seconds:g} s had passed: "
                         "wait the whole `seconds` for a client (listener.settimeout(seconds)), "
                         "then return None.")
        if waited <= seconds + 0.5:
            return
    raise NotYet(f"With no client, {what} was still waiting after {seconds + 0.5:g} s: give "
                 "up after `seconds`, the time you are given, not after a time of your own.")


def _wait_for_one(wait_for_client, listener, *, late: bool) -> None:
    """A client that is already queued (*late* False) or comes 0.2 s after the call."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(3)
    when = "connected 0.2 s after the call" if late else "was already waiting"
    what = "wait_for_client(listener, 2)"
    timer = threading.Timer(0.2, client.connect, (listener.getsockname(),))
    result = None
    try:
        if late:
            timer.start()
        else:
            client.connect(listener.getsockname())
        started = time.monotonic()
        result = call(wait_for_client, listener, 2, timeout=4, what=what)
        waited = time.monotonic() - started
        if late:
            timer.join(3)
        if isinstance(result, socket.socket):
            raise NotYet(f"A client {when}, and {what} returned only a socket; return "
                         "accept()'s whole pair (socket, address), as it is.")
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], int):
            raise NotYet(f"A client {when}, and {what} returned only an address; return "
                         "accept()'s whole pair (socket, address), as it is.")
        if not (isinstance(result, tuple) and len(result) == 2
                and isinstance(result[0], socket.socket)):
            raise NotYet(f"A client {when}, but {what} returned {_plain(result)}; return what "
                         "accept() returns, the pair (socket, address).")
        conn = result[0]
        if conn.fileno() == -1:
            raise NotYet(f"A client {when}, and {what} returned a closed socket: a `with` "
                         "block closes its socket as the function returns. Return the pair "
                         "open; the caller closes the socket when it is done.")
        if waited > 1.5:
            raise NotYet(f"A client {when}, but {what} returned only after the whole 2 s: "
                         "accept the client as soon as it comes (accept() with a timeout "
                         "does that).")
        if conn.getpeername() != client.getsockname():
            raise NotYet(f"{what} returned a socket that is not connected to the client.")
        if result[1] != client.getsockname():
            raise NotYet(f"{what} returned a pair whose second item is not the client's "
                         "address.")
    finally:
        timer.cancel()
        client.close()
        if isinstance(result, tuple) and result and isinstance(result[0], socket.socket):
            result[0].close()


@register("03-wait", title="Wait for a client, but not forever", solution=_WAIT_FOR_CLIENT,
          hints=[
              "listener.settimeout(seconds) makes accept() give up after that long.",
              "When it gives up, accept() raises TimeoutError (socket.timeout is the same "
              "class): catch it and return None.",
              "When a client comes in time, return accept()'s pair (socket, address) as it "
              "is: the check talks to the client on that socket.",
          ])
def _check_wait(wait_for_client) -> str:
    with _listening() as listener:
        # two different waits, so that a time of one's own fails one of them
        _wait_no_client(wait_for_client, listener, 0.3)
        _wait_no_client(wait_for_client, listener, 1)
        _wait_for_one(wait_for_client, listener, late=False)
        _wait_for_one(wait_for_client, listener, late=True)
    return ("No client: None after the time you were given; a client already waiting or "
            "coming late: accepted at once.")

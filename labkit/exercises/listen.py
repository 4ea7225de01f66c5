"""Exercises of lesson 03-listen-accept, and a way to start the seed's server.

Every check plays the clients itself against a real listener it made, hands
the listener to the learner's function, and afterwards checks that the
listener is still open and still listening. The clients are not polite: they
come before the call and during it, in pairs and after pauses, one sends
nothing, some wait for the end of the connection before they close; and the
waits differ from call to call, so that a time of one's own is found out.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, _in_thread, call, describe_socket, left_open
from labkit.wire.protocols import ECHO_PREFIX

__all__ = ["make_listener"]


def make_listener(backlog: int = 5) -> socket.socket:
    """A TCP listener on 127.0.0.1 and a port the system picks."""
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


_EPHEMERAL = re.compile(r"(?<!\d)(?:3276[89]|327[7-9]\d|32[89]\d\d|3[3-9]\d{3}|[45]\d{4}"
                        r"|6[0-4]\d{3}|65[0-4]\d\d|655[0-2]\d|6553[0-5])(?!\d)")


def _plain(value) -> str:
    """*value* as a learner would read it, without what changes from run to run.

    Sockets are described in words, ports the system picked read PORT, object ids
    are left out and a long repr is cut: a "not yet" message must be the same on
    every run.
    """
    if isinstance(value, socket.socket):
        return f"<{describe_socket(value)}>"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_plain(item) for item in value[:4]) + (", ..." if len(value) > 4 else "")
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return _cut(repr(value))


def _plain_error(exc: BaseException) -> str:
    """An exception as a traceback's last line shows it, told like :func:`_plain`."""
    return _cut(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def _cut(text: str) -> str:
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", _EPHEMERAL.sub("PORT", text))
    return text if len(text) <= 80 else text[:77] + "..."


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


# -- 03-serve-many -----------------------------------------------------------------

_SERVE = '''
def serve(listener, n):
    for _ in range(n):                  # one accept() per client
        conn, address = listener.accept()
        with conn:
            data = conn.recv(1024)
            reply = "欢迎访问>>>>" + data.decode("utf-8") + "\\r\\n"
            conn.sendall(reply.encode("utf-8"))
'''

# How the check's clients come, in waves: (pause before the wave, its clients), and per
# client (what it sends, seconds it waits before sending, whether it then half-closes).
# A client that sends "" sends nothing at all. The first wave connects before serve() is
# called, so two clients are queued on a backlog of 1; between waves, serve() waits in
# accept() with nobody there. Clients that do not half-close wait for the reply and the
# end of the connection before they close, as the seed's client does.
_FIVE_CLIENTS = [
    (0.0, [("你好 1", 0.0, False), ("你好 2", 0.15, True)]),
    (0.2, [("", 0.05, True), ("你好 4", 0.0, False)]),  # client 4 speaks before client 3
    (0.1, [("你好 5", 0.05, True)]),
]
_THREE_CLIENTS = [(0.0, [("你好 1", 0.0, False)]), (0.05, [("你好 2", 0.0, True)]),
                  (0.05, [("你好 3", 0.0, False)])]


class _Client:
    """One of the check's clients. It connects in the caller's thread, so the clients arrive
    in a fixed order, then talks in a thread of its own: sends, reads the reply until the
    end of the connection, and gives up after 2 s, or soon after serve() has ended."""

    def __init__(self, number: int, address, text: str, send_after: float, half_close: bool):
        self.number, self.text = number, text
        self.send_after, self.half_close = send_after, half_close
        self.got, self.eof, self.error = b"", False, None
        self.server_was = None  # where serve() was when this client gave up waiting
        self.gave_up_at = None
        self.sock = socket.create_connection(address, timeout=2)

    def wanted(self) -> tuple[bytes, ...]:
        reply = f"{ECHO_PREFIX}{self.text}\r\n".encode("utf-8")
        return (reply, b"") if not self.text else (reply,)  # nothing sent: no reply is fine

    def ok(self) -> bool:
        return self.error is None and self.eof and self.got in self.wanted()

    def start(self, give_up: threading.Event, state) -> threading.Thread:
        thread = threading.Thread(target=self._talk, args=(give_up, state), daemon=True,
                                  name=f"labkit-check-client-{self.number}")
        thread.start()
        return thread

    def _talk(self, give_up: threading.Event, state) -> None:
        try:
            with self.sock:
                give_up.wait(self.send_after)
                if self.text:
                    self.sock.sendall(self.text.encode("utf-8"))
                if self.half_close:
                    self.sock.shutdown(socket.SHUT_WR)
                self.sock.settimeout(0.05)
                deadline = time.monotonic() + 2
                while True:
                    try:
                        data = self.sock.recv(4096)
                    except socket.timeout:
                        if give_up.is_set() or time.monotonic() > deadline:
                            self.server_was, self.gave_up_at = state(), time.monotonic()
                            return
                        continue
                    if not data:
                        self.eof = True
                        return
                    self.got += data
        except OSError as exc:
            self.error = exc


def _clients_left(first: int, n: int) -> str:
    if first == n:
        return f"client {n} was"
    return f"clients {first} and {n} were" if first == n - 1 else f"clients {first} to {n} were"


def _returned_early(what: str, n: int, accepted: int, clients: list) -> str:
    times = {0: "without calling accept()", 1: "after accepting 1 client"}.get(
        accepted, f"after accepting {accepted} clients")
    why = ""
    if accepted and not clients[accepted - 1].text:
        why = (f" Client {accepted} sent nothing and closed its side: recv() gave b'' for "
               "it, and that is no reason to stop serving the others.")
    return (f"{what} returned {times}, so {_clients_left(accepted + 1, n)} never accepted."
            f"{why} Call accept() once for every client: loop n times.")


_NO_END = {  # the right reply came, the end of the connection did not; by where serve() was
    "accept": "your function went on to accept() the next client without closing this "
              "one's socket. Close each client's socket when you are done with it "
              "(conn.close(), or a `with conn:` block)",
    "busy": "your function still held its socket, waiting (in recv()?) for more. Read one "
            "message with one recv(1024), reply, then close the socket: this client waits "
            "for your close before it leaves",
    "returned": "your function returned without closing its socket. Close each client's "
                "socket when you are done with it (conn.close(), or a `with conn:` block)",
}
_NO_REPLY = {  # no reply came at all
    "accept": "your function went on to accept() the next client without answering it",
    "busy": "your function still held its socket, waiting (in recv()?) for more. Read one "
            "message with one recv(1024) and reply at once: this client waits for your "
            "reply before it closes",
    "returned": "your function returned without answering it",
}


def _client_mistake(client: _Client, clients: list, n: int, what: str) -> str | None:
    """What went wrong for *client*, in the learner's words; None if it was served."""
    if client.ok():
        return None
    who = f"Client {client.number} of {n}"
    if client.error is not None:
        return f"{who} failed: {type(client.error).__name__}: {client.error}"
    sent = f"sent {client.text!r}" if client.text else "sent nothing"
    if client.eof and not client.got:
        return (f"{who} {sent}, and the connection ended without a reply: reply "
                f"{_shown(client.wanted()[0])} before you close")
    if client.got not in client.wanted() and (client.eof or not client.wanted()[0].startswith(
            client.got)):
        return (f"{who} {sent} and received {_shown(client.got)}; expected "
                f"{_shown(client.wanted()[0])}, then the end of the connection")
    accepted, doing = client.server_was
    if accepted < client.number:
        if doing == "returned":
            return _returned_early(what, n, accepted, clients)
        return (f"{who} {sent} and waited for a reply in vain: your function accepted "
                f"{accepted} client(s), then did not call accept() again")
    if client.got == client.wanted()[0]:
        return (f"{who} received its reply, then waited for the end of the connection: "
                f"{_NO_END[doing]}")
    if client.got:
        return (f"{who} {sent} and received only {_shown(client.got)} of "
                f"{_shown(client.wanted()[0])}, then waited in vain for the rest")
    return f"{who} {sent} and waited for a reply in vain: {_NO_REPLY[doing]}"


def _play(serve, n: int, plan, listener: _Listener):
    """Start serve(listener, n) and play the clients of *plan* against it, wave by wave,
    until one is not served. Returns (serve's thread, its result box, the time it ended or
    inf, the clients that came)."""
    address = listener.getsockname()
    give_up = threading.Event()
    thread, box = None, {}
    ended = [float("inf")]

    def timed(*args):
        try:
            return serve(*args)
        finally:
            ended[0] = time.monotonic()

    def state():  # where serve() is now: how many it accepted, and what it does
        if not thread.is_alive():
            return len(listener.accepted), "returned"
        return len(listener.accepted), "accept" if listener.waiting else "busy"

    clients: list[_Client] = []
    for wave, (pause, specs) in enumerate(plan):
        if wave:
            time.sleep(pause)  # serve() waits in accept() with nobody there
            if not thread.is_alive():
                break  # it has ended: nobody would accept the rest
        batch = [_Client(len(clients) + i, address, *spec) for i, spec in enumerate(specs, 1)]
        if thread is None:  # the first wave is queued before serve() is called
            thread, box = _in_thread(timed, listener, n)
        talkers = [client.start(give_up, state) for client in batch]
        clients += batch
        while any(t.is_alive() for t in talkers):
            for t in talkers:
                t.join(0.05)
            if time.monotonic() - ended[0] > 0.3:
                give_up.set()  # what it sent before it ended has long arrived
        if not all(client.ok() for client in batch):
            break
    give_up.set()
    if len(clients) == n and all(client.ok() for client in clients):
        deadline = time.monotonic() + 1
        while thread.is_alive() and listener.calls <= n and time.monotonic() < deadline:
            thread.join(0.02)  # it returns, or calls accept() once more, at once
    return thread, box, ended[0], clients


def _serve_round(serve, n: int, plan) -> None:
    """Run serve(listener, n) against the clients of *plan* on a listener with backlog 1."""
    what = f"serve(listener, {n})"
    with _listening(backlog=1) as listener:
        thread, box, ended, clients = _play(serve, n, plan, listener)
        served = len(clients) == n and all(client.ok() for client in clients)
        if served and listener.calls > n:  # a `while True:` loop, stopped by a timeout or not
            raise NotYet(f"{what} served its {n} clients, then called accept() a "
                         f"{_ordinal(n + 1)} time, waiting for a client that never comes: "
                         "serve must return after n clients. "
                         + ("Loop `for _ in range(n):`, not `while True:`." if n == 5 else
                            "Use the n you are given, `for _ in range(n):`, not a number of "
                            "your own."))
        error = box.get("error")
        first_gave_up = min((c.gave_up_at for c in clients if c.gave_up_at), default=None)
        if isinstance(error, ConnectionError) and first_gave_up is not None \
                and ended > first_gave_up:
            error = None  # it came from a client that had given up: the client says more
        if error is not None:  # the function's own error says more than the clients' view
            text = _bytes_hint(f"{what} raised {type(error).__name__}: {error}")
            if isinstance(error, BrokenPipeError):
                text += (". You sent on the listening socket, which is connected to nobody: "
                         "send on the socket accept() returned")
            elif isinstance(error, BlockingIOError):
                text += (". A non-blocking listener's accept() does not wait for the next "
                         "client: leave the listener blocking")
            elif isinstance(error, TimeoutError):
                text += (". A timeout of yours ran out while your function waited for the "
                         "next client; the check's clients come with short pauses between "
                         "them")
            raise NotYet(text)
        for client in clients:
            mistake = _client_mistake(client, clients, n, what)
            if mistake:
                raise NotYet(mistake)
        if len(clients) < n:  # it returned before the later clients came
            raise NotYet(_returned_early(what, n, len(listener.accepted), clients))
        if thread.is_alive():
            raise NotYet(f"All {n} clients were served, but {what} did not return: it must "
                         "return after its n clients.")
        if _accepted_open(listener):
            raise NotYet(f"{what} returned, but left sockets that accept() returned open: "
                         "close each client's socket when you are done with it "
                         "(conn.close(), or a `with conn:` block), not only shut it down.")
        _still_listening(listener, what)


@register("03-serve-many", title="More clients than the backlog", solution=_SERVE, hints=[
    "The backlog only limits how many clients may wait, already connected, for accept(). "
    "Once accepted, a client no longer counts.",
    "Call listener.accept() once per client, in a loop that runs n times, then return.",
    "For each client: recv(1024), reply '欢迎访问>>>>' + text + '\\r\\n' (encoded to UTF-8), "
    "then close that client's socket so it sees the end.",
])
def _check_serve(serve) -> str:
    _serve_round(serve, 5, _FIVE_CLIENTS)
    _serve_round(serve, 3, _THREE_CLIENTS)
    return ("5 clients served, then 3, one after another, by a listener whose backlog is 1: "
            "the backlog is not a limit on clients.")

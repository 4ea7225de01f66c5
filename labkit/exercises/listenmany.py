"""Exercise 03-serve-many of lesson 03-listen-accept: more clients than the backlog.

The check's clients come in waves to a listener whose backlog is 1: the first wave is
queued before ``serve()`` is called, later ones after pauses in which it waits in
``accept()`` with nobody there. Each client talks in a thread of its own; when one is
not served, the check says where ``serve()`` was at that moment (in ``accept()``, busy
with a client, or returned). The listener and the messages are those of
:mod:`labkit.exercises.listen`.
"""

from __future__ import annotations

import socket
import threading
import time

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, _in_thread
from labkit.wire.protocols import ECHO_PREFIX
from labkit.exercises.listen import (_Listener, _accepted_open, _bytes_hint, _listening,
                                     _ordinal, _shown, _still_listening)

__all__: list[str] = []  # its check registers itself; exercise() finds it by name


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

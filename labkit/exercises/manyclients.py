"""Exercises of lesson 07-many-clients: serve two clients who speak when they like.

The check is a small conformance test: it binds a listener, hands it to the
learner's ``serve_two(listener)`` running in a thread, then really connects two
clients. They do not take turns: client 2 speaks first, one client speaks
several times in a row while the other is silent, and both speak at once, in an
order drawn from ``random.Random(SEED)`` (so the same on every run). Then one
client leaves and the other speaks on. Each client waits for its reply before
it speaks again, so every ``recv`` of the server's gets one whole message.

What a wrong server does, and how the check tells:

- the seed's, one client at a time: client 2 gets no reply, and no socket of
  the learner's is connected to it (the check looks at ``learner_sockets()``);
- a "lockstep" server that accepts both, then alternates ``recv`` on client 1,
  client 2, client 1 ...: client 2 gets no reply although it was accepted, while
  client 1 is silent;
- one that returns while a client is connected (threads never joined), or never
  returns after both have left;
- one that leaves the connections open after returning (``left_open()``).
"""

from __future__ import annotations

import random
import socket
import time

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, _in_thread, learner_sockets, left_open
from labkit.wire.protocols import ECHO_PREFIX

__all__ = ["script"]

_SOLUTION = '''
def serve_two(listener):
    def handle(conn):
        with conn:
            while data := conn.recv(1024):
                reply = "欢迎访问>>>>" + data.decode("utf-8") + "\\r\\n"
                conn.sendall(reply.encode("utf-8"))
    threads = []
    for _ in range(2):
        conn, addr = listener.accept()
        thread = threading.Thread(target=handle, args=(conn,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
'''

SEED = 7
REPLY_WAIT = 1.0  # s a client waits for its reply
_WORDS = ["你好", "hello", "再见", "still here", "谢谢", "one more", "again", "ça va"]


def script(rng: random.Random) -> tuple[list[tuple[int, ...]], int]:
    """Who speaks at each step while both clients are connected, and who leaves first.

    A step is the clients that speak at once: ``(2,)`` alone, ``(1, 2)`` both. Client 2
    always speaks first; then, in the order *rng* picks, a run of two or three by each
    client while the other is silent, both at once (twice), and single turns.

    >>> import random
    >>> steps, leaver = script(random.Random(7))
    >>> steps[0], (1, 2) in steps, (2, 1) in steps, leaver in (1, 2)
    ((2,), True, True, True)
    """
    parts = [[(1,)] * rng.randint(2, 3), [(2,)] * rng.randint(2, 3), [(1, 2)], [(2, 1)],
             [(1,)], [(2,)]]
    rng.shuffle(parts)
    return [(2,)] + [step for part in parts for step in part], rng.choice((1, 2))


def _text(n: int, who: int) -> str:
    return f"{_WORDS[n % len(_WORDS)]}, from {who} (#{n})"


def _want(text: str) -> bytes:
    return f"{ECHO_PREFIX}{text}\r\n".encode("utf-8")


def _reply(sock: socket.socket, want: bytes, timeout: float) -> tuple[bytes, bool]:
    """What arrives within *timeout* s, up to len(want) bytes, and whether the server
    closed this connection (end of stream, or a reset)."""
    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < len(want):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data = sock.recv(len(want) - len(got))
        except socket.timeout:
            break
        except OSError:  # reset: the server closed this connection
            return got, True
        if not data:
            return got, True
        got += data
    return got, False


def _accepted(client: socket.socket) -> bool:
    """Is one of the learner's open sockets the server's end of *client*'s connection?"""
    name = client.getsockname()
    for sock in learner_sockets():
        try:
            if sock.getpeername() == name:
                return True
        except OSError:  # closed, or not connected
            pass
    return False


_AT_ONCE = ("Clients speak when they like: give each client its own thread, or use "
            "selectors and recv only from a socket that has data.")


def _no_reply(clients, who: int, text: str, step: tuple[int, ...], first: bool) -> NotYet:
    other = 3 - who
    said = f"client {who} sent {text!r}" + (" first, before client 1 had said anything,"
                                           if first else "")
    said_ = said[:1].upper() + said[1:]  # at the start of the message
    if other not in clients:
        return NotYet(f"After client {other} left, {said} and got no reply: keep serving the "
                      "other client until it leaves too (recv() returns b'' for each client "
                      "that has gone).")
    if not _accepted(clients[who]):
        return NotYet(f"{said_} and got no reply: your server had not accepted client {who}; it "
                      f"was still serving client {other}, one client at a time, as the seed's "
                      "server does. Accept both and serve them at once (a thread per client, "
                      "or selectors).")
    if other not in step:
        return NotYet(f"{said_} and waited in vain while client {other} was silent: your server "
                      f"accepted both clients, but was waiting in recv() for client {other}, and "
                      f"client {who} waited with it. {_AT_ONCE}")
    return NotYet(f"{said_} while client {other} was sending too, and got no reply within "
                  f"{REPLY_WAIT:g} s. {_AT_ONCE}")


def _closed_early(clients, who: int, text: str) -> NotYet:
    other = 3 - who
    if other not in clients:
        return NotYet(f"After client {other} left, client {who} sent {text!r}, but your server "
                      f"had closed client {who}'s connection too. Keep serving the other client "
                      "until it leaves as well: end only the loop of the client whose recv() "
                      "returned b''.")
    return NotYet(f"Client {who} sent {text!r}, but your server had closed its connection. Keep "
                  "serving each client until it leaves: loop on recv() until it returns b'', "
                  "and close the connection only then.")


def _step(clients, step: tuple[int, ...], n: int, first: bool = False) -> int:
    """The clients in *step* each send a message at once, then each reads its reply."""
    texts = {}
    for who in step:
        texts[who] = _text(n, who)
        n += 1
        try:
            clients[who].sendall(texts[who].encode("utf-8"))
        except OSError:
            raise _closed_early(clients, who, texts[who]) from None
    for who in step:
        want = _want(texts[who])
        got, closed = _reply(clients[who], want, REPLY_WAIT)
        if got == want:
            continue
        if not got and closed:
            raise _closed_early(clients, who, texts[who])
        if not got:
            raise _no_reply(clients, who, texts[who], step, first)
        others = [_want(t) for w, t in texts.items() if w != who]
        if others and got == others[0]:
            raise NotYet(f"Client {who} got the reply meant for client {3 - who}: your server "
                         "answered on the wrong connection. Reply on the socket the message "
                         "came from.")
        raise NotYet(f"Client {who} sent {texts[who]!r} and got "
                     f"{got.decode('utf-8', 'replace')!r}; expected {want.decode('utf-8')!r}.")
    return n


def _returned_early(thread, box) -> None:
    """Both clients are still connected: serve_two must still be running."""
    thread.join(0.05)
    if not thread.is_alive() and "error" not in box:
        raise NotYet("serve_two(listener) returned while both clients were still connected. "
                     "Return only when both clients have left: if you started a thread per "
                     "client, join() both threads before returning.")


def _converse(listener, clients, steps) -> None:
    """Connect both clients, then go through *steps* while both stay connected."""
    for who in (1, 2):
        clients[who] = socket.create_connection(listener.getsockname(), timeout=2)
    n = _step(clients, steps[0], 1, first=True)
    for step in steps[1:]:
        n = _step(clients, step, n)


def _leave(clients, leaver: int) -> None:
    """*leaver* leaves; the other speaks twice more."""
    clients.pop(leaver).close()
    time.sleep(0.2)  # let the server see the client leave before the other speaks again
    n = 90
    for _ in range(2):
        n = _step(clients, (3 - leaver,), n)


def _still_open() -> None:
    """serve_two has returned: every connection it accepted must be closed."""
    still = [s for s in left_open(wait=0.5) if s.startswith("a TCP socket connected")]
    if still:
        what = ("the connection to one client was" if len(still) == 1 else
                "the connections to both clients were")
        raise NotYet(f"serve_two(listener) returned, but {what} still open. A connection you "
                     "accept is yours to close: put each client's loop in `with conn:`, so that "
                     "it closes when recv() returns b'' (the client has left).")


@register("07-two-clients", title="Serve two clients who speak when they like",
          solution=_SOLUTION, hints=[
              "The seed's server accepts one client and talks to it until it leaves; only then "
              "could it accept another. Here both are connected at once and speak in any "
              "order: client 2 may speak first, or one client several times in a row.",
              "Give each client its own thread: accept, start a thread running the seed's loop "
              "on that connection, accept the second, start another thread. Then join both "
              "threads.",
              "Or, without threads: register both connections with a "
              "selectors.DefaultSelector and answer whichever socket is readable.",
              "Return only when both clients have left (recv() returned b'' on each), and close "
              "each connection when its client leaves (`with conn:`).",
          ])
def _check_two(serve_two) -> str:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)  # a server that waits for a third client gives up in the end
    clients: dict[int, socket.socket] = {}
    steps, leaver = script(random.Random(SEED))
    thread, box = _in_thread(serve_two, listener)
    try:
        try:
            _converse(listener, clients, steps)
            _returned_early(thread, box)
            _leave(clients, leaver)
        except NotYet:
            thread.join(0.1)
            if "error" not in box:
                raise
        for sock in clients.values():
            sock.close()
        thread.join(2)
        if "error" in box:
            exc = box["error"]
            raise NotYet(f"serve_two(listener) raised {type(exc).__name__}: {exc}")
        if thread.is_alive() and not left_open(wait=0):
            raise NotYet("serve_two(listener) did not return within 2 s after both clients "
                         "had left, though both connections were closed: is it waiting in "
                         "accept() for a third client? Accept two, then return once both "
                         "have left.")
        if thread.is_alive():
            raise NotYet("serve_two(listener) did not return within 2 s after both clients "
                         "had left. When recv() returns b'', that client has gone: end its "
                         "loop, and return once both have.")
        _still_open()
    finally:
        for sock in clients.values():
            sock.close()
        listener.close()
        # a moment for the learner's threads to see the clients leave and close their ends,
        # before the check closes whatever is left under them
        left_open(wait=1.0)
    return ("two clients connected at once and spoke in an order you could not plan for: "
            "client 2 first, one several times while the other was silent, both at once. "
            "Each got its own replies, the other was still served after one had left, and "
            "every connection was closed.")

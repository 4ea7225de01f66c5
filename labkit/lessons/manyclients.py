"""Exercises of lesson 07-many-clients: serve two clients whose messages interleave.

The check is a small conformance test: it binds a listener, hands it to the
learner's ``serve_two(listener)`` running in a thread, then really connects two
clients and talks to them in turn - 1, 2, 1, 2 - while both stay connected,
then lets client 1 leave and talks to client 2 once more. A server that serves
one client at a time (the seed's) leaves client 2 without an answer; one that
returns while client 2 is still connected (threads started but never joined)
has not served "until both have left".
"""

from __future__ import annotations

import socket
import time

from ..exercises import NotYet, _in_thread, register
from ..protocols import ECHO_PREFIX

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

# (client, text): the order in which the check talks; client 1 leaves before the last line
_SCRIPT = [(1, "你好, I am client 1"), (2, "hello, I am client 2"),
           (1, "再见 from 1"), (2, "still here, 2")]
_LAST = (2, "client 1 has gone; 2 again")


def _reply(sock: socket.socket, want: bytes, timeout: float) -> bytes | None:
    """What arrives within *timeout* s, up to len(want) bytes; None if nothing came."""
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
            break
        if not data:
            break
        got += data
    return got or None


def _talk(clients, who: int, text: str, others_open: bool) -> None:
    want = f"{ECHO_PREFIX}{text}\r\n".encode("utf-8")
    try:
        clients[who].sendall(text.encode("utf-8"))
    except OSError as exc:
        raise NotYet(f"client {who} could not send: {type(exc).__name__}: {exc}. "
                     "Did your server close its connection early?") from None
    got = _reply(clients[who], want, timeout=1.0)
    if got is None:
        if who == 2 and others_open:
            raise NotYet("client 2 got no reply while client 1 was still connected: your "
                         "server serves one client at a time, as the seed's does. Accept "
                         "both and serve them at once (a thread per client, or selectors).")
        if who == 2:
            raise NotYet("after client 1 left, client 2 got no reply: keep serving the other "
                         "client until it leaves too (recv() returns b'' for each client that "
                         "has gone).")
        raise NotYet(f"client {who} sent {text!r} and got no reply within 1 s (or the "
                     "connection was closed).")
    if got != want:
        raise NotYet(f"client {who} sent {text!r} and got {got.decode('utf-8', 'replace')!r}; "
                     f"expected {want.decode('utf-8')!r}.")


def _converse(listener, clients) -> None:
    """Connect two clients, talk 1, 2, 1, 2, let client 1 leave, talk to 2 again."""
    for who in (1, 2):
        clients[who] = socket.create_connection(listener.getsockname(), timeout=2)
    for who, text in _SCRIPT:
        _talk(clients, who, text, others_open=True)
    clients[1].close()
    time.sleep(0.2)  # let the server see client 1 leave before client 2 speaks again
    _talk(clients, *_LAST, others_open=False)


def _returned_early(thread, box) -> None:
    """Client 2 is still connected: serve_two must still be running."""
    thread.join(0.05)
    if not thread.is_alive() and "error" not in box:
        raise NotYet("serve_two(listener) returned while client 2 was still connected. "
                     "Return only when both clients have left: if you started a thread per "
                     "client, join() both threads before returning.")


@register("07-two-clients", title="Serve two interleaved clients", solution=_SOLUTION, hints=[
    "The seed's server accepts one client and talks to it until it leaves; only then could "
    "it accept another. Here both are connected at once and take turns.",
    "Give each client its own thread: accept, start a thread running the seed's loop on "
    "that connection, accept the second, start another thread. Then join both threads.",
    "Or, without threads: make the sockets non-blocking and register them with a "
    "selectors.DefaultSelector; answer whichever socket is readable.",
    "Return only when both clients have left (recv() returned b'' on each).",
])
def _check_two(serve_two) -> str:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)  # a server that waits for a third client gives up in the end
    clients: dict[int, socket.socket] = {}
    thread, box = _in_thread(serve_two, listener)
    try:
        try:
            _converse(listener, clients)
            _returned_early(thread, box)
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
        if thread.is_alive():
            raise NotYet("serve_two(listener) did not return within 2 s after both clients "
                         "had left. After two clients it should stop.")
    finally:
        for sock in clients.values():
            sock.close()
        listener.close()
    return ("two clients connected at once and took turns; each got its own replies, and "
            "the second was still served after the first had left.")

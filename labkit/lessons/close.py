"""Lesson 06-close: its two helpers (pair, states) and its exercises.

Exercises: read until the peer closes; finish sending, then read.

The peers here close for real: ``b''`` from ``recv`` is the only signal that
the other side has finished, and a server that answers only after the end of
the request is waiting for exactly that.
"""

from __future__ import annotations

import os
import socket

from ..exercises import NotYet, register
from ..kernelview import net_connections
from ..peers import AdversarialPeer
from ..servers import TCPServer
from .connect import outcome, tcp_pair
from .sendrecv import PAUSE, _in_background, _send_then_finish

__all__ = ["pair", "states"]

_client_ports: set[int] = set()  # the client ends pair() made: they name our connections


def pair():
    """Both ends of one new TCP connection on 127.0.0.1: ``(listener, client, server_side)``.

    >>> listener, client, server_side = pair()
    """
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname(), timeout=5)
    _client_ports.add(client.getsockname()[1])
    server_side, _ = listener.accept()
    server_side.settimeout(5)
    return listener, client, server_side


def states(port: int) -> list[tuple[str, str]]:
    """The state of each end of this kernel's connections to *port*, from the system's table.

    >>> states(listener.getsockname()[1])
    [('client', 'ESTABLISHED'), ('server', 'ESTABLISHED'), ('server', 'LISTEN')]

    Only our own connections count: the listener, and connections whose client end
    pair() made or this kernel still holds. On a shared machine the table also holds
    other programs' connections that closed a moment ago (in TIME_WAIT) to a port that
    had the same number then; those are left out.
    """
    table = net_connections("tcp")
    me = os.getpid()
    clients = _client_ports | {c.laddr.port for c in table  # no pid field: our own (fallback)
                               if getattr(c, "pid", me) == me and c.raddr and c.raddr.port == port}
    rows = []
    for c in table:
        if c.laddr.port == port and (not c.raddr or c.raddr.port in clients):
            rows.append(("server", c.status))
        elif c.raddr and c.raddr.port == port and c.laddr.port in clients:
            rows.append(("client", c.status))
    return sorted(rows)


# -- 06-read-all ---------------------------------------------------------------

_READ_ALL = '''
def read_all(sock):
    chunks = []
    while True:
        data = sock.recv(1024)
        if data == b"":        # bytes, not '': the peer has closed its side
            break
        chunks.append(data)
    return b"".join(chunks)
'''


@register("06-read-all", title="Read until the peer closes", solution=_READ_ALL, hints=[
    "One recv() returns only what has arrived so far. Loop, keeping every chunk.",
    "When the peer has closed its side, recv() returns b'' (empty bytes), at once and for "
    "ever. That is the end: leave the loop.",
    "b'' == '' is False in Python 3: compare with b'', or just test `if not data:`.",
])
def _check_read_all(read_all) -> str:
    message = "服务端消息: 2026-01-01 12:00:00".encode()
    with tcp_pair() as (client, server_side):
        peer = AdversarialPeer(client, seed=6, max_piece=6, pause=PAUSE)
        sender = _in_background(_send_then_finish, client, lambda: peer.sendall(message))
        try:
            value, error = outcome(read_all, server_side, timeout=2, what="read_all(sock)")
        except NotYet as exc:
            raise NotYet(f"{exc} The peer had sent everything and closed its side. At the end "
                         "recv() returns b'' (empty bytes), and b'' == '' is False.") from None
        sender.join(2)
    if error is not None:
        raise NotYet(f"read_all(sock) raised {type(error).__name__}: {error}")
    if value != message:
        got = f"{len(value)} of the" if isinstance(value, bytes) and message.startswith(value) \
            else f"{value!r}, not the"
        raise NotYet(f"read_all(sock) returned {got} {len(message)} bytes the peer sent in "
                     f"{len(peer.pieces_sent)} pieces. Keep reading until recv() returns b''.")
    with tcp_pair() as (client, server_side):
        client.shutdown(socket.SHUT_WR)
        value, error = outcome(read_all, server_side, timeout=2, what="read_all(sock)")
    if error is not None or value != b"":
        got = f"raised {type(error).__name__}" if error else f"returned {value!r}"
        raise NotYet(f"The peer closed without sending anything and read_all(sock) {got}; "
                     "expected b''.")
    return (f"All {len(message)} bytes came back from {len(peer.pieces_sent)} pieces, and "
            "a peer that sent nothing gave b''.")


# -- 06-ask --------------------------------------------------------------------


def answer_at_eof(conn) -> None:
    """A server that reads the whole request (until EOF), then answers in pieces and closes."""
    request = bytearray()
    while chunk := conn.recv(4096):
        request += chunk
    reply = "收到 ".encode() + bytes(request) + f" ({len(request)} bytes)".encode()
    AdversarialPeer(conn.sock, seed=len(request), max_piece=5, pause=PAUSE).sendall(reply)
    conn.log("sent", f"{len(reply)} bytes in pieces")


_ASK = '''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)     # "that was all": the server sees b''
        chunks = []
        while data := sock.recv(1024):    # the server closes after answering
            chunks.append(data)
        return b"".join(chunks)
'''


@register("06-ask", title="Finish sending, then read the answer", solution=_ASK, hints=[
    "This server answers only after it has read the whole request, and it knows the request "
    "is whole when recv() returns b''. So your side must say 'I have finished sending'.",
    "sock.shutdown(socket.SHUT_WR) sends that end-of-stream but keeps the socket open for "
    "reading. sock.close() would give up reading too.",
    "Then read until recv() returns b'': the server closes after its answer.",
])
def _check_ask(ask) -> str:
    with TCPServer(answer_at_eof, name="exercise-ask", timeout=5) as server:
        for request in ("你好".encode(), b"hello"):
            want = "收到 ".encode() + request + f" ({len(request)} bytes)".encode()
            try:
                value, error = outcome(ask, server.address, request, timeout=2,
                                       what=f"ask(address, {request!r})")
            except NotYet as exc:
                if "end of stream" not in server.events.kinds():
                    raise NotYet(f"{exc} The server was still waiting for the end of your "
                                 "request: shut down your sending side.") from None
                raise
            if isinstance(error, OSError) and error.errno == 9:
                raise NotYet(f"ask() raised {type(error).__name__}: {error}. After close() the "
                             "socket is gone; shutdown(socket.SHUT_WR) ends only sending.")
            if error is not None:
                raise NotYet(f"ask(address, {request!r}) raised {type(error).__name__}: {error}")
            if value != want:
                raise NotYet(f"ask(address, {request!r}) returned {value!r}; the server sent "
                             f"{want!r} in pieces, then closed. Read until b''.")
    return "The server saw the end of each request and you read each answer to its end."

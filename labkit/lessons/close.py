"""Lesson 06-close: its two helpers (pair, states) and its exercises.

Exercises: read until the peer closes; finish sending, then read.

The peers here close for real: ``b''`` from ``recv`` is the only signal that
the other side has finished, and a server that answers only after the end of
the request is waiting for exactly that. They are the worst legal peers, the
same on every run: they send in small seeded pieces, fall silent for a moment
half-way (a pause is not the end), and close as soon as they are done.
"""

from __future__ import annotations

import functools
import os
import random
import socket
import time

from ..exercises import NotYet, learner_sockets, left_open, register
from ..kernelview import net_connections
from ..peers import AdversarialPeer, rechunk
from ..servers import TCPServer
from .checksockets import PAUSE, WatchedSocket, in_background, send_in_step, spin_message
from .connect import outcome, tcp_pair

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

SILENCE = 0.3  # seconds a peer stays silent half-way: longer than a timeout taken for the end

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


def _read_all_rounds() -> list[tuple[str, bytes, list[bytes], dict]]:
    """(what the peer does, its bytes, their pieces, how it sends them) for each round."""
    message = "服务端消息: 2026-01-01 12:00:00".encode()
    pieces = rechunk([message], random.Random(6), max_piece=6)
    big = bytes(range(32, 127)) * 32  # 3,040 bytes: more than one recv(1024)
    return [
        (f"sent {len(message)} bytes in {len(pieces)} pieces, silent for a moment half-way, "
         "then closed its side", message, pieces, {"silence": (len(pieces) // 2, SILENCE)}),
        (f"sent {len(big):,} bytes at once and closed", big, [big], {"close": True}),
        ("closed without sending anything", b"", [], {}),
    ]


@register("06-read-all", title="Read until the peer closes", solution=_READ_ALL, hints=[
    "One recv() returns only what has arrived so far. Loop, keeping every chunk.",
    "When the peer has closed its side, recv() returns b'' (empty bytes), at once and for "
    "ever. That is the end: leave the loop.",
    "b'' == '' is False in Python 3: compare with b'', or just test `if not data:`.",
])
def _check_read_all(read_all) -> str:
    for does, message, pieces, how in _read_all_rounds():
        with tcp_pair() as (client, server_side):
            reader = WatchedSocket(server_side)
            sender = in_background(functools.partial(send_in_step, **how), client, pieces,
                                    reader, delay=0)
            try:
                value, error = outcome(read_all, reader, timeout=3, what="read_all(sock)")
            except NotYet as exc:
                raise NotYet(f"{exc} The peer had {does}. At the end recv() returns b'' (empty "
                             "bytes), and b'' == '' is False.") from None
            finally:
                reader.release()
                sender.join(2)
        _judge_read_all(f"The peer {does}, and read_all(sock)", reader, message, value, error)
    return ("Every byte came back, from pieces with a pause half-way, from a peer that closed "
            "at once, and b'' from a peer that sent nothing.")


def _judge_read_all(what: str, reader: WatchedSocket, message: bytes, value, error) -> None:
    if reader.spun:
        raise NotYet(spin_message(what, "Leave the loop when it does: b'' == '' is False, so "
                                        "compare with b'', or test `if not data:`."))
    waited = [t for t in reader.timeouts_set if t]
    if isinstance(error, socket.timeout) and waited:
        raise NotYet(f"{what} raised TimeoutError: you gave the socket a timeout of "
                     f"{waited[-1]:g} s, and the peer was silent for longer half-way. A pause "
                     "is not the end, and so short a timeout gives up on a slow peer: leave "
                     "the socket's timeout as it is.")
    if error is not None:
        raise NotYet(f"{what} raised {type(error).__name__}: {error}")
    if reader.watched and not reader.eof:
        if reader.timeouts:  # how many calls depends on the timeout: left out
            raise NotYet(f"{what} returned before it had seen the end: recv() timed out while "
                         "the peer was silent for a moment, and your code took that for the "
                         "end. A pause is not the end: keep reading until recv() returns b''.")
        calls = f"{reader.calls} call{'s' * (reader.calls != 1)} of recv()"
        raise NotYet(f"{what} returned after {calls}, before it had seen the end. One recv() "
                     "returns only what has arrived so far, often fewer bytes than you asked "
                     "for: keep reading until recv() returns b''.")
    if isinstance(value, str):
        raise NotYet(f"{what} returned a str, {value!r}: return the bytes as they came, "
                     "b''.join(chunks); decoding is the caller's business.")
    if isinstance(value, list):
        raise NotYet(f"{what} returned a list of {len(value)} chunks: join them into one bytes "
                     "object, b''.join(chunks).")
    if not isinstance(value, (bytes, bytearray)):
        raise NotYet(f"{what} returned {value!r}; return the bytes it sent, as one bytes "
                     "object.")
    if value != message:
        got = (f"only the first {len(value):,} of them" if message.startswith(value)
               else f"{len(value):,} bytes that are not the {len(message):,} it sent")
        raise NotYet(f"{what} returned {got}. Keep every chunk, in order, until recv() "
                     "returns b''.")


# -- 06-ask --------------------------------------------------------------------


def answer_at_eof(conn) -> None:
    """A server that reads the whole request in small pieces, until EOF, then answers in
    pieces, silent for a moment half-way, and closes."""
    request = bytearray()
    while chunk := conn.recv(7):
        request += chunk
    reply = _reply(bytes(request))
    peer = AdversarialPeer(conn.sock, seed=len(request), max_piece=5, pause=PAUSE)
    half = len(reply) // 2
    peer.sendall(reply[:half])
    time.sleep(SILENCE)
    peer.sendall(reply[half:])
    conn.log("sent", f"{len(reply)} bytes in pieces")


def _reply(request: bytes) -> bytes:
    return "收到 ".encode() + request + f" ({len(request)} bytes)".encode()


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

_REQUESTS = ("你好".encode(), b"hello", b"")


@register("06-ask", title="Finish sending, then read the answer", solution=_ASK, hints=[
    "This server answers only after it has read the whole request, and it knows the request "
    "is whole when recv() returns b''. So your side must say 'I have finished sending'.",
    "sock.shutdown(socket.SHUT_WR) sends that end-of-stream but keeps the socket open for "
    "reading. sock.close() would give up reading too.",
    "Then read until recv() returns b'': the server closes after its answer.",
])
def _check_ask(ask) -> str:
    with TCPServer(answer_at_eof, name="exercise-ask", timeout=5) as server:
        for request in _REQUESTS:
            what = f"ask(address, {request!r})"
            ended = []

            def timed(address, request):
                try:
                    return ask(address, request)
                finally:
                    ended.append(time.monotonic())

            try:
                value, error = outcome(timed, server.address, request, timeout=3, what=what)
            except NotYet as exc:
                if not _saw_the_end(server):
                    raise NotYet(f"{exc} The server was still waiting for the end of your "
                                 "request: shut down your sending side.") from None
                if "closed" in server.events.kinds(server.accepted):
                    raise NotYet(f"{exc} The server had sent its answer and closed: recv() "
                                 "then returns b'' at once, for ever (and b'' == '' is False). "
                                 "Leave the loop when it does.") from None
                raise
            # the end of the request counts only if it came while ask() still waited (a
            # close on the way out of a `with` block comes too late)
            _judge_answer(what, request, value, error, _saw_the_end(server, ended[0] - 0.05))
            still = left_open(wait=0.5)
            if still:
                raise NotYet(f"{what} returned the right answer, but your code still had "
                             f"{still[0]} open. Close it when you are done: `with "
                             "socket.create_connection(address, timeout=2) as sock:` closes "
                             "it even if something fails.")
    if any(s.gettimeout() is None for s in learner_sockets()):
        raise NotYet("ask() connected without a timeout: if the server never answered, "
                     "recv() would wait for ever. Give the socket one: "
                     "socket.create_connection(address, timeout=2).")
    return "The server saw the end of each request, and you read each answer to its end."


def _saw_the_end(server, before: float | None = None) -> bool:
    """Whether the server's latest connection saw the end of the request (before *before*)."""
    return any(e.kind == "end of stream" and e.conn == server.accepted
               and (before is None or e.time < before) for e in server.events.snapshot())


def _judge_answer(what: str, request: bytes, value, error, saw_the_end: bool) -> None:
    want = _reply(request)
    if isinstance(error, OSError) and error.errno == 9:
        raise NotYet(f"{what} raised {type(error).__name__}: {error}. After close() the "
                     "socket is gone; shutdown(socket.SHUT_WR) ends only sending.")
    if isinstance(error, socket.timeout) and not saw_the_end:
        raise NotYet(f"{what} raised TimeoutError: {error}. The server was still waiting for "
                     "the end of your request, as it answers only after that: shut down your "
                     "sending side, sock.shutdown(socket.SHUT_WR).")
    if isinstance(error, AttributeError) and "'bytes' object has no attribute 'encode'" in \
            str(error):
        raise NotYet(f"{what} raised AttributeError: {error}. request is bytes already: send "
                     "it as it is.")
    timeouts = [s.gettimeout() for s in learner_sockets() if s.gettimeout()]
    if isinstance(error, socket.timeout) and timeouts and min(timeouts) < 1:
        raise NotYet(f"{what} raised TimeoutError: {error}. The server paused for a moment "
                     "half-way through its answer, as a busy server may, longer than your "
                     f"socket's timeout of {min(timeouts):g} s: give it a few seconds, e.g. "
                     "timeout=2.")
    if error is not None:
        raise NotYet(f"{what} raised {type(error).__name__}: {error}")
    if isinstance(value, str):
        raise NotYet(f"{what} returned a str, {value!r}: return the answer's bytes as they "
                     "came.")
    if not isinstance(value, (bytes, bytearray)):
        raise NotYet(f"{what} returned {value!r}; return the server's answer, as bytes.")
    if value == b"":
        raise NotYet(f"{what} returned b'', but the server answered {want!r}. Did you shut "
                     "down reading too (SHUT_RDWR)? shutdown(socket.SHUT_WR) ends only sending; "
                     "then read until recv() returns b''.")
    if value != want and want.startswith(value):
        raise NotYet(f"{what} returned only the start of the answer: the server sent "
                     f"{want!r} in pieces, with a pause half-way, then closed. A pause is not "
                     "the end: read until recv() returns b''.")
    if value != want:
        raise NotYet(f"{what} returned {bytes(value)!r}; the server sent {want!r} in pieces, "
                     "then closed. Read until b''.")

"""Lesson 06-close, its second exercise: 06-ask, finish sending, then read the answer.

The server (:func:`answer_at_eof`) reads the request until ``b''``, then answers in
pieces, silent for a moment half-way, and closes: an answer must shut down its sending
side after ``sendall`` and read until ``b''``. What the learner's code does with its
own socket is seen by :mod:`labkit.exercises.closewatch`; the peers' timing is that
of 06-read-all (:mod:`labkit.exercises.close`).
"""

from __future__ import annotations

import socket
import time

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, learner_sockets, left_open
from labkit.wire.peers import AdversarialPeer
from labkit.serving.servers import TCPServer
from labkit.exercises.checksockets import PAUSE, spin_message
from labkit.exercises.close import _SHUT_NAMES, _TEST_THE_CHUNK, SILENCE
from labkit.exercises.closewatch import _Ask, _Seen, _seeing

__all__ = ["answer_at_eof"]


def answer_at_eof(conn, silence=None) -> None:
    """A server that reads the whole request in small pieces, until EOF, then answers in
    pieces, silent for a moment half-way (or for as long as *silence(conn)* takes), and
    closes.

    >>> import socket
    >>> from labkit.serving.servers import TCPServer
    >>> with TCPServer(answer_at_eof) as server:
    ...     with socket.create_connection(server.address, timeout=5) as sock:
    ...         sock.sendall("你好".encode())
    ...         sock.shutdown(socket.SHUT_WR)        # the end of the request
    ...         reply = b""
    ...         while chunk := sock.recv(100):
    ...             reply += chunk
    >>> reply.decode()
    '收到 你好 (6 bytes)'
    """
    request = bytearray()
    while chunk := conn.recv(7):
        request += chunk
    reply = _reply(bytes(request))
    peer = AdversarialPeer(conn.sock, seed=len(request), max_piece=5, pause=PAUSE)
    half = len(reply) // 2
    peer.sendall(reply[:half])
    if silence is None:
        time.sleep(SILENCE)
    else:
        silence(conn)
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

# (request, whether the server's silence outlasts the learner's timeout, up to OUTWAIT_MOST)
_REQUESTS = (("你好".encode(), False), (b"hello", True), (b"", False))


def _code(data: bytes) -> str:
    """Bytes as a learner would write them: b'hello', or '你好'.encode() for UTF-8 text."""
    if data.isascii():
        return repr(bytes(data))
    try:
        return f"{bytes(data).decode('utf-8')!r}.encode()"
    except UnicodeDecodeError:
        return repr(bytes(data))


def _text(data: bytes) -> str:
    """Bytes in prose: b'hello', or '收到 你好 (6 bytes)' as UTF-8 bytes."""
    if data.isascii():
        return repr(bytes(data))
    try:
        return f"{bytes(data).decode('utf-8')!r} as UTF-8 bytes"
    except UnicodeDecodeError:
        return repr(bytes(data))


@register("06-ask", title="Finish sending, then read the answer", solution=_ASK, hints=[
    "This server answers only after it has read the whole request, and it knows the request "
    "is whole when recv() returns b''. So your side must say 'I have finished sending'.",
    "sock.shutdown(socket.SHUT_WR) sends that end-of-stream but keeps the socket open for "
    "reading. sock.close() would give up reading too. Shut down after sendall(), not before.",
    "Then read until recv() returns b'': the server closes after its answer. A pause is not "
    "the end: if recv() times out, let the error propagate.",
])
def _check_ask(ask) -> str:
    current: list[_Ask] = []

    def handler(conn):
        answer_at_eof(conn, silence=current[-1].silence)

    raised = None
    with _seeing() as seen, TCPServer(handler, name="exercise-ask", timeout=5) as server:
        for request, outwait in _REQUESTS:
            call = _Ask(request, outwait, seen)
            current.append(call)
            what = f"ask(address, {_code(request)})"
            before = server.accepted
            try:
                value, error = call.run(ask, server.address, what)
            except NotYet as exc:
                _judge_hang(exc, server, before, seen)
            number = _connection(server, before)
            # the end of the request counts only if it came while ask() still waited: from
            # shutdown(), not from a close on the way out of a `with` block
            saw_the_end = (number is not None and _ended_sending(seen)
                           and _saw_the_end(server, number))
            verdict = _judge_answer(what, call, value, error, number is not None, saw_the_end)
            raised = verdict or raised
            still = left_open(wait=0.5)
            if still:
                done = (f"raised {verdict[1]}, as it should when the server is silent for "
                        "longer than the timeout" if verdict else "returned the right answer")
                raise NotYet(f"{what} {done}, but your code still had {still[0]} open. Close "
                             "it however ask() ends: `with socket.create_connection(address, "
                             "timeout=2) as sock:` closes it even if something fails.")
    if any(s.gettimeout() is None for s in learner_sockets()):
        raise NotYet("ask() connected without a timeout: if the server never answered, "
                     "recv() would wait for ever. Give the socket one: "
                     "socket.create_connection(address, timeout=2).")
    if raised:
        timeout, name = raised
        return ("The server saw the end of each request; you read its answers to their end, "
                "and when it fell silent for longer than your socket's timeout of "
                f"{timeout:g} s, ask() raised {name} instead of taking the pause for the end.")
    return "The server saw the end of each request, and you read each answer to its end."


def _ended_sending(seen: _Seen) -> bool:
    return any(how in (socket.SHUT_WR, socket.SHUT_RDWR) for how in seen.shutdowns)


def _connection(server, before: int) -> int | None:
    """The number of the connection ask() made (the server's latest), or None if it made
    none. The server may take a moment to accept: wait for it, a little."""
    deadline = time.monotonic() + 1.0
    while server.accepted == before and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.accepted if server.accepted > before else None


def _saw_the_end(server, number: int) -> bool:
    """Whether the server's connection *number* saw the end of the request."""
    return any(e.kind == "end of stream" and e.conn == number
               for e in server.events.snapshot())


def _judge_hang(exc: NotYet, server, before: int, seen: _Seen) -> None:
    number = _connection(server, before)
    if number is None:
        raise NotYet(f"{exc} It never connected to the server: connect first, "
                     "socket.create_connection(address, timeout=2).") from None
    if not (_ended_sending(seen) and _saw_the_end(server, number)):
        raise NotYet(f"{exc} The server was still waiting for the end of your request: shut "
                     "down your sending side.") from None
    if "closed" in server.events.kinds(number):
        raise NotYet(f"{exc} The server had sent its answer and closed: recv() then returns "
                     "b'' at once, for ever (and b'' == '' is False). Leave the loop when it "
                     "does.") from None
    raise exc


_SHUT_WR_AFTER = ("Shut down only your sending side, sock.shutdown(socket.SHUT_WR), after "
                  "sendall(request); then read until recv() returns b''.")


def _judge_answer(what: str, call: _Ask, value, error, connected: bool,
                  saw_the_end: bool) -> tuple[float, str] | None:
    """Raise NotYet for the first thing wrong with one call of ask(). Returns (the socket's
    timeout, the error's name) when ask() rightly raised during a silence longer than it."""
    want, seen = _reply(call.request), call.seen
    if seen.spun:
        raise NotYet(spin_message(what, f"Leave the loop when it does: {_TEST_THE_CHUNK}."))
    if isinstance(error, OSError) and error.errno == 9:
        raise NotYet(f"{what} raised {type(error).__name__}: {error}. After close() the "
                     "socket is gone; shutdown(socket.SHUT_WR) ends only sending.")
    if isinstance(error, AttributeError) and "'bytes' object has no attribute 'encode'" in \
            str(error):
        raise NotYet(f"{what} raised AttributeError: {error}. request is bytes already: send "
                     "it as it is.")
    if not connected:
        did = (f"raised {type(error).__name__}: {error}" if error is not None
               else f"returned {value!r}")
        raise NotYet(f"{what} {did}, and it never connected to the server. Connect first, "
                     "socket.create_connection(address, timeout=2), then send the request.")
    right = error is None and isinstance(value, (bytes, bytearray)) and value == want
    shut = [how for how in seen.shutdowns if how in (socket.SHUT_RD, socket.SHUT_RDWR)]
    if shut and not right:
        raise NotYet(f"{what} called sock.shutdown(socket.{_SHUT_NAMES[shut[0]]}), which ends "
                     f"reading too, so it could not read the answer ({_text(want)}): after "
                     "that recv() returns b'' at once, or raises ConnectionResetError if the "
                     f"answer has arrived. {_SHUT_WR_AFTER}")
    if isinstance(error, BrokenPipeError) and seen.shutdowns:
        raise NotYet(f"{what} raised BrokenPipeError: {error}. Your code called "
                     "sock.shutdown() before it had sent the whole request, and after "
                     "shutdown(socket.SHUT_WR) nothing more can be sent. Shut down after "
                     "sending everything: sock.sendall(request), then "
                     "sock.shutdown(socket.SHUT_WR).")
    timeout = call.timeout if call.timeout is not None else min(
        (s.gettimeout() for s in learner_sockets() if s.gettimeout()), default=None)
    if isinstance(error, socket.timeout) and not saw_the_end:
        raise NotYet(f"{what} raised TimeoutError: {error}. The server was still waiting for "
                     "the end of your request, as it answers only after that: shut down your "
                     "sending side, sock.shutdown(socket.SHUT_WR).")
    if error is not None and (isinstance(error, socket.timeout) or seen.timed_out):
        if timeout is not None and timeout < SILENCE:
            raise NotYet(f"{what} raised {type(error).__name__}: {error}. The server paused "
                         "for a moment half-way through its answer, as a busy server may, "
                         f"longer than your socket's timeout of {timeout:g} s: give it a few "
                         "seconds, e.g. timeout=2.")
        if timeout is not None:  # a silence longer than the timeout: raising is right
            return timeout, type(error).__name__
    if error is not None:
        raise NotYet(f"{what} raised {type(error).__name__}: {error}")
    if isinstance(value, str):
        raise NotYet(f"{what} returned a str, {value!r}: return the answer's bytes as they "
                     "came.")
    if isinstance(value, list):
        raise NotYet(f"{what} returned a list: join the chunks into one bytes object, "
                     "b''.join(chunks).")
    if not isinstance(value, (bytes, bytearray)):
        raise NotYet(f"{what} returned {value!r}; return the server's answer, as bytes.")
    if value == want:
        return None
    if not saw_the_end:
        if seen.timeouts:
            raise NotYet(f"{what} returned {_text(value)} when recv() timed out, but the "
                         "server had not answered yet: it answers only after the end of your "
                         "request, and it never saw one. Shut down your sending side after "
                         "sendall(request): sock.shutdown(socket.SHUT_WR). And a timeout is "
                         "not the end of the answer, only b'' is: let the TimeoutError "
                         "propagate.")
        raise NotYet(f"{what} returned {_text(value)} before the server had answered: it "
                     "answers only after the end of your request, and it never saw one. "
                     f"{_SHUT_WR_AFTER}")
    if seen.timeouts and want.startswith(value):
        pause = (f"longer than your socket's timeout of {timeout:g} s" if timeout
                 else "for a moment")
        raise NotYet(f"{what} returned only the start of the answer: the server was silent "
                     f"half-way, {pause}, recv() timed out, and your code took that for the "
                     "end. A pause is not the end, only b'' is: do not catch the timeout as "
                     "the end (let the TimeoutError propagate), and read until recv() "
                     "returns b''.")
    if not value:
        raise NotYet(f"{what} returned b'', but the server answered {_text(want)}: read "
                     "until recv() returns b''.")
    if want.startswith(value):
        raise NotYet(f"{what} returned only the start of the answer: the server sent "
                     f"{_text(want)} in pieces, with a pause half-way, then closed. A pause "
                     "is not the end: read until recv() returns b''.")
    raise NotYet(f"{what} returned {_text(value)}; the server sent {_text(want)} in pieces, "
                 "then closed. Read until b''.")

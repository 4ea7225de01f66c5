"""Exercises of lesson 05-send-recv: send every byte, read exactly n, read lines of UTF-8.

Each check feeds the learner's function through a real loopback connection
from an :class:`~labkit.peers.AdversarialPeer`: writes are split and merged,
characters are cut in half, and the pieces arrive a few milliseconds apart so
that a single ``recv`` sees only the first of them.
"""

from __future__ import annotations

import socket
import threading
import time

from .. import framing
from ..exercises import NotYet, _refers_to, _watching_labkit, call, register
from ..peers import AdversarialPeer, utf8_cuts
from .connect import outcome, tcp_pair

PAUSE = 0.02  # between pieces: a recv that is already waiting sees them one by one, even under load


def _in_background(action, *args, delay: float = 0.05) -> threading.Thread:
    """Run the sending side in a thread, after *delay* (the learner is waiting by then)."""

    def run():
        time.sleep(delay)
        try:
            action(*args)
        except OSError:
            pass  # the learner's side went away: the check reports what it saw

    thread = threading.Thread(target=run, name="labkit-exercise-peer", daemon=True)
    thread.start()
    return thread


def _send_then_finish(sock, pieces_fn):
    pieces_fn()
    sock.shutdown(socket.SHUT_WR)


# -- 05-send-all ---------------------------------------------------------------


class SendOnly:
    """A socket that offers only ``send``: the learner writes sendall themselves."""

    def __init__(self, sock):
        self._sock = sock
        self.calls = 0

    def send(self, data) -> int:
        self.calls += 1
        return self._sock.send(data)

    def __getattr__(self, name):
        raise AttributeError(f"this socket offers only send() - {name}() is what you are "
                             "writing yourself")


_SEND_ALL = '''
def send_all(sock, data):
    total = 0
    while total < len(data):
        sent = sock.send(data[total:])    # may take fewer bytes than offered
        total += sent
'''


@register("05-send-all", title="Write sendall yourself", solution=_SEND_ALL, hints=[
    "sock.send(data) returns a number: how many bytes the kernel took this time. It can be "
    "fewer than len(data).",
    "Keep a count of bytes sent, and loop while it is below len(data).",
    "Each time, send what is left: sock.send(data[total:]), and add its result to total.",
])
def _check_send_all(send_all) -> str:
    data = bytes(range(256)) * 4096  # 1 MiB, not all one value: order matters
    with tcp_pair() as (client, server_side):
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        client.settimeout(3)  # with a timeout, one send() takes only what fits
        received = bytearray()

        def read_slowly():
            while chunk := server_side.recv(65536):
                received.extend(chunk)

        reader = _in_background(read_slowly, delay=0.05)
        wrapped = SendOnly(client)
        result, error = outcome(send_all, wrapped, data, what="send_all(sock, data)")
        if error is not None:
            raise NotYet(f"send_all(sock, data) raised {type(error).__name__}: {error}")
        client.shutdown(socket.SHUT_WR)
        reader.join(5)
    if len(received) < len(data):
        raise NotYet(f"Only {len(received)} of {len(data)} bytes arrived, after {wrapped.calls} "
                     "call(s) of send(). send() returns how many bytes it took: send the rest.")
    if bytes(received) != data:
        at = next(i for i, (a, b) in enumerate(zip(received, data)) if a != b) \
            if len(received) == len(data) else len(data)
        raise NotYet(f"{len(received)} bytes arrived for {len(data)} sent, differing from "
                     f"offset {at}: send only what is left, data[total:].")
    return f"1 MiB arrived whole and in order, sent in {wrapped.calls} calls of send()."


# -- 05-recv-exactly -----------------------------------------------------------

_RECV_EXACTLY = '''
def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))  # never more than is still missing
        if not chunk:                     # b'': the peer closed before n bytes came
            raise ConnectionError(f"peer closed after {len(data)} of {n} bytes")
        data += chunk
    return data
'''


_WRITE_IT_YOURSELF = ("Your recv_exactly calls labkit.recv_exactly, which does the work for you. "
                      "The point is to write the loop yourself, with sock.recv().")


@register("05-recv-exactly", title="Read exactly n bytes", solution=_RECV_EXACTLY, hints=[
    "One sock.recv(n) returns whatever has arrived, from 1 to n bytes. Loop, adding each "
    "chunk to what you have, until you hold n bytes.",
    "Ask for no more than is still missing: sock.recv(n - len(data)). Otherwise you eat the "
    "start of the next message.",
    "recv() returns b'' when the peer has closed: then n bytes will never come, so raise "
    "ConnectionError instead of looping forever.",
])
def _check_recv_exactly(recv_exactly) -> str:
    if _refers_to(recv_exactly, [framing.recv_exactly]):
        raise NotYet(_WRITE_IT_YOURSELF)
    with _watching_labkit(["recv_exactly"]) as used:
        return _check_recv_exactly_loop(recv_exactly, used)


def _check_recv_exactly_loop(recv_exactly, used) -> str:
    body = "你好, 世界!".encode()
    header = len(body).to_bytes(4, "big")  # a 4-byte length, then 15 bytes
    # cut inside the header, across its end, and through 你, 好, 世 and 界
    cuts = [2, 6, 8, 13, 16]
    with tcp_pair() as (client, server_side):
        peer = AdversarialPeer(client, pause=PAUSE)
        sender = _in_background(_send_then_finish, client,
                                lambda: peer.split_at(header + body, cuts))
        for want in (header, body):
            try:
                got = call(recv_exactly, server_side, len(want),
                           what=f"recv_exactly(sock, {len(want)})")
            finally:
                if used:  # even if labkit's function failed, that is the first thing to say
                    raise NotYet(_WRITE_IT_YOURSELF)
            if not isinstance(got, (bytes, bytearray)):
                raise NotYet(f"recv_exactly(sock, {len(want)}) returned {got!r}; return bytes.")
            if len(got) < len(want):
                raise NotYet(f"recv_exactly(sock, {len(want)}) returned {bytes(got)!r}, only "
                             f"{len(got)} bytes: one recv() returns what has arrived so far. Loop.")
            if len(got) > len(want):
                raise NotYet(f"recv_exactly(sock, {len(want)}) returned {len(got)} bytes: it ate "
                             "the start of the next message. Ask recv() only for what is missing.")
            if got != want:
                raise NotYet(f"recv_exactly(sock, {len(want)}) returned {bytes(got)!r}; the peer "
                             f"sent {want!r}.")
        sender.join(2)
    with tcp_pair() as (client, server_side):
        _in_background(_send_then_finish, client, lambda: client.sendall(b"abc")).join(1)
        try:
            value, error = outcome(recv_exactly, server_side, 10, timeout=2,
                                   what="recv_exactly(sock, 10)")
        except NotYet as exc:
            raise NotYet(f"{exc} The peer sent 3 bytes and closed: recv() then returns b'' "
                         "for ever. Stop when it does.") from None
        finally:
            if used:
                raise NotYet(_WRITE_IT_YOURSELF)
    if error is None:
        raise NotYet(f"The peer sent b'abc' and closed, and recv_exactly(sock, 10) returned "
                     f"{value!r}; raise ConnectionError: 10 bytes will never come.")
    if not isinstance(error, ConnectionError):
        raise NotYet(f"The peer sent b'abc' and closed, and recv_exactly(sock, 10) raised "
                     f"{type(error).__name__}: {error}. Right to raise, but raise "
                     "ConnectionError, as asked: raise ConnectionError(\"peer closed after 3 "
                     "of 10 bytes\").")
    return (f"The header and the body came back whole from {len(peer.pieces_sent)} pieces cut "
            f"inside characters, and an early close raised {type(error).__name__}.")


# -- 05-read-lines -------------------------------------------------------------

LINES = ["你好", "欢迎访问>>>>你好", "hello 世界", "", "再见"]

_READ_LINES = '''
def read_lines(sock):
    data = b""
    while chunk := sock.recv(1024):   # until b'': the peer has closed
        data += chunk
    return data.decode("utf-8").split("\\n")[:-1]   # decode once, when every byte is there

# or, line by line as they come, with labkit's incremental decoders:
def read_lines(sock):
    lines, decoder = [], labkit.LineDecoder()
    while chunk := sock.recv(1024):
        lines += [line.decode("utf-8") for line in decoder.feed(chunk)]
    return lines
'''


@register("05-read-lines", title="Read lines of UTF-8 until the peer closes",
          solution=_READ_LINES, hints=[
              "Decoding each chunk on its own fails as soon as a character is cut between two "
              "recv() calls: 你 is three bytes, and a chunk may end after the first.",
              "A newline, too, can arrive in a different chunk from the rest of its line. Keep "
              "the bytes until you know where lines end.",
              "Simplest: collect every chunk until recv() returns b'', then decode once and "
              "split on '\\n'. The text ends with '\\n', so drop the empty string after it.",
          ])
def _check_read_lines(read_lines) -> str:
    data = "".join(line + "\n" for line in LINES).encode()
    rounds = [
        ("every other character cut in half", lambda peer: peer.split_at(data, utf8_cuts(data)[::2])),
        ("lines split and merged", lambda peer: peer.send_messages(
            [(line + "\n").encode() for line in LINES])),
    ]
    for how, send in rounds:
        with tcp_pair() as (client, server_side):
            peer = AdversarialPeer(client, seed=7, max_piece=5, pause=PAUSE)
            sender = _in_background(_send_then_finish, client, lambda: send(peer))
            value, error = outcome(read_lines, server_side, what="read_lines(sock)")
            sender.join(2)
        if isinstance(error, UnicodeDecodeError):
            raise NotYet(f"With {how}, read_lines(sock) raised UnicodeDecodeError: {error}. "
                         "A character was cut between two recv() calls; decode only whole "
                         "characters.")
        if error is not None:
            raise NotYet(f"With {how}, read_lines(sock) raised {type(error).__name__}: {error}")
        if value == LINES + [""]:
            raise NotYet("Your list ends with an extra '': the last '\\n' ends the last line, "
                         "it does not start a new one.")
        if value != LINES:
            raise NotYet(f"With {how}, read_lines(sock) returned {value!r}; the peer sent the "
                         f"lines {LINES!r}.")
    return "Whole lines came back although characters and lines were cut between reads."

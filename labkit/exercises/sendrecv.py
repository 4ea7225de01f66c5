"""Exercises of lesson 05-send-recv: send every byte, read exactly n, read lines of UTF-8.

Each check plays the worst legal peer, the same way on every run, through the sockets
of :mod:`labkit.exercises.checksockets`: a ``send`` that takes only part of what it is
offered, and reads that get one seeded piece per ``recv``, cut through a header or a
character.
"""

from __future__ import annotations

import random
import socket
import time

from labkit.wire import framing
from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, _refers_to, _watching_labkit
from labkit.wire.peers import rechunk, utf8_cuts
from labkit.exercises.sendonly import MOST_CALLS, SendOnly
from labkit.exercises.checksockets import (WAITALL, Stopped, WatchedSocket, cut,
                           in_background, send_in_step, spin_message)
from labkit.exercises.connect import outcome, tcp_pair

# -- 05-send-all ---------------------------------------------------------------


def _bytes(n: int) -> str:
    return "byte" if n == 1 else f"{n:,} bytes"


_SEND_ALL = '''
def send_all(sock, data):
    total = 0
    while total < len(data):
        sent = sock.send(data[total:])    # may take fewer bytes than offered
        total += sent
'''

_SEND_THE_REST = ("send() returns how many bytes it took: add that to a total, and offer what "
                  "is left, sock.send(data[total:]), until the total is len(data).")


@register("05-send-all", title="Write sendall yourself", solution=_SEND_ALL, hints=[
    "sock.send(data) returns a number: how many bytes the kernel took this time. It can be "
    "fewer than len(data).",
    "Keep a count of bytes sent, and loop while it is below len(data).",
    "Each time, send what is left: sock.send(data[total:]), and add its result to total.",
])
def _check_send_all(send_all) -> str:
    data = random.Random(5).randbytes(1 << 20)  # 1 MiB of random bytes: each part has one place
    size = len(data)
    received = bytearray()
    with tcp_pair() as (client, server_side):
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        # small buffers on both sides (a receive buffer much smaller stalls loopback)
        server_side.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        client.settimeout(3)

        def read_slowly(rng=random.Random(6)):
            while chunk := server_side.recv(rng.randint(1, 8192)):
                received.extend(chunk)
                if rng.random() < 0.02:
                    time.sleep(0.002)  # a receiver that is busy now and then

        reader = in_background(read_slowly, delay=0.01)
        wrapped = SendOnly(client, data)
        try:
            _, error = outcome(send_all, wrapped, data, timeout=5, what="send_all(sock, data)")
        except NotYet:
            if wrapped.mistake or wrapped.stopped:
                error = Stopped()
            else:
                raise
        if wrapped.mistake:
            missing, twice = wrapped.totals()
            summary = " and ".join(
                [f"{missing:,} of the {size:,} bytes never arrived"] * bool(missing)
                + [f"{twice:,} arrived twice or more"] * bool(twice))
            finished = error is None and summary
            raise NotYet(f"{wrapped.mistake}{f' In all, {summary}.' if finished else ''} "
                         f"{_SEND_THE_REST}")
        if wrapped.stopped:
            if wrapped.empty_at_end:
                raise NotYet(f"send_all(sock, data) kept calling send() after every byte had "
                             f"gone, offering it nothing (b''): the check stopped it after "
                             f"{MOST_CALLS:,} calls. End the loop when the total reaches "
                             "len(data): while total < len(data).")
            offers = "one byte" if wrapped.largest == 1 else f"at most {wrapped.largest:,} bytes"
            raise NotYet(f"send_all(sock, data) offered send() {offers} at a time: correct in "
                         f"principle, but far too slow. The check stopped it after "
                         f"{MOST_CALLS:,} calls, when {wrapped.done:,} of the {size:,} bytes "
                         "had gone. Offer everything that is left, sock.send(data[total:]), "
                         "and let send() take what it can.")
        if error is not None:
            raise NotYet(f"send_all(sock, data) raised {type(error).__name__}: {error}")
        if wrapped.done < size:
            if wrapped.calls == 1:
                raise NotYet(f"send_all(sock, data) called send() once, and it took only "
                             f"{wrapped.done:,} of the {size:,} bytes: your code ignored the "
                             f"count it returned, and the other {size - wrapped.done:,} were "
                             f"never sent. {_SEND_THE_REST}")
            raise NotYet(f"send_all(sock, data) returned after {wrapped.calls:,} calls of "
                         f"send(), which took {wrapped.done:,} of the {size:,} bytes: the last "
                         f"{_bytes(size - wrapped.done)} never went. Loop until the total of "
                         "what send() returned is len(data).")
        client.shutdown(socket.SHUT_WR)
        reader.join(5)
    if bytes(received) != data:  # every part was right, so this is the check's own fault
        raise RuntimeError(f"{len(received):,} bytes arrived for the {size:,} that send() took")
    return f"1 MiB arrived whole and in order, sent in {wrapped.calls:,} calls of send()."


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

_WAITALL = (" On a socket with a timeout (this one has one, as every socket should) Python "
            "waits for the first bytes, then reads without blocking, so recv() returns what "
            "has arrived; and even without a timeout a signal can cut MSG_WAITALL short. The "
            "loop is still needed: recv() until you hold n bytes.")


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
    pieces = cut(header + body, [2, 6, 8, 13, 16])
    with tcp_pair() as (client, server_side):
        reader = WatchedSocket(server_side)
        sender = in_background(send_in_step, client, pieces, reader)
        try:
            for want in (header, body):
                _read_exactly(recv_exactly, reader, want, used)
        finally:
            reader.release()
            sender.join(2)
    if None in reader.timeouts_set:
        raise NotYet("recv_exactly(sock, n) took away the socket's timeout (settimeout(None)), "
                     "so a silent peer would make it wait for ever. Leave the socket's timeout "
                     "as it is, and loop: even MSG_WAITALL may return fewer than n bytes.")
    with tcp_pair() as (client, server_side):
        reader = WatchedSocket(server_side)
        in_background(_send_then_finish, client, lambda: client.sendall(b"abc")).join(1)
        what = "The peer sent 3 bytes and closed, and recv_exactly(sock, 10)"
        try:
            value, error = outcome(recv_exactly, reader, 10, timeout=2,
                                   what="recv_exactly(sock, 10)")
        except NotYet as exc:
            raise NotYet(f"{exc} The peer sent 3 bytes and closed: recv() then returns b'' "
                         "for ever. Stop when it does.") from None
        finally:
            if used:
                raise NotYet(_WRITE_IT_YOURSELF)
    if reader.spun:
        raise NotYet(spin_message(what, "10 bytes will never come: raise ConnectionError when "
                                        "recv() returns b''."))
    if error is None:
        raise NotYet(f"{what} returned {value!r}; raise ConnectionError: 10 bytes will never "
                     "come.")
    if not isinstance(error, ConnectionError):
        raise NotYet(f"{what} raised {type(error).__name__}: {error}. Right to raise, but raise "
                     "ConnectionError, as asked: raise ConnectionError(\"peer closed after 3 "
                     "of 10 bytes\").")
    return (f"The header and the body came back whole from {len(pieces)} pieces cut inside "
            f"characters, and an early close raised {type(error).__name__}.")


def _read_exactly(recv_exactly, reader: WatchedSocket, want: bytes, used) -> None:
    """One call of the learner's recv_exactly(sock, len(want)): NotYet unless it gives *want*."""
    n, before = len(want), reader.taken
    what = f"recv_exactly(sock, {n})"
    try:
        got, error = outcome(recv_exactly, reader, n, what=what)
    finally:
        if used:  # even if labkit's function failed, that is the first thing to say
            raise NotYet(_WRITE_IT_YOURSELF)
    if reader.spun:
        raise NotYet(spin_message(what, "Stop when it does: raise ConnectionError."))
    early = isinstance(error, ConnectionError) and reader.watched and not reader.eof
    short = isinstance(got, (bytes, bytearray)) and len(got) < n
    if reader.flags & WAITALL and (early or short):
        did = (f"raised {type(error).__name__}: {error}" if early
               else f"returned {bytes(got)!r}, only {len(got)} bytes")
        raise NotYet(f"{what} {did}: recv() with MSG_WAITALL returned fewer than {n} bytes, "
                     f"although the peer had not closed.{_WAITALL}")
    if early:
        raise NotYet(f"{what} raised {type(error).__name__}: {error}, but the peer had not "
                     "closed: a recv() that returns fewer bytes than asked for only means the "
                     "rest has not arrived yet. Raise ConnectionError only when recv() returns "
                     "b''.")
    if error is not None:
        raise NotYet(f"{what} raised {type(error).__name__}: {error}")
    if not isinstance(got, (bytes, bytearray)):
        raise NotYet(f"{what} returned {got!r}; return bytes.")
    if len(got) < n:
        raise NotYet(f"{what} returned {bytes(got)!r}, only {len(got)} bytes: one recv() "
                     "returns what has arrived so far. Loop.")
    if len(got) > n:
        raise NotYet(f"{what} returned {len(got)} bytes: it ate the start of the next message. "
                     "Ask recv() only for what is missing.")
    if reader.watched and reader.taken - before > n:
        extra = reader.taken - before - n
        raise NotYet(f"{what} returned {n} bytes, but its recv() calls took {n + extra} from "
                     f"the socket: the {extra} after them, the start of the next message, were "
                     "thrown away. Ask recv() only for what is still missing: "
                     "sock.recv(n - len(data)).")
    if got != want:
        raise NotYet(f"{what} returned {bytes(got)!r}; the peer sent {want!r}.")


def _send_then_finish(sock, pieces_fn):
    pieces_fn()
    sock.shutdown(socket.SHUT_WR)


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


def _line_rounds() -> list[tuple[str, list[bytes]]]:
    """(how, pieces) for each round: whole characters first, so that a reader that stops
    early is told so before anything is said about decoding."""
    data = "".join(line + "\n" for line in LINES).encode()
    inside = set(utf8_cuts(data))
    between = [i for i in range(1, len(data)) if i not in inside]
    rng = random.Random(7)
    return [
        ("lines split and merged, characters whole",
         cut(data, rng.sample(between, len(between) // 3))),
        ("every other character cut in half", cut(data, utf8_cuts(data)[::2])),
        ("lines split and merged anywhere", rechunk(
            [(line + "\n").encode() for line in LINES], rng, max_piece=5)),
    ]


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
    for how, pieces in _line_rounds():
        with tcp_pair() as (client, server_side):
            reader = WatchedSocket(server_side)
            sender = in_background(send_in_step, client, pieces, reader)
            try:
                value, error = outcome(read_lines, reader, what="read_lines(sock)")
            finally:
                reader.release()
                sender.join(2)
        _judge_lines(f"With {how}, read_lines(sock)", len(pieces), reader, value, error)
    return "Whole lines came back although characters and lines were cut between reads."


def _judge_lines(what: str, pieces: int, reader: WatchedSocket, value, error) -> None:
    if reader.spun:
        raise NotYet(spin_message(what, "Leave the loop when it does: `if not chunk: break` "
                                        "(b'' == '' is False)."))
    if isinstance(error, UnicodeDecodeError):
        raise NotYet(f"{what} raised UnicodeDecodeError: {error}. A character was cut between "
                     "two recv() calls; decode only whole characters.")
    if error is None and reader.watched and not reader.eof:
        calls = f"{reader.calls} call{'s' * (reader.calls != 1)} of recv()"
        short = (" A recv() that returns fewer bytes than you asked for is not the end either."
                 if reader.calls > 1 and 0 < reader.last[1] < reader.last[0] else "")
        raise NotYet(f"{what} returned after {calls}, before the peer had closed: the peer "
                     f"sent {pieces} pieces, and one recv() returns only what has arrived so "
                     f"far.{short} Keep reading until recv() returns b''.")
    if error is not None:
        raise NotYet(f"{what} raised {type(error).__name__}: {error}")
    if not isinstance(value, list):
        raise NotYet(f"{what} returned {value!r}; return a list of str, one per line.")
    if any(isinstance(line, (bytes, bytearray)) for line in value):
        raise NotYet(f"{what} returned {value!r}: lines of bytes. Decode them from UTF-8.")
    if value == LINES + [""]:
        raise NotYet("Your list ends with an extra '': the last '\\n' ends the last line, "
                     "it does not start a new one.")
    if value == [line + "\n" for line in LINES]:
        raise NotYet(f"{what} returned {value!r}: each line still ends with '\\n'. Return "
                     "the lines without it.")
    if any("\ufffd" in line for line in value if isinstance(line, str)):
        raise NotYet(f"{what} returned {value!r}: '\ufffd' stands where decode(errors="
                     "'replace') met bytes of a character cut between two recv() calls. "
                     "Decode only whole characters.")
    if value != LINES:
        raise NotYet(f"{what} returned {value!r}; the peer sent the lines {LINES!r}.")

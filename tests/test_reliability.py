"""Reliability: every labkit server keeps working under faults, bad input and load.

For echo, greeting, clock and chat: garbage; 500 connects and closes; resets in the middle
of a message; half-close; 50 idle clients while a good one is served; characters split
at every byte; lying length prefixes (greeting); a megabyte without a newline; and load:
50 chat clients x 200 lines each, nothing lost, each sender's order kept (the rate is
printed, visible with -s, and recorded as a property; it is not asserted).

After each, the same server still serves a good client, no handler raised a bug, and its
threads and file descriptors are back to where they were before the abuse (and after
stop(), to where they were before the server started).
"""

import random
import re
import socket
import struct
import threading
import time
import weakref

import pytest

import labkit
from labkit import TCPServer, encode_utf, read_utf
from labkit.classroom import handler_for
from support import Baseline, wait_delivered

pytestmark = pytest.mark.timeout(30)
ALL = ("echo", "greeting", "clock", "chat")
READERS = ("echo", "greeting", "chat")  # the protocols that read what the client sends


@pytest.fixture(params=ALL)
def served(request):
    """(name, server); afterwards: a good client is served and nothing is left over."""
    yield from _serve(request.param)


def _serve(name):
    before = Baseline()
    server = TCPServer(handler_for(name), timeout=5, name=f"reliability-{name}")
    assert_serves_a_good_client(name, server)  # warm up: the accept thread's selector exists
    settle(server)
    running = Baseline()  # the accept thread, the listener, its wake-up pair and selector
    yield name, server
    settle(server)  # the abusers' bytes are handled and they have left
    assert_serves_a_good_client(name, server)
    running.assert_restored()
    assert server.errors == []  # the peers' faults are "dropped", never handler bugs
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.5 and server.sock.fileno() == -1
    before.assert_restored()


def settle(server, timeout=5.0):
    """Wait until the server has no connection and no thread but its accept thread.

    First until it is quiet: a client that closed at once may still wait in the
    listen queue, and its bytes would reach the next test's clients.
    """
    assert server.wait_quiet(timeout), "the server did not go quiet"
    prefix = f"labkit-{server.name}-"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [t for t in threading.enumerate()
                if t.name.startswith(prefix) and not t.name.endswith("-accept")]
        if not server.connections and not busy:
            return
        time.sleep(0.005)


def assert_serves_a_good_client(name, server):
    address = server.address
    if name == "echo":
        assert labkit.echo_client(address, "你好") == "欢迎访问>>>>你好\r\n"
    elif name == "greeting":
        assert labkit.greeting_client(address, "hi") == f"谢谢连接我:/127.0.0.1:{server.port}\nGoodbye!"
    elif name == "clock":
        assert re.fullmatch(r"服务端消息: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", labkit.clock_client(address))
    else:
        with socket.create_connection(address, timeout=5) as a, \
                socket.create_connection(address, timeout=5) as b:
            wait_joined(server, a, b)
            b.sendall(b"/nick good\nready\n")
            assert chat_lines(a, 1) == [b"good: ready"]


def wait_joined(server, *socks):
    """Wait until each of *socks* is a member of the chat room (joining happens in the
    server's threads, a moment after connect() returns)."""
    mine = {s.getsockname() for s in socks}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with server.handler._lock:
            peers = {m.conn.peer for m in server.handler.members.values()}
        if mine <= peers:
            return
        time.sleep(0.002)
    raise AssertionError(f"{len(mine - peers)} of {len(mine)} clients did not join")


_pending = weakref.WeakKeyDictionary()  # bytes read past the last line, per socket


def read_lines(sock, n, timeout=5.0):
    """Exactly n lines (without newlines); fails with socket.timeout if they do not come."""
    sock.settimeout(timeout)
    buf, lines = _pending.setdefault(sock, bytearray()), []
    while True:
        while len(lines) < n and (end := buf.find(b"\n")) >= 0:
            lines.append(bytes(buf[:end]))
            del buf[:end + 1]
        if len(lines) == n:
            return lines
        data = sock.recv(65536)
        assert data, f"EOF after {len(lines)} of {n} lines"
        buf += data


def chat_lines(sock, n, keep=(), timeout=5.0):
    """n chat lines, skipping '* X left' notices other than those in *keep* (clients of
    an earlier step may still be leaving)."""
    lines = []
    while len(lines) < n:
        line = read_lines(sock, 1, timeout)[0]
        if not line.startswith(b"* ") or line in keep:
            lines.append(line)
    return lines


def read_all(sock, timeout=5.0):
    sock.settimeout(timeout)
    chunks = []
    try:
        while data := sock.recv(65536):
            chunks.append(data)
    except ConnectionResetError:  # the server closed with our unread bytes: RST after its reply
        pass
    return b"".join(chunks)


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def quietly_send(sock, data):
    """Send; the server may close first (clock always does), which is not our test's fault."""
    try:
        sock.sendall(data)
    except OSError:
        pass


# -- faults -------------------------------------------------------------------------


def test_garbage(served):
    name, server = served
    rng = random.Random(7)
    for _ in range(5):
        with socket.create_connection(server.address, timeout=5) as s:
            quietly_send(s, rng.randbytes(64 * 1024))


def test_500_connects_and_closes(served):
    name, server = served
    for _ in range(500):
        socket.create_connection(server.address, timeout=5).close()


PARTIAL = {"echo": "你".encode()[:2], "greeting": b"\x00\x0ahalf", "clock": b"",
           "chat": b"/nick al"}


def test_resets_mid_message(served):
    name, server = served
    for _ in range(20):
        s = socket.create_connection(server.address, timeout=5)
        quietly_send(s, PARTIAL[name])
        reset(s)


def test_half_close(served):
    name, server = served
    if name == "chat":
        with socket.create_connection(server.address, timeout=5) as other, \
                socket.create_connection(server.address, timeout=5) as s:
            wait_joined(server, other, s)
            s.sendall("/nick half\n你好\n".encode())
            s.shutdown(socket.SHUT_WR)  # EOF: leaves the room
            assert read_all(s) == b""  # nothing for her, then the server closes
            assert chat_lines(other, 2, keep=[b"* half left"]) == ["half: 你好".encode(), b"* half left"]
        return
    with socket.create_connection(server.address, timeout=5) as s:
        message = {"echo": "你好".encode(), "greeting": encode_utf("你好"), "clock": b""}[name]
        quietly_send(s, message)
        s.shutdown(socket.SHUT_WR)
        reply = read_all(s)
    if name == "echo":
        assert reply == "欢迎访问>>>>你好\r\n".encode()
    elif name == "greeting":
        assert reply == encode_utf(f"谢谢连接我:/127.0.0.1:{server.port}\nGoodbye!")
    else:
        assert reply.decode().startswith("服务端消息: ")


def test_50_idle_clients_do_not_block_a_good_one(served):
    name, server = served
    idle = [socket.create_connection(server.address, timeout=5) for _ in range(50)]
    try:
        assert_serves_a_good_client(name, server)  # within the client's own timeout
    finally:
        for s in idle:
            s.close()


TEXT = "a你好😀"


@pytest.fixture(params=READERS)
def reader_served(request):
    yield from _serve(request.param)


def send_apart(server, sock, first: bytes, rest: bytes) -> None:
    """Send *first*; wait until the server has read exactly those bytes and waits for more
    (so its reads end where the halves meet: the case under test); then send *rest*."""
    wait_delivered(sock)  # (under load, bytes sent before may still be on their way)
    assert server.wait_quiet(10)  # whatever came before is read
    before = len(server.events.snapshot())
    sock.sendall(first)
    deadline = time.monotonic() + 10
    while True:  # (under load, the bytes may reach the server after wait_quiet looked)
        assert server.wait_quiet(10)
        read = sum(e.nbytes or 0 for e in server.events.snapshot()[before:]
                   if e.kind == "received")
        if read >= len(first) or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    assert read == len(first), server.events
    sock.sendall(rest)


def test_split_at_every_byte(reader_served):
    name, server = reader_served
    if name == "chat":
        with socket.create_connection(server.address, timeout=5) as bob, \
                socket.create_connection(server.address, timeout=5) as alice:
            wait_joined(server, bob, alice)
            alice.sendall(b"/nick alice\n")
            data = f"{TEXT}\n".encode()
            for cut in range(1, len(data)):
                send_apart(server, alice, data[:cut], data[cut:])
            assert chat_lines(bob, len(data) - 1) == [f"alice: {TEXT}".encode()] * (len(data) - 1)
        return
    data = encode_utf(TEXT) if name == "greeting" else TEXT.encode()
    for cut in range(1, len(data)):
        with socket.create_connection(server.address, timeout=5) as s:
            send_apart(server, s, data[:cut], data[cut:])
            if name == "greeting":
                assert read_utf(s, timeout=5) == f"谢谢连接我:/127.0.0.1:{server.port}\nGoodbye!"
                continue
            s.shutdown(socket.SHUT_WR)
            reply = read_all(s).decode()  # one reply per piece of text the server decoded
        pieces = re.findall(r"欢迎访问>>>>(.*?)\r\n", reply, flags=re.S)
        assert "".join(pieces) == TEXT and "".join(f"欢迎访问>>>>{p}\r\n" for p in pieces) == reply


def test_lying_length_prefixes():
    gen = _serve("greeting")
    name, server = next(gen)
    lies = [
        b"\x03\xe8" + b"only ten b",  # says 1000 bytes, sends 10, then EOF
        b"\xff\xff",  # says 65535, sends nothing
        b"\x00\x05\xff\xfe\xfd\xfc\xfb",  # 5 bytes that are not modified UTF-8
        b"\x00\x04" + "你".encode()[:2] + b"ab",  # a character cut by the length
    ]
    for lie in lies:
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(lie)
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == b""  # the server gives up on it and closes
    with socket.create_connection(server.address, timeout=5) as s:
        s.sendall(b"\x00\x03abc" + b"and more")  # says 3: the rest is not read
        assert read_utf(s, timeout=5) == f"谢谢连接我:/127.0.0.1:{server.port}\nGoodbye!"
    with pytest.raises(StopIteration):
        next(gen)


def test_a_megabyte_without_a_newline(served):
    name, server = served
    megabyte = b"x" * (1 << 20)
    if name == "chat":
        with socket.create_connection(server.address, timeout=5) as other, \
                socket.create_connection(server.address, timeout=5) as s:
            room = server.handler
            wait_joined(server, other, s)
            s.sendall(b"/nick big\n")
            for start in range(0, len(megabyte), 65536):
                s.sendall(megabyte[start:start + 65536])
                assert room.pending_bytes() <= room.max_line  # bounded memory
            assert read_lines(s, 1) == [b"! line too long"]  # before any newline came
            s.sendall(b"\nstill here\n")
            assert chat_lines(other, 1) == [b"big: still here"]
        return
    with socket.create_connection(server.address, timeout=5) as s:
        reply = []
        reader = threading.Thread(target=lambda: reply.append(read_all(s, 10)))
        reader.start()  # echo answers as it reads: read while sending
        quietly_send(s, megabyte)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        reader.join(10)
    if name == "echo":
        text = reply[0].decode()
        assert "".join(re.findall(r"欢迎访问>>>>(x*)\r\n", text)) == megabyte.decode()
    elif name == "greeting":  # b"xx" reads as a length of 30840: a reply, then close
        assert reply[0] == encode_utf(f"谢谢连接我:/127.0.0.1:{server.port}\nGoodbye!")


# -- load -----------------------------------------------------------------------------


@pytest.mark.timeout(90)  # a few seconds here; far more when other jobs share the CPUs
def test_chat_load_50_clients_200_lines_each(record_property):
    gen = _serve("chat")
    name, server = next(gen)
    n, lines = 50, 200
    socks = [socket.create_connection(server.address, timeout=10) for _ in range(n)]
    try:
        for i, s in enumerate(socks):
            s.sendall(f"/nick c{i:02d}\n".encode())
        wait_joined(server, *socks)
        for s in socks:
            wait_delivered(s)  # every /nick is in the server's sockets, where wait_quiet sees it
        assert server.wait_quiet(5)  # every /nick went through
        received = [[] for _ in range(n)]
        expected = (n - 1) * lines

        def read(i):
            received[i] = read_lines(socks[i], expected, timeout=20)

        readers = [threading.Thread(target=read, args=(i,)) for i in range(n)]
        started = time.monotonic()
        for t in readers:
            t.start()
        for j in range(0, lines, 20):  # every client sends 20 lines, round and round
            for i, s in enumerate(socks):
                s.sendall(b"".join(f"{k}\n".encode() for k in range(j, j + 20)))
        for t in readers:
            t.join(25)
        took = time.monotonic() - started
    finally:
        for s in socks:
            s.close()
    lost = sum(expected - len(r) for r in received)
    rate = n * expected / took
    print(f"\nchat load: {n} clients x {lines} lines, {n * expected} deliveries in "
          f"{took:.2f} s = {rate:,.0f} deliveries/s, {lost} lost")
    record_property("chat_deliveries_per_second", round(rate))
    record_property("chat_lost", lost)
    assert lost == 0
    for i, got in enumerate(received):
        by_sender = {}
        for line in got:
            sender, _, text = line.decode().partition(": ")
            by_sender.setdefault(sender, []).append(text)
        assert sorted(by_sender) == [f"c{k:02d}" for k in range(n) if k != i]
        assert all(v == [str(k) for k in range(lines)] for v in by_sender.values())
    assert server.handler.slow_dropped == 0
    with pytest.raises(StopIteration):
        next(gen)

"""labkit.serving.selectserver, labkit.serving.aioserver and labkit.serving.loadgen: exact bytes, back-pressure, cleanup."""

import socket
import threading
import time

import pytest

import labkit
from labkit.serving.aioserver import AsyncioServer
from labkit.serving.selectserver import SelectServer
from support import echo_roundtrip, read_all

pytestmark = pytest.mark.timeout(30)

PREFIX = "欢迎访问>>>>".encode()


def recv_exactly(sock, n, timeout=5.0):
    return labkit.recv_exactly(sock, n, timeout=timeout)


def texts_of(replies: bytes) -> bytes:
    """Join the texts of a run of echo replies (prefix + text + CRLF each)."""
    assert replies.endswith(b"\r\n")
    pieces = replies[:-2].split(b"\r\n")
    assert all(p.startswith(PREFIX) for p in pieces)
    return b"".join(p[len(PREFIX):] for p in pieces)


@pytest.fixture(params=["select", "asyncio"])
def make(request):
    return {"select": SelectServer, "asyncio": AsyncioServer}[request.param]


def test_echo_exact_bytes_and_clean_stop(baseline, make):
    server = make()
    assert server.host == "127.0.0.1" and server.port > 0  # bound before the constructor returned
    assert echo_roundtrip(server.address) == "欢迎访问>>>>你好\r\n".encode()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 0.5
    server.stop()  # idempotent
    assert server.sock.fileno() == -1 and not server.running


def test_a_character_split_across_reads_is_held_back(baseline, make):
    with make() as server, socket.create_connection(server.address, timeout=5) as s:
        s.sendall("你".encode()[:2])
        s.settimeout(0.1)
        with pytest.raises(socket.timeout):
            s.recv(100)  # two bytes of a character: nothing to answer yet
        s.sendall("你".encode()[2:] + b"!")
        assert recv_exactly(s, len(PREFIX) + 6) == PREFIX + "你!".encode() + b"\r\n"


def test_an_incomplete_last_character_becomes_a_replacement(baseline, make):
    with make() as server, socket.create_connection(server.address, timeout=5) as s:
        s.sendall(b"ok" + "你".encode()[:1])
        assert recv_exactly(s, len(PREFIX) + 4) == PREFIX + b"ok\r\n"
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == PREFIX + "\ufffd".encode() + b"\r\n"


def test_interleaved_clients_each_get_their_own_replies(baseline, make):
    with make() as server:
        clients = [socket.create_connection(server.address, timeout=5) for _ in range(20)]
        for round_ in range(3):
            for i, s in enumerate(clients):
                s.sendall(f"{i}/{round_}".encode())
            for i, s in enumerate(clients):
                want = PREFIX + f"{i}/{round_}".encode() + b"\r\n"
                assert recv_exactly(s, len(want)) == want
        for s in clients:
            s.close()


def backed_up(server) -> bool:
    """True while the server holds replies that wait for the client to read them."""
    if isinstance(server, SelectServer):
        return any(c.writing for c in list(server.clients.values()))  # watching EVENT_WRITE
    return any(w.transport.get_write_buffer_size() for w in server.connections.values())


def test_a_client_that_does_not_read_gets_everything_later(baseline, make):
    # 4 MiB in, replies not read until the end: the server must buffer, stop reading
    # and resume, not block its one thread or lose bytes. The buffers on the replies' way
    # are kept small (an accepted socket takes its listener's): loopback's grow to several
    # MiB and took all the replies, so the server never had to wait until this was done.
    payload = b"a" * (4 << 20)
    with make() as server, socket.socket() as s:
        server.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 << 10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        s.settimeout(10)
        s.connect(server.address)
        sender = threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
        sender.start()
        deadline = time.monotonic() + 10
        while not backed_up(server):  # both directions full: the server waits on us
            assert time.monotonic() < deadline, "the server never had to wait for the client"
            time.sleep(0.005)
        replies = read_all(s, timeout=10)
        sender.join(10)
        assert texts_of(replies) == payload


def test_stop_closes_idle_connections(baseline, make):
    server = make()
    idle = [socket.create_connection(server.address, timeout=5) for _ in range(3)]
    assert server.wait_quiet(2)
    server.stop()
    for s in idle:
        assert s.recv(10) == b""
        s.close()


def test_select_event_log_levels(baseline):
    with SelectServer() as full, SelectServer(log="connections") as brief:
        echo_roundtrip(full.address)
        echo_roundtrip(brief.address)
        assert full.log().kinds() == ["connected", "received", "sent", "end of stream", "closed"]
        assert brief.log().kinds() == ["connected", "closed"]
        assert repr(full.log()).splitlines()[1] == "[conn 1] received 6 bytes: '你好'"
    with pytest.raises(ValueError, match="log must be one of"):
        SelectServer(log="everything")


def test_select_silent_client_times_out_and_others_are_served(baseline):
    with SelectServer(timeout=0.2) as server:
        silent = socket.create_connection(server.address, timeout=5)
        assert silent.recv(10) == b""  # dropped after 0.2 s of silence
        assert "timed out" in server.log().kinds(1)
        assert echo_roundtrip(server.address) == "欢迎访问>>>>你好\r\n".encode()
        silent.close()


def test_select_failed_bind_leaks_nothing(baseline):
    with SelectServer() as first:
        with pytest.raises(labkit.errors.LabkitError, match="already in use"):
            SelectServer(port=first.port)


def test_serve_select_replaces_a_server_of_the_same_name(baseline):
    old = labkit.serve_select(name="select-test")
    new = labkit.serve_select(name="select-test")
    assert not old.running and new.running
    assert labkit.running() == [new]
    assert echo_roundtrip(new.address) == "欢迎访问>>>>你好\r\n".encode()
    assert labkit.stop_all() == 1


def test_loadgen_counts_and_checks_every_reply(baseline, make):
    with make() as server:
        result = labkit.measure_echo(server, clients=20, requests=5, message="你好 load")
        assert (result.clients, result.requests, result.correct) == (20, 100, 100)
        assert len(result.latencies) == 100 and result.throughput > 0
        results = labkit.sweep_echo(server, counts=(1, 3), total=6)
        assert [(r.clients, r.requests, r.correct) for r in results] == [(1, 6, 6), (3, 6, 6)]
        assert "all correct" in repr(result)


def test_loadgen_rejects_a_server_that_is_not_echo(baseline):
    def plain_echo(conn):  # no 欢迎访问>>>> in front
        while data := conn.recv(1024):
            conn.sendall(data + b"\r\n")

    with labkit.TCPServer(plain_echo) as server:
        with pytest.raises(ConnectionError, match="does not answer like an echo server"):
            labkit.measure_echo(server, clients=1, requests=1, timeout=2)


def test_loadgen_times_out_instead_of_hanging(baseline):
    def mute(conn):
        while conn.recv(1024):
            pass

    with labkit.TCPServer(mute) as server:
        with pytest.raises(socket.timeout):
            labkit.measure_echo(server, clients=1, requests=1, timeout=0.2)

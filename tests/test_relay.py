"""labkit.serving.relay: exact datagrams, deterministic loss and reordering, cleanup."""

import socket
import time

import pytest

import labkit
from labkit.serving.relay import Relay
from labkit.serving.udp import UDPServer

pytestmark = pytest.mark.timeout(30)


def shout(data, peer):
    return "欢迎访问>>>>".encode() + data + b"\r\n"


def client(timeout=0.5):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    return sock


def burst(relay, n, timeout=0.5):
    """Send #1..#n through the relay at once; return the texts of the replies, in order."""
    with client(timeout) as sock:
        for i in range(1, n + 1):
            sock.sendto(f"#{i}".encode(), relay.address)
        got = []
        try:
            while True:
                got.append(sock.recv(2048).decode().removeprefix("欢迎访问>>>>").removesuffix("\r\n"))
        except socket.timeout:
            return got


def test_forwards_exact_datagrams_both_ways_and_stops_cleanly(baseline):
    server = UDPServer(shout)
    relay = Relay(server.address)
    assert relay.host == "127.0.0.1" and relay.port != server.port
    with client() as sock:
        sock.sendto("你好".encode(), relay.address)
        data, peer = sock.recvfrom(2048)
    assert data == "欢迎访问>>>>你好\r\n".encode() and peer == relay.address
    assert relay.stats == {"requests": {"arrived": 1, "forwarded": 1, "lost": 0, "reordered": 0},
                           "replies": {"arrived": 1, "forwarded": 1, "lost": 0, "reordered": 0}}
    started = time.monotonic()
    relay.stop()
    assert time.monotonic() - started < 0.5
    relay.stop()  # idempotent
    assert relay.sock.fileno() == -1 and not relay.running
    server.stop()


def test_drop_lists_lose_exactly_those_datagrams(baseline):
    with UDPServer(shout) as server, Relay(server, drop=(2, 4), drop_replies=(1,)) as relay:
        assert burst(relay, 5) == ["#3", "#5"]
        assert server.log().kinds().count("received") == 3  # 1, 3 and 5 reached the server
        assert str(relay.report()) == (
            "requests arrived   5, went on in the order 1 3 5; lost 2 4\n"
            "replies  arrived   3, went on in the order 2 3; lost 1")
        # labelled by their text, a reply is named by the request it answers
        assert str(relay.report(label=lambda data: data.decode().removeprefix("欢迎访问>>>>").strip())) == (
            "requests arrived   5, went on in the order #1 #3 #5; lost #2 #4\n"
            "replies  arrived   3, went on in the order #3 #5; lost #1")


def test_reorder_swaps_each_datagram_with_the_next(baseline):
    with UDPServer(shout) as server, Relay(server, reorder=1.0, hold=5.0) as relay:
        with client() as sock:
            for i in range(1, 5):
                sock.sendto(f"#{i}".encode(), relay.address)
            got = [sock.recv(2048) for _ in range(4)]
        # requests go on as 2 1 4 3, replies are swapped again: 1 2 3 4
        assert relay.directions["requests"].forwarded == [2, 1, 4, 3]
        assert [g.decode()[-4:-2] for g in got] == ["#1", "#2", "#3", "#4"]


def test_a_held_datagram_goes_on_after_hold_seconds(baseline):
    with UDPServer(shout) as server, Relay(server, reorder=1.0, hold=0.05) as relay:
        with client(timeout=2) as sock:
            sock.sendto(b"alone", relay.address)
            assert sock.recv(2048) == "欢迎访问>>>>alone\r\n".encode()
        assert relay.stats["requests"]["reordered"] == 1


def test_the_same_seed_makes_the_same_choices(baseline):
    with UDPServer(shout) as server:
        runs = []
        for seed in (7, 7, 8):
            with Relay(server, loss=0.3, reorder=0.3, seed=seed, hold=0.1) as relay:
                got = burst(relay, 20, timeout=0.4)
                runs.append((got, str(relay.report())))
        assert runs[0] == runs[1]
        assert runs[0] != runs[2]
        assert 0 < len(runs[0][0]) < 20


def test_each_client_gets_its_own_replies(baseline):
    with UDPServer(shout) as server, Relay(server) as relay:
        with client() as a, client() as b:
            a.sendto(b"from a", relay.address)
            b.sendto(b"from b", relay.address)
            assert b.recv(2048) == "欢迎访问>>>>from b\r\n".encode()
            assert a.recv(2048) == "欢迎访问>>>>from a\r\n".encode()
        assert relay.peers and len(relay.peers) == 2


def test_loss_of_everything_and_arrival_times(baseline):
    with UDPServer(shout) as server, Relay(server, loss=1.0) as relay:
        assert burst(relay, 3, timeout=0.2) == []
        assert relay.stats["requests"]["lost"] == 3
        times = relay.arrival_times("requests")
        assert len(times) == 3 and times == sorted(times)
        assert server.log().kinds() == []


def test_nothing_listening_upstream_is_noted_not_fatal(baseline):
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))
    address = dead.getsockname()
    dead.close()
    with Relay(address) as relay:
        with client(timeout=0.2) as sock:
            sock.sendto(b"x", relay.address)
            with pytest.raises(socket.timeout):
                sock.recv(100)
        assert relay.wait_quiet(10)
        assert relay.running and relay.errors == []
        assert any("ConnectionRefusedError" in e.detail for e in relay.events)


def test_bad_arguments_are_refused_and_leak_nothing(baseline):
    with pytest.raises(ValueError, match="loss must be a probability"):
        Relay(("127.0.0.1", 9), loss=1.5)
    with pytest.raises(TypeError, match="port must be an int"):
        Relay(("127.0.0.1", "9"))


def test_serve_relay_replaces_a_relay_of_the_same_name(baseline):
    with UDPServer(shout) as server:
        old = labkit.serve_relay(server, name="relay-test")
        new = labkit.serve_relay(server, name="relay-test", seed=3)
        assert not old.running and new.running
        assert burst(new, 1) == ["#1"]
        assert labkit.stop_all() == 1

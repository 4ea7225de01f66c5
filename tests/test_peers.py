"""Tests for labkit.wire.peers: rechunk keeps the stream, the peer sends seeded pieces."""

import random
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.wire.framing import recv_exactly
from labkit.wire.peers import AdversarialPeer, rechunk, utf8_cuts

pytestmark = pytest.mark.timeout(30)


def crosses_a_boundary(writes, pieces):
    ends = set()
    offset = 0
    for write in writes:
        offset += len(write)
        ends.add(offset)
    offset = 0
    for piece in pieces:
        if any(offset < end < offset + len(piece) for end in ends):
            return True
        offset += len(piece)
    return False


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def tcp_pair():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
    yield client, server
    client.close()
    server.close()


@settings(max_examples=150, deadline=None)
@given(
    writes=st.lists(st.binary(max_size=20)),
    seed=st.integers(0, 2**32),
    max_piece=st.one_of(st.none(), st.integers(1, 6)),
)
def test_rechunk_keeps_the_stream(writes, seed, max_piece):
    pieces = rechunk(writes, random.Random(seed), max_piece=max_piece)
    assert b"".join(pieces) == b"".join(writes)
    assert all(pieces)
    if max_piece is not None:
        assert all(len(piece) <= max_piece for piece in pieces)
    assert rechunk(writes, random.Random(seed), max_piece=max_piece) == pieces


def test_rechunk_splits_and_merges():
    writes = [b"abcd"] * 6
    results = [rechunk(writes, random.Random(seed)) for seed in range(20)]
    assert any(crosses_a_boundary(writes, pieces) for pieces in results)
    assert any(len(pieces) > len(writes) for pieces in results)
    assert rechunk([], random.Random(0)) == []
    assert rechunk([b"", b"x", b""], random.Random(0)) == [b"x"]


def test_rechunk_refuses_a_bad_max_piece():
    with pytest.raises(ValueError, match="max_piece must be >= 1"):
        rechunk([b"x"], random.Random(0), max_piece=0)


def test_utf8_cuts():
    assert utf8_cuts("aé你😀".encode()) == [2, 4, 5, 7, 8, 9]
    assert utf8_cuts(b"ascii") == []
    assert utf8_cuts("你".encode()) == [1, 2]


def test_sendall_over_tcp_in_seeded_pieces(tcp_pair):
    client, server = tcp_pair
    data = "欢迎访问>>>>hello".encode()
    peer = AdversarialPeer(client, seed=3, pause=0.001)
    assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    peer.sendall(data)
    assert recv_exactly(server, len(data), timeout=2) == data
    assert b"".join(peer.pieces_sent) == data
    assert len(peer.pieces_sent) > 2
    assert all(1 <= len(piece) <= 7 for piece in peer.pieces_sent)


def test_same_seed_same_pieces():
    sent = []
    for _ in range(2):
        a, b = socket.socketpair()
        with AdversarialPeer(a, seed=42, pause=0) as peer, b:
            peer.sendall(bytes(range(50)))
            peer.send_messages([b"one\n", b"two\n", b"three\n"])
            sent.append(peer.pieces_sent)
    assert sent[0] == sent[1]
    a, b = socket.socketpair()
    with AdversarialPeer(a, seed=43, pause=0) as peer, b:
        peer.sendall(bytes(range(50)))
        assert peer.pieces_sent != sent[0][: len(peer.pieces_sent)]


def test_send_messages_merges_and_splits(pair):
    a, b = pair
    messages = [b"hello\n", b"world\n", b"\xe4\xbd\xa0\n"] * 4
    peer = AdversarialPeer(a, seed=1, pause=0)
    peer.send_messages(messages)
    expected = b"".join(messages)
    assert recv_exactly(b, len(expected), timeout=2) == expected
    assert b"".join(peer.pieces_sent) == expected
    assert crosses_a_boundary(messages, peer.pieces_sent)


def test_split_at_exact_offsets(pair):
    a, b = pair
    data = "a你b".encode()
    peer = AdversarialPeer(a, pause=0)
    peer.split_at(data, [2, 0, 2, 5])
    assert peer.pieces_sent == [b"a\xe4", b"\xbd\xa0b"]
    assert recv_exactly(b, len(data), timeout=2) == data
    with pytest.raises(ValueError, match="offset 6 is outside 0..5"):
        peer.split_at(data, [6])


def test_context_manager_closes_the_socket(pair):
    a, b = pair
    with AdversarialPeer(a) as peer:
        peer.sendall(b"x")
    assert a.fileno() == -1
    peer.close()  # twice is fine
    assert b.recv(10) == b"x"
    assert b.recv(10) == b""

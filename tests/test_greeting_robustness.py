"""labkit's greeting server against clients that lie, dawdle, babble or vanish.

Each bad client is followed by a good one that must be served byte for byte, and
every test ends with the server stopped and threads and file descriptors back to
their baseline (the ``baseline`` fixture).
"""

import socket
import struct
import threading
import time

import pytest

import labkit
from labkit.serving.servers import TCPServer
from support import read_all, reset, settle, wait_closed

pytestmark = pytest.mark.timeout(30)


def reply_bytes(server) -> bytes:
    """What the greeting server must send: writeUTF of the seed's reply."""
    body = f"谢谢连接我:/127.0.0.1:{server.port}\nGoodbye!".encode()
    return struct.pack(">H", len(body)) + body


def served_correctly(server, text: str = "好 😀 \x00 ok") -> None:
    """A good client after the bad ones: exact reply bytes, and the server read its text."""
    with socket.create_connection(server.address, timeout=5) as s:
        s.sendall(labkit.encode_utf(text))
        assert read_all(s) == reply_bytes(server)
    assert server.wait_quiet(10)
    assert f"readUTF() -> {text!r}" in repr(server.events)
    assert server.errors == []


def read_until_reset(sock) -> tuple[bytes, str]:
    """Read everything; say whether the connection ended with EOF or with a reset."""
    sock.settimeout(5)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        return data, "reset"
    return data, "eof"


def test_a_length_that_promises_more_than_comes_then_eof(baseline):
    with TCPServer(labkit.greeting) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(b"\x00\x10only 7")
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == b""
        assert server.wait_quiet(10)
        kinds = server.events.kinds(1)
        assert "dropped" in kinds and "sent" not in kinds
        assert "PeerClosedError" in repr(server.events)
        served_correctly(server)


def test_a_length_that_promises_more_than_comes_then_silence(baseline):
    with TCPServer(labkit.greeting, timeout=0.3) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(b"\x00\x10only 7")  # and then nothing, connection left open
            assert read_all(s) == b""     # the server gives up after its timeout
        assert server.wait_quiet(10)
        assert "timed out" in server.events.kinds(1)
        served_correctly(server)


def test_a_length_that_promises_less_than_comes(baseline):
    # The server reads the 2 bytes it was promised, answers, and closes with the rest
    # unread: its kernel then resets the connection (RST) instead of a clean FIN.
    with TCPServer(labkit.greeting) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(b"\x00\x02hi and more that nobody announced")
            data, end = read_until_reset(s)
        assert data == reply_bytes(server)
        assert end in ("reset", "eof")  # Linux: reset; the reply arrives before it either way
        assert server.wait_quiet(10)
        assert "readUTF() -> 'hi'" in repr(server.events)
        served_correctly(server)


def test_one_byte_at_a_time(baseline):
    text = "服务端消息 😀 \x00!"
    wire = labkit.encode_utf(text)
    with TCPServer(labkit.greeting) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(wire)):
                s.sendall(wire[i:i + 1])
                time.sleep(0.001)
            assert read_all(s) == reply_bytes(server)
        assert server.wait_quiet(10)
        received = [e.nbytes for e in server.events if e.conn == 1 and e.kind == "received"]
        assert sum(received) == len(wire) and len(received) > 2  # it really came in pieces
        assert f"readUTF() -> {text!r}" in repr(server.events)
        served_correctly(server)


def test_an_adversarial_peer_that_cuts_everywhere(baseline):
    text = "你好, Java 😀"
    with TCPServer(labkit.greeting) as server:
        for seed in range(5):
            with socket.create_connection(server.address, timeout=5) as s:
                labkit.AdversarialPeer(s, seed=seed, max_piece=3).sendall(labkit.encode_utf(text))
                assert read_all(s) == reply_bytes(server)
        assert server.wait_quiet(10)
        assert repr(server.events).count(f"readUTF() -> {text!r}") == 5
        served_correctly(server)


@pytest.mark.parametrize("garbage", [
    b"\x00\x04\xf0\x9f\x98\x80",                  # an emoji in standard UTF-8: F0 is not allowed
    b"\x00\x03a\x00b",                            # a raw zero byte (Java writes C0 80)
    b"\x00\x02\xe4\xbd",                          # a character cut off by the length
    b"\x00\x02\xff\xfe",                          # bytes that are never UTF-8
])
def test_garbage_inside_a_frame_is_refused(baseline, garbage):
    with TCPServer(labkit.greeting) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(garbage)
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == b""
        assert server.wait_quiet(10)
        assert "dropped" in server.events.kinds(1)
        assert "FramingError" in repr(server.events)
        served_correctly(server)


def test_a_client_speaking_http_instead(baseline):
    # "GE" read as a length is 0x4745 = 18245 bytes: the server waits for them, the
    # client closes first, and the server drops the connection without replying.
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with TCPServer(labkit.greeting) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(request)
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == b""
        assert server.wait_quiet(10)
        assert "dropped" in server.events.kinds(1)
        assert f"after {len(request) - 2} of 18245 payload bytes" in repr(server.events)
        served_correctly(server)


def test_clients_that_vanish(baseline):
    with TCPServer(labkit.greeting) as server:
        socket.create_connection(server.address, timeout=5).close()    # a probe: not a word
        s = socket.create_connection(server.address, timeout=5)
        s.sendall(b"\x00\x08half")
        settle(server, s)  # the server has read "half": the RST comes mid-frame
        reset(s)                                                        # RST mid-frame
        s = socket.create_connection(server.address, timeout=5)
        s.sendall(b"\xff")
        settle(server, s)  # the server has read b"\xff": the RST comes mid-length
        reset(s)                                                        # RST mid-length
        wait_closed(server, (1, 2, 3))
        for conn in (1, 2, 3):
            assert server.events.kinds(conn)[-2:] == ["dropped", "closed"]
        served_correctly(server)


def test_many_bad_clients_at_once_then_a_good_one(baseline):
    bad = [b"\x00\x10short", b"\x00\x02\xff\xfe", b"\x00", b"", b"\x00\x05"]
    with TCPServer(labkit.greeting) as server:
        socks = [socket.create_connection(server.address, timeout=5) for _ in bad]
        for s, wire in zip(socks, bad):
            s.sendall(wire)
        served_correctly(server)          # served while the others still hang on
        for s in socks:
            s.close()
        wait_closed(server, range(1, len(bad) + 1))  # each EOF handled (FINs may be in flight)
        assert server.wait_quiet(10)
        assert server.errors == []
        assert server.accepted == len(bad) + 1


def test_stop_is_quick_with_stuck_clients_connected(baseline):
    server = TCPServer(labkit.greeting, timeout=60)
    socks = [socket.create_connection(server.address, timeout=5) for _ in range(3)]
    socks[0].sendall(b"\x00\x10only 7")   # a frame that never completes
    socks[1].sendall(b"\x00")             # half a length
    settle(server, socks[0], socks[1])    # both handlers stuck mid-message, not before it
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(5)
    assert not stopper.is_alive()         # stop() did not wait for the 60 s timeout
    assert server.sock.fileno() == -1 and server.connections == {}
    for s in socks:
        assert read_all(s) == b""         # each stuck client sees the end of the stream
        s.close()
    server.stop()                         # and a second stop() is harmless

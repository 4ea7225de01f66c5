"""labkit.seeing.wiretap: every byte passes unchanged both ways, whatever the chunking; TLS record
headers are read right; half-close and reset are passed on; cleanup."""

import socket
import struct
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import labkit
from labkit.seeing.wiretap import DOWN, UP, TLSRecord, Wiretap, looks_like_tls, parse_records

pytestmark = pytest.mark.timeout(120)


def test_a_plain_echo_passes_readably_and_the_tap_stops_cleanly(baseline):
    with labkit.serve(labkit.echo) as server:
        tap = Wiretap(server)
        assert tap.address != server.address
        assert labkit.echo_client(tap, "你好") == "欢迎访问>>>>你好\r\n"
        assert tap.show() == ("[conn 1] client → server  6 bytes: '你好'\n"
                              "[conn 1] server → client  24 bytes: '欢迎访问>>>>你好\\r\\n'")
        assert tap.data(UP) == "你好".encode() and tap.data(DOWN).endswith(b"\r\n")
        started = time.monotonic()
        tap.stop()
        assert time.monotonic() - started < 0.5
        tap.stop()  # idempotent
        assert tap.sock.fileno() == -1 and not tap.running


def test_the_diagram_has_one_arrow_per_piece_and_one_size_per_count(baseline):
    with labkit.serve(labkit.echo) as server, Wiretap(server) as tap:
        labkit.echo_client(tap, "你好")
        assert tap.arrows() == [(UP, "6 bytes: '你好'", True),
                                (DOWN, "24 bytes: '欢迎访问>>>>你好\\r\\n'", True)]
        fig = tap.diagram()
        assert len(fig.axes[0].patches) + len(fig.axes[0].texts) > 2
        assert tuple(fig.get_size_inches()) == pytest.approx((7.6, 2.0))


def test_an_unreachable_server_is_noted_and_the_client_gets_a_reset(baseline):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))  # bound, never listening: connecting is refused
        with Wiretap(placeholder.getsockname()) as tap:
            # the reset can come so soon that the client's own connect() reports it
            with pytest.raises(ConnectionResetError):
                with socket.create_connection(tap.address, timeout=2) as client:
                    client.recv(10)
            assert tap.wait_quiet(2)
            assert "could not reach the server" in str(tap.events)


@pytest.mark.parametrize("attempt", range(5))
def test_a_reset_from_the_server_reaches_the_client_as_a_reset(attempt, baseline):
    # the reset may come while the tap is still connecting upstream, or once it relays
    with socket.create_server(("127.0.0.1", 0)) as listener, Wiretap(listener.getsockname()) as tap:
        with socket.create_connection(tap.address, timeout=2) as client:
            conn, _ = listener.accept()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # a reset
            with pytest.raises(ConnectionResetError):
                client.recv(10)


def test_stop_ends_a_relayed_connection_that_is_still_open(baseline):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        tap = Wiretap(listener.getsockname())
        client = socket.create_connection(tap.address, timeout=2)
        conn, _ = listener.accept()
        with client, conn:
            started = time.monotonic()
            tap.stop()
            assert time.monotonic() - started < 0.5
            assert client.recv(10) == b""


def _talk(address, up_chunks, down_chunks, listener):
    """The client sends up_chunks then half-closes; the server reads all, sends down_chunks,
    closes. Returns (what the server got, what the client got)."""
    got = {}

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
            got["server"] = data
            for piece in down_chunks:
                conn.sendall(piece)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with socket.create_connection(address, timeout=5) as client:
            for piece in up_chunks:
                client.sendall(piece)
            client.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := client.recv(65536):
                data += chunk
    finally:
        thread.join(5)
    return got["server"], data


chunks = st.lists(st.binary(min_size=1, max_size=3000), max_size=8)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(up=chunks, down=chunks)
def test_every_byte_passes_unchanged_both_ways_whatever_the_chunking(up, down):
    with socket.create_server(("127.0.0.1", 0)) as listener, Wiretap(listener.getsockname()) as tap:
        server_got, client_got = _talk(tap.address, up, down, listener)
        assert tap.wait_quiet(3)
        assert server_got == b"".join(up) and client_got == b"".join(down)
        assert tap.data(UP) == b"".join(up) and tap.data(DOWN) == b"".join(down)


def test_tls_through_the_tap_shows_records_and_no_clear_text(baseline):
    import trustme

    ca = trustme.CA()
    context = labkit.serving.server_context(ca.issue_cert("127.0.0.1"))
    with labkit.serving.TLSServer(labkit.echo, context) as server, Wiretap(server) as tap:
        reply = labkit.tls_echo_client(tap, "你好", cafile=labkit.serving.save_ca(ca),
                                       server_hostname="127.0.0.1")
        assert reply == "欢迎访问>>>>你好\r\n"
        assert tap.wait_quiet(3)
        up, down = tap.records(UP), tap.records(DOWN)
        assert "你好".encode() not in tap.data(UP) and "你好".encode() not in tap.data(DOWN)
        assert up[0].describe().startswith("handshake (ClientHello), TLS 1.")
        assert down[0].describe().startswith("handshake (ServerHello), TLS 1.2")
        assert up[-1].length == len("你好".encode()) + 17  # the message: 16-byte tag, 1 type byte
        text = tap.show()
        assert text.count("TLS record:") == len(up) + len(down)
        arrows = tap.arrows()
        assert len(arrows) == len(up) + len(down)
        assert [a[2] for a in arrows if a[0] == UP] == [r.type != 23 for r in up]


# -- TLS record headers ---------------------------------------------------------------

def record_bytes(kind, version, payload):
    return struct.pack("!BHH", kind, version, len(payload)) + payload


records = st.lists(st.tuples(st.sampled_from([20, 21, 22, 23]),
                             st.sampled_from([0x0301, 0x0303]),
                             st.binary(max_size=300)), max_size=6)


@given(records=records, cut=st.integers(min_value=0))
def test_records_are_parsed_back_whatever_the_cut(records, cut):
    stream = b"".join(record_bytes(*r) for r in records)
    cut = cut % (len(stream) + 1)
    first, rest = parse_records(stream[:cut])
    second, tail = parse_records(rest + stream[cut:])
    assert tail == b""
    assert [(r.type, r.version, r.payload) for r in first + second] == records
    assert all(r.length == len(r.payload) for r in first + second)


def test_a_record_header_is_described_by_its_fields():
    assert TLSRecord(22, 0x0301, 512, b"\x01rest").describe() == \
        "handshake (ClientHello), TLS 1.0, 512 bytes"
    assert TLSRecord(20, 0x0303, 1, b"\x01").describe() == "change_cipher_spec, TLS 1.2, 1 byte"
    assert TLSRecord(99, 0x0999, 3, b"abc").describe() == "type 99, 0x0999, 3 bytes"


def test_text_is_not_tls_and_a_stream_that_stops_being_tls_raises():
    assert not looks_like_tls("欢迎访问>>>>".encode())
    assert not looks_like_tls(b"\x16\x03")  # too short to tell
    with pytest.raises(ValueError, match="not a TLS record header at byte 7"):
        parse_records(record_bytes(23, 0x0303, b"hi") + "你好".encode())

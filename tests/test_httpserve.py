"""labkit.serving.httpserve: the chunked coding, split_head, and http.server in a thread (each
framing, keep-alive, replies in pieces, requests cut anywhere, garbage, cleanup)."""

import http.client
import random
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import labkit
from labkit.serving.httpserve import (HttpServer, IncompleteMessage, decode_chunked, encode_chunked,
                              serve_http, split_head)
from support import read_all

pytestmark = pytest.mark.timeout(60)

HELLO = "你好, HTTP!\n".encode()
REQUEST = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def exchange(server, request: bytes) -> bytes:
    """Send *request* with Connection: close semantics left to it; read until the close."""
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(request)
        return read_all(sock)


def read_reply(sock) -> tuple[str, dict, bytes]:
    """One Content-Length reply from *sock* (the connection stays open)."""
    data = b""
    while True:
        try:
            start, headers, body = split_head(data)
            break
        except IncompleteMessage:
            chunk = sock.recv(4096)
            assert chunk, f"closed before the head ended: {data!r}"
            data += chunk
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(4096)
        assert chunk, "closed before the body ended"
        body += chunk
    return start, headers, body


# -- the chunked coding and split_head ------------------------------------------------------

def test_encode_chunked_writes_sizes_in_hex_and_ends_with_a_zero_chunk():
    assert encode_chunked(b"x" * 26, sizes=(16,)) == (b"10\r\n" + b"x" * 16 + b"\r\n"
                                                      b"a\r\n" + b"x" * 10 + b"\r\n0\r\n\r\n")
    assert encode_chunked(b"") == b"0\r\n\r\n"
    with pytest.raises(ValueError):
        encode_chunked(b"abc", sizes=(0,))


def test_decode_chunked_skips_extensions_and_trailers_and_returns_what_follows():
    data = b"5;name=value\r\nhello\r\n0\r\nExpires: never\r\n\r\nHTTP/1.1 200"
    assert decode_chunked(data) == (b"hello", b"HTTP/1.1 200")


@pytest.mark.parametrize("bad", [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n"])
def test_decode_chunked_refuses_what_is_not_chunked(bad):
    with pytest.raises(ValueError) as caught:
        decode_chunked(bad)
    assert not isinstance(caught.value, IncompleteMessage)


@given(body=st.binary(max_size=300), sizes=st.lists(st.integers(1, 40), min_size=1, max_size=5),
       rest=st.binary(max_size=20))
def test_chunked_round_trip(body, sizes, rest):
    assert decode_chunked(encode_chunked(body, sizes) + rest) == (body, rest)


@given(body=st.binary(max_size=100), sizes=st.lists(st.integers(1, 20), min_size=1, max_size=3))
def test_every_proper_prefix_of_a_chunked_body_is_incomplete(body, sizes):
    data = encode_chunked(body, sizes)
    for end in range(len(data)):
        with pytest.raises(IncompleteMessage):
            decode_chunked(data[:end])


def test_split_head_lowers_names_and_waits_for_the_empty_line():
    assert split_head(b"HTTP/1.1 200 OK\r\nContent-LENGTH:  2 \r\n\r\nhi") == (
        "HTTP/1.1 200 OK", {"content-length": "2"}, b"hi")
    with pytest.raises(IncompleteMessage):
        split_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n")
    with pytest.raises(ValueError):
        split_head(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")


# -- the server --------------------------------------------------------------------------

def test_binds_loopback_port_0_answers_and_stops_quickly_and_twice(baseline):
    server = HttpServer()
    assert server.host == "127.0.0.1" and server.port != 0
    client = http.client.HTTPConnection(*server.address, timeout=5)
    client.request("GET", "/hello")
    reply = client.getresponse()
    assert (reply.status, reply.read(), reply.getheader("Content-Length")) == (200, HELLO, "14")
    assert reply.getheader("Date") is None and reply.getheader("Server") == "labkit"
    started = time.monotonic()
    server.stop()  # the client's connection is still open: stop() ends it
    assert time.monotonic() - started < 1.0
    server.stop()
    assert not server.running and server.sock.fileno() == -1
    client.close()
    headers = {"Host": f"127.0.0.1:{server.port}", "Accept-Encoding": "identity"}
    assert server.requests == [(1, "GET /hello HTTP/1.1", headers)]


def test_keep_alive_serves_many_requests_on_one_connection_in_each_framing(baseline):
    with HttpServer() as server, socket.create_connection(server.address, timeout=5) as sock:
        for framing in ("length", "chunked"):
            sock.sendall(b"GET /hello?framing=%s HTTP/1.1\r\nHost: x\r\n\r\n" % framing.encode())
            data = b""
            while True:
                data += sock.recv(4096)
                try:
                    start, headers, body = split_head(data)
                    if framing == "chunked":
                        body = decode_chunked(body)[0]
                    elif len(body) < int(headers["content-length"]):
                        continue
                    break
                except IncompleteMessage:
                    continue
            assert start == "HTTP/1.1 200 OK" and body == HELLO
            assert ("transfer-encoding" in headers) == (framing == "chunked")
        assert server.accepted == 1 and server.replies == 2


def test_close_framing_and_keep_alive_off_end_the_connection(baseline):
    with HttpServer(framing="close") as server:
        start, headers, body = split_head(exchange(server, REQUEST))
        assert headers["connection"] == "close" and "content-length" not in headers
        assert body == HELLO
        server.framing, server.keep_alive = "length", False
        start, headers, body = split_head(exchange(server, REQUEST))
        assert headers["connection"] == "close" and headers["content-length"] == "14"


def test_404_400_for_a_missing_host_and_http_0_9_style_answers_to_garbage(baseline):
    with HttpServer() as server:
        assert split_head(exchange(server, b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close"
                                           b"\r\n\r\n"))[0] == "HTTP/1.1 404 Not Found"
        start, headers, _ = split_head(exchange(server, b"GET / HTTP/1.1\r\n\r\n"))
        assert start == "HTTP/1.1 400 Bad Request" and headers["connection"] == "close"
        assert exchange(server, b"HELLO\r\n\r\n").startswith(b"<!DOCTYPE HTML>")  # as 0.9
        assert server.running and not server.errors


def test_split_replies_come_in_seeded_pieces_the_same_every_run(baseline):
    def pieces(seed):
        with HttpServer(split=seed, pause=0.005) as server:
            with socket.create_connection(server.address, timeout=5) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.sendall(REQUEST)
                got, data = [], b""
                while not data.endswith(HELLO):
                    chunk = sock.recv(4096)
                    got.append(len(chunk))
                    data += chunk
                return data, got

    first, sizes = pieces(3)
    assert first == pieces(3)[0] and first.endswith(HELLO) and len(sizes) > 5


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(1, len(REQUEST) - 1), max_size=6, unique=True))
def test_a_request_cut_anywhere_gets_the_same_reply(cuts):
    with HttpServer() as server, socket.create_connection(server.address, timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        bounds = [0, *sorted(cuts), len(REQUEST)]
        for a, b in zip(bounds, bounds[1:]):
            sock.sendall(REQUEST[a:b])
        assert read_reply(sock) == ("HTTP/1.1 200 OK", {
            "server": "labkit", "content-type": "text/plain; charset=utf-8",
            "content-length": "14"}, HELLO)


def test_a_request_split_at_every_byte(baseline):
    with HttpServer() as server, socket.create_connection(server.address, timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(REQUEST)):
            sock.sendall(REQUEST[i:i + 1])
        assert read_reply(sock)[2] == HELLO


def test_a_client_that_vanishes_mid_request_harms_nobody(baseline):
    import struct
    with HttpServer() as server:
        gone = socket.create_connection(server.address, timeout=5)
        gone.sendall(b"GET /hel")
        gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        gone.close()
        last = REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        assert split_head(exchange(server, last))[2] == HELLO
        assert not server.errors


def test_a_silent_client_is_dropped_after_the_timeout(baseline):
    with HttpServer(timeout=0.3) as server, \
            socket.create_connection(server.address, timeout=5) as sock:
        assert read_all(sock) == b""  # the server closed it
        deadline = time.monotonic() + 5
        while server.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.open_connections == 0


def test_serve_http_replaces_the_server_of_the_same_name_and_stop_all_stops_it(baseline):
    first = serve_http()
    second = serve_http(framing="chunked")
    assert not first.running and second.running
    assert labkit.running() == [second]
    assert labkit.stop_all() == 1 and not second.running


def test_a_bad_framing_is_refused_and_leaks_nothing(baseline):
    with pytest.raises(ValueError):
        HttpServer(framing="morse")
    with HttpServer() as server:
        start, _, _ = split_head(exchange(server, b"GET /hello?framing=morse HTTP/1.1\r\n"
                                                  b"Host: x\r\n\r\n"))
        assert start == "HTTP/1.1 400 Bad Request"


def test_ipv6_loopback_missing_is_none_or_a_reason():
    reason = labkit.ipv6_loopback_missing()
    assert reason is None or reason.startswith(("this host", "this Python"))
    if reason is None:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
            assert sock.getsockname()[0] == "::1"


def test_random_is_not_used_unseeded():
    # the pieces come from random.Random(seed), never the module's shared generator
    state = random.getstate()
    with HttpServer(split=1) as server:
        exchange(server, REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    assert random.getstate() == state

"""Tests for labkit.wire.framing: round trips through random splits, exact bytes, failure paths."""

import socket
import threading
import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.errors import FrameTooLargeError, FramingError, LabTimeoutError, PeerClosedError
from labkit.wire.framing import (
    FrameDecoder,
    LineDecoder,
    LineReader,
    TextDecoder,
    TooLong,
    encode_frame,
    encode_line,
    recv_exactly,
    recv_frame,
    send_frame,
)
from labkit.wire.javautf import (
    UtfDecoder,
    decode_modified_utf8,
    encode_modified_utf8,
    encode_utf,
    read_utf,
    write_utf,
)
from labkit.wire.peers import AdversarialPeer, rechunk, utf8_cuts

pytestmark = pytest.mark.timeout(30)

PURE = settings(max_examples=80, deadline=None)
SOCKETS = settings(max_examples=12, deadline=None)

SAMPLE = "aé你😀"  # 1, 2, 3 and 4 bytes in UTF-8

rngs = st.randoms(use_true_random=False)
line_texts = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n"))
# any text Java can hold: U+0000, astral characters and lone surrogates included
java_texts = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.characters(categories=["Cs"]),
        st.sampled_from(["\x00", "😀", "你"]),
    )
)


def feed_all(decoder, pieces):
    out = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    return out


def as_java(text):
    """What a Java String holding text's UTF-16 units reads as: adjacent surrogates join."""
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass")


def without(newline):
    def strip(line):
        while newline in line:
            line = line.replace(newline, b"")
        while line and (line + newline).find(newline) != len(line):
            line = line[:-1]
        return line

    return strip


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def send_in_thread(peer, send):
    """Run send(peer) in a thread, then half-close; the caller joins and checks errors."""
    errors = []

    def target():
        try:
            send(peer)
            peer.sock.shutdown(socket.SHUT_WR)
        except BaseException as exc:  # reported by the test, not printed by the thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, errors


# --- properties: encode, cut and merge at random, decode ------------------------


@PURE
@given(texts=st.lists(line_texts), rng=rngs)
def test_lines_round_trip(texts, rng):
    pieces = rechunk([encode_line(t) for t in texts], rng)
    assert feed_all(LineDecoder(max_length=1 << 16), pieces) == [t.encode() for t in texts]


@PURE
@given(
    data=st.data(),
    newline=st.sampled_from([b"\n", b"\r\n", b"||"]),
    max_length=st.integers(0, 12),
    rng=rngs,
)
def test_lines_over_the_maximum_become_too_long(data, newline, max_length, rng):
    lines = data.draw(st.lists(st.binary(max_size=30).map(without(newline))))
    decoder = LineDecoder(max_length=max_length, newline=newline)
    pieces = rechunk([encode_line(line, newline=newline) for line in lines], rng, max_piece=5)
    out = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
        assert decoder.pending <= max_length + len(newline) - 1
    assert out == [line if len(line) <= max_length else TooLong(len(line)) for line in lines]


@PURE
@given(data=st.data(), header=st.sampled_from([1, 2, 4, 8]), rng=rngs)
def test_frames_round_trip(data, header, rng):
    payloads = data.draw(st.lists(st.binary(max_size=255)))
    pieces = rechunk([encode_frame(p, header=header) for p in payloads], rng)
    decoder = FrameDecoder(header=header)
    assert feed_all(decoder, pieces) == payloads
    assert decoder.pending == 0


@PURE
@given(texts=st.lists(java_texts), rng=rngs)
def test_write_utf_round_trip(texts, rng):
    pieces = rechunk([encode_utf(t) for t in texts], rng)
    assert feed_all(UtfDecoder(), pieces) == [as_java(t) for t in texts]


@PURE
@given(text=java_texts)
def test_modified_utf8_round_trip(text):
    data = encode_modified_utf8(text)
    assert b"\x00" not in data
    assert all(byte < 0xF0 for byte in data)
    assert decode_modified_utf8(data) == as_java(text)


@PURE
@given(text=st.text(), rng=rngs)
def test_text_decoder_round_trip(text, rng):
    decoder = TextDecoder()
    pieces = rechunk([text.encode()], rng, max_piece=3)
    parts = [decoder.feed(piece) for piece in pieces]
    assert "".join(parts) + decoder.finish() == text


@pytest.mark.parametrize("kind", ["exactly", "line", "frame", "utf"])
@SOCKETS
@given(seed=st.integers(0, 2**32), data=st.data())
def test_adversarial_peer_through_a_real_socket(kind, seed, data):
    if kind == "line":
        messages = data.draw(st.lists(line_texts))
        wire = [encode_line(m) for m in messages]
    elif kind == "utf":
        messages = data.draw(st.lists(java_texts, max_size=8))
        wire = [encode_utf(m) for m in messages]
    else:
        messages = data.draw(st.lists(st.binary(max_size=40), max_size=8))
        wire = [encode_frame(m) for m in messages] if kind == "frame" else messages
    a, b = socket.socketpair()
    with AdversarialPeer(a, seed=seed, max_piece=4, pause=0) as peer, b:
        thread, errors = send_in_thread(peer, lambda p: p.send_messages(wire))
        if kind == "exactly":
            got = [recv_exactly(b, len(m), timeout=5) for m in messages]
        elif kind == "line":
            reader = LineReader(b)
            got = [reader.readline(timeout=5).decode() for _ in messages]
            assert reader.readline(timeout=5) is None
        elif kind == "frame":
            got = [recv_frame(b, timeout=5) for _ in messages]
            assert recv_frame(b, timeout=5) is None
        else:
            got = [read_utf(b, timeout=5) for _ in messages]
            messages = [as_java(m) for m in messages]
        thread.join(5)
    assert errors == []
    assert got == messages
    assert b"".join(peer.pieces_sent) == b"".join(wire)


# --- recv_exactly -------------------------------------------------------------


def test_recv_exactly_reads_across_sends(pair):
    a, b = pair
    a.sendall(b"hel")
    a.sendall(b"lo world")
    assert recv_exactly(b, 5) == b"hello"
    assert recv_exactly(b, 0) == b""
    assert recv_exactly(b, 6) == b" world"


def test_recv_exactly_peer_closed(pair):
    a, b = pair
    a.sendall(b"abc")
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(PeerClosedError, match="^peer closed the connection after 3 of 10 bytes$"):
        recv_exactly(b, 10)


def test_recv_exactly_deadline_restores_timeout(pair):
    a, b = pair
    b.settimeout(3.0)
    a.sendall(b"abc")
    started = time.monotonic()
    with pytest.raises(LabTimeoutError, match=r"0\.2 s with 3 of 10 bytes") as info:
        recv_exactly(b, 10, timeout=0.2)
    assert time.monotonic() - started < 1.0
    assert isinstance(info.value.__cause__, socket.timeout)
    assert b.gettimeout() == 3.0


def test_recv_exactly_deadline_covers_the_whole_call(pair):
    a, b = pair

    stop = threading.Event()

    def trickle():  # a byte every 50 ms: each recv is quick, the call is not
        while not stop.wait(0.05):
            a.sendall(b"x")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    started = time.monotonic()
    with pytest.raises(LabTimeoutError):
        recv_exactly(b, 20, timeout=0.3)
    assert time.monotonic() - started < 0.8
    stop.set()
    thread.join(5)


# --- lines --------------------------------------------------------------------


def test_encode_line_exact_bytes():
    assert encode_line("你好") == b"\xe4\xbd\xa0\xe5\xa5\xbd\n"
    assert encode_line(b"ok", newline=b"\r\n") == b"ok\r\n"


@pytest.mark.parametrize(
    "data, newline", [("a\nb", b"\n"), (b"a\r\nb", b"\r\n"), (b"xa", b"aa")]
)
def test_encode_line_refuses_the_newline(data, newline):
    with pytest.raises(FramingError, match="must not contain the newline"):
        encode_line(data, newline=newline)


def test_too_long_line_then_a_good_line():
    decoder = LineDecoder(max_length=8)
    assert decoder.feed(b"x" * 20 + b"\nok\n") == [TooLong(20), b"ok"]
    assert decoder.feed(b"12345678\n123456789\n") == [b"12345678", TooLong(9)]


def test_endless_line_uses_bounded_memory():
    decoder = LineDecoder()
    assert decoder.feed(b"x" * (1 << 20)) == []
    assert decoder.pending <= 4096
    for _ in range(100):
        decoder.feed(b"y" * 1000)
        assert decoder.pending <= 4096
    assert decoder.feed(b"\nend\n") == [TooLong((1 << 20) + 100_000), b"end"]


def test_line_reader_skips_a_too_long_line(pair):
    a, b = pair
    a.sendall(b"x" * 5000 + b"\nnext\n")
    a.shutdown(socket.SHUT_WR)
    reader = LineReader(b, bufsize=1000)
    with pytest.raises(FrameTooLargeError, match="line too long: 5000 bytes, the maximum is 4096"):
        reader.readline()
    assert reader.readline() == b"next"
    assert reader.readline() is None


def test_line_reader_eof_mid_line(pair):
    a, b = pair
    a.sendall(b"one\ntw")
    a.shutdown(socket.SHUT_WR)
    reader = LineReader(b)
    assert reader.readline() == b"one"
    with pytest.raises(PeerClosedError, match="mid-line after 2 bytes"):
        reader.readline()


def test_line_reader_timeout(pair):
    a, b = pair
    a.sendall(b"partial")
    with pytest.raises(LabTimeoutError, match="7 bytes buffered"):
        LineReader(b).readline(timeout=0.1)
    assert b.gettimeout() is None


@pytest.mark.parametrize("cut", range(1, len(SAMPLE.encode()) + 1))
def test_line_reader_character_split_at_every_offset(pair, cut):
    a, b = pair
    with AdversarialPeer(a, pause=0) as peer:
        peer.split_at(SAMPLE.encode() + b"\n", [cut])
    assert LineReader(b).readline().decode() == SAMPLE


# --- length-prefixed frames ---------------------------------------------------


def test_encode_frame_exact_bytes():
    assert encode_frame(b"hi") == b"\x00\x00\x00\x02hi"
    assert encode_frame(b"hi", header=1) == b"\x02hi"
    assert encode_frame(b"", header=8) == bytes(8)
    assert encode_frame(b"x" * 255, header=1)[:1] == b"\xff"


def test_encode_frame_refuses_what_does_not_fit():
    with pytest.raises(FrameTooLargeError, match="256 bytes does not fit a 1-byte"):
        encode_frame(b"x" * 256, header=1)
    with pytest.raises(ValueError, match="header must be 1, 2, 4 or 8 bytes, not 3"):
        encode_frame(b"x", header=3)
    with pytest.raises(TypeError, match="encode it first"):
        encode_frame("text")


def test_send_and_recv_frame(pair):
    a, b = pair
    send_frame(a, "你好".encode())
    send_frame(a, b"", header=4)
    a.shutdown(socket.SHUT_WR)
    assert recv_frame(b) == "你好".encode()
    assert recv_frame(b) == b""
    assert recv_frame(b) is None


def test_lying_length_prefix_then_close(pair):
    a, b = pair
    a.sendall(b"\x00\x00\x00\x0aabc")
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(PeerClosedError, match="mid-frame after 3 of 10 payload bytes"):
        recv_frame(b)


def test_eof_inside_the_header(pair):
    a, b = pair
    a.sendall(b"\x00\x00")
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(PeerClosedError, match="mid-frame after 2 of 4 header bytes"):
        recv_frame(b)


def test_huge_length_prefix_is_refused_without_allocating(pair):
    a, b = pair
    a.sendall((2**31).to_bytes(4, "big"))
    tracemalloc.start()
    try:
        with pytest.raises(FrameTooLargeError, match="2147483648 bytes, the maximum is 1048576"):
            recv_frame(b)
        with pytest.raises(FrameTooLargeError, match="2147483648 bytes"):
            FrameDecoder().feed((2**31).to_bytes(4, "big") + b"abc")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000


def test_recv_frame_timeout(pair):
    a, b = pair
    a.sendall(b"\x00\x00\x00\x05ab")
    with pytest.raises(LabTimeoutError, match="2 of 5 payload bytes"):
        recv_frame(b, timeout=0.1)


# --- Java's writeUTF ----------------------------------------------------------


@pytest.mark.parametrize(
    "text, data",
    [
        ("\x00", b"\xc0\x80"),
        ("😀", b"\xed\xa0\xbd\xed\xb8\x80"),
        ("你", b"\xe4\xbd\xa0"),
        ("aé", b"a\xc3\xa9"),
        ("\ud83d", b"\xed\xa0\xbd"),
        ("", b""),
    ],
)
def test_modified_utf8_exact_bytes(text, data):
    assert encode_modified_utf8(text) == data
    assert decode_modified_utf8(data) == text


def test_encode_utf_exact_bytes_and_limit():
    assert encode_utf("hi") == b"\x00\x02hi"
    assert encode_utf("a" * 65535)[:2] == b"\xff\xff"
    message = "^encoded string too long: 65536 bytes, writeUTF allows at most 65535$"
    with pytest.raises(FrameTooLargeError, match=message):
        encode_utf("a" * 65536)
    with pytest.raises(FrameTooLargeError, match=message):
        encode_utf("\x00" * 32768)  # U+0000 takes two bytes


@pytest.mark.parametrize(
    "data, offset",
    [
        (b"ab\x00", 2),  # Java never writes a plain 00
        (b"a\xf0\x9f\x98\x80", 1),  # a 4-byte UTF-8 sequence
        (b"ab\xe4\xbd", 2),  # truncated
        (b"\xe4\xbd\x00", 0),  # truncated by a 00
        (b"x\xc0\x80\xe4", 3),  # truncated after an encoded U+0000
        (b"\x80", 0),  # stray continuation byte
        (b"\xc0\x81", 0),  # overlong, not U+0000
        (b"\xff", 0),
    ],
)
def test_decode_modified_utf8_rejects_malformed_input(data, offset):
    with pytest.raises(FramingError, match=f"malformed modified UTF-8 at offset {offset}:"):
        decode_modified_utf8(data)


def test_write_utf_and_read_utf(pair):
    a, b = pair
    greeting = "谢谢连接我:/127.0.0.1:6666\nGoodbye!"
    write_utf(a, greeting)
    assert read_utf(b) == greeting


def test_read_utf_eof_before_the_header(pair):
    a, b = pair
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(PeerClosedError, match="before the frame's length"):
        read_utf(b)


def test_read_utf_bad_bytes(pair):
    a, b = pair
    a.sendall(b"\x00\x02a\x00")
    with pytest.raises(FramingError, match="offset 1"):
        read_utf(b)


# --- incremental text ---------------------------------------------------------


@pytest.mark.parametrize("cut", range(len(SAMPLE.encode()) + 1))
def test_text_decoder_character_split_at_every_offset(cut):
    data = SAMPLE.encode()
    decoder = TextDecoder()
    first, second = decoder.feed(data[:cut]), decoder.feed(data[cut:])
    assert "\ufffd" not in first + second
    assert first + second + decoder.finish() == SAMPLE


def test_text_decoder_one_byte_at_a_time():
    decoder = TextDecoder()
    parts = [decoder.feed(bytes([byte])) for byte in SAMPLE.encode()]
    assert parts == ["a", "", "é", "", "", "你", "", "", "", "😀"]
    assert utf8_cuts(SAMPLE.encode()) == [2, 4, 5, 7, 8, 9]


def test_text_decoder_finish_replaces_an_incomplete_character():
    decoder = TextDecoder()
    assert decoder.feed("欢迎".encode() + b"\xe8\xae") == "欢迎"
    assert decoder.pending == 2
    assert decoder.finish() == "\ufffd"
    assert decoder.feed(b"ok") == "ok"  # usable again after finish


@given(st.lists(st.sampled_from([b"ab", b"\n", b"xyz", b"long line here", b""]), max_size=30),
       st.lists(st.integers(min_value=0, max_value=200), max_size=10))
def test_at_once_reports_the_same_lines_whatever_the_pieces(parts, cuts):
    # chat's decoder (at_once) tells a long line before it ends, but once; the lines are
    # the same as the plain decoder's, and so is where each too-long line stands
    data = b"".join(parts)
    bounds = [0, *sorted({c for c in cuts if c < len(data)}), len(data)]
    pieces = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    plain, early = LineDecoder(max_length=5), LineDecoder(max_length=5, at_once=True)
    got_plain = [x for p in pieces for x in plain.feed(p)]
    got_early = [x for p in pieces for x in early.feed(p)]
    shape = lambda out: [x if isinstance(x, bytes) else "TOO LONG" for x in out]  # noqa: E731
    complete = shape(got_plain)
    # the early decoder may also have told a last, unfinished line already
    assert shape(got_early)[:len(complete)] == complete
    assert len(got_early) - len(complete) in (0, 1)
    assert all(len(x) <= 5 for x in got_early if isinstance(x, bytes))

"""The lesson protocols' contracts, byte for byte (COURSE.md, "Contracts others rely on")."""

import datetime
import re
import socket
import struct

import pytest

import labkit
from labkit.serving.servers import TCPServer
from support import echo_roundtrip, read_all, settle

pytestmark = pytest.mark.timeout(30)




def reply_for(text: str) -> bytes:
    return f"欢迎访问>>>>{text}\r\n".encode()


def test_echo_replies_as_the_seed_does(baseline):
    with TCPServer(labkit.echo) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            for text in ("你好", "hello", "😀"):
                s.sendall(text.encode())
                assert s.recv(1024) == reply_for(text)


def test_echo_1023_ascii_bytes_then_a_chinese_character(baseline):
    # The seed's server dies here with UnicodeDecodeError: recv(1024) cuts 你 in two.
    with TCPServer(labkit.echo) as server:
        reply = echo_roundtrip(server.address, "a" * 1023 + "你")
        assert reply == reply_for("a" * 1023) + reply_for("你")
        assert server.errors == []
        assert echo_roundtrip(server.address) == reply_for("你好")  # and it lives on


@pytest.mark.parametrize("cut", range(1, len("aé你😀".encode())))
def test_echo_character_split_at_every_byte_offset(baseline, cut):
    data = "aé你😀".encode()
    with TCPServer(labkit.echo) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(data[:cut])
            settle(server, s)  # the first piece is handled on its own
            s.sendall(data[cut:])
            s.shutdown(socket.SHUT_WR)
            text = read_all(s).decode()
        pieces = re.findall("欢迎访问>>>>(.*?)\r\n", text, re.S)
        assert "".join(pieces) == "aé你😀" and server.errors == []


def test_echo_survives_garbage_and_replaces_it(baseline):
    with TCPServer(labkit.echo) as server:
        assert echo_roundtrip(server.address, "") == b""
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(b"\xff\xfeok")
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == reply_for("\ufffd\ufffdok")
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall("你".encode()[:2])  # a character cut off by EOF
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == reply_for("\ufffd")
        assert server.errors == [] and echo_roundtrip(server.address) == reply_for("你好")


def test_greeting_speaks_javas_write_utf(baseline):
    with TCPServer(labkit.greeting) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(b"\x00\x05Hello")
            body = f"谢谢连接我:/127.0.0.1:{server.port}\nGoodbye!".encode()
            assert read_all(s) == struct.pack(">H", len(body)) + body
        assert "[conn 1] read: readUTF() -> 'Hello'" in repr(server.log())


def test_greeting_round_trips_unicode_through_the_client(baseline):
    with TCPServer(labkit.greeting) as server:
        reply = labkit.greeting_client(server, "你好 😀 \x00")
        assert reply == f"谢谢连接我:/127.0.0.1:{server.port}\nGoodbye!"
        assert "readUTF() -> '你好 😀 \\x00'" in repr(server.log())


@pytest.mark.parametrize("wire", [
    b"\x00\x0aabc",        # the prefix promises 10 bytes, 3 come, then EOF
    b"\x00\x02\xff\xfe",   # not modified UTF-8
    b"\x00",               # half a length prefix
])
def test_greeting_survives_lies_and_garbage(baseline, wire):
    with TCPServer(labkit.greeting) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(wire)
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == b""  # no reply, the connection is closed
        assert server.errors == [] and "dropped" in server.log().kinds(1)
        assert labkit.greeting_client(server, "ok").endswith("Goodbye!")


def test_greeting_with_a_silent_sender_times_out(baseline):
    with TCPServer(labkit.greeting, timeout=0.2) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(b"\x00\x09abc")  # and then nothing
            assert read_all(s) == b""
        assert server.wait_quiet(10)
        assert "timed out" in server.events.kinds(1) and server.errors == []


def test_clock_pushes_the_date_and_closes(baseline):
    def at_noon():
        return datetime.datetime(2026, 11, 25, 12, 0, 5)

    with TCPServer(lambda conn: labkit.clock(conn, now=at_noon)) as server:
        assert labkit.clock_client(server) == "服务端消息: 2026-11-25 12:00:05"
    with TCPServer(labkit.clock) as server:
        text = labkit.clock_client(server)
        assert re.fullmatch(r"服务端消息: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text)


def test_clock_ignores_a_client_that_writes_after_the_close(baseline):
    # the seed's PHP client writes 接收消息成功 after the server has closed
    with TCPServer(labkit.clock) as server:
        with socket.create_connection(server.address, timeout=5) as s:
            assert read_all(s).startswith("服务端消息: ".encode())
            s.sendall("接收消息成功".encode())  # lands on a closed socket: the peer answers RST
        assert server.errors == [] and labkit.clock_client(server)


def test_handler_for_knows_every_protocol():
    assert [labkit.classroom.handler_for(n) is not None for n in labkit.classroom.PROTOCOLS] == [True] * 4
    assert labkit.classroom.handler_for("chat") is not labkit.classroom.handler_for("chat")  # one room each
    with pytest.raises(ValueError, match="unknown protocol 'http'"):
        labkit.classroom.handler_for("http")


def test_connect_names_the_fix_when_nothing_listens():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: a connect is refused
        with pytest.raises(labkit.NotListeningError,
                           match=f"nothing is listening on 127.0.0.1:{port} - is the server"):
            labkit.connect(port)

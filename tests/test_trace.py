"""labkit.trace() (labkit.seeing.tracing): every socket call of both sides recorded, in an order that never varies."""

import io
import logging
import re
import socket
import warnings

import matplotlib.text
import pytest

import labkit
from labkit.errors import LabkitError
from labkit.seeing.figures import _drawable
from labkit.seeing.tracing import Tracer

pytestmark = pytest.mark.timeout(30)

ECHO_TRACE = """\
 1  client         socket()  TCP
 2  client         connect(127.0.0.1:PORT)   SYN → echo listener
 3  echo listener  accept() → new socket echo conn 1
 4  client         sendall 6 bytes '你好'   → echo conn 1
 5  echo conn 1    recv(1024) → 6 bytes '你好'
 6  client         shutdown(SHUT_WR)   FIN → echo conn 1
 7  echo conn 1    sendall 24 bytes '欢迎访问>>>>你好\\r\\n'   → client
 8  client         recv(65536) → 24 bytes '欢迎访问>>>>你好\\r\\n'
 9  echo conn 1    recv(1024) → b'' (end of stream)
10  echo conn 1    close()   FIN → client
11  client         recv(65536) → b'' (end of stream)
12  client         close()"""


def ports(text):
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)


def originals():
    return {name: getattr(socket.socket, name) for name in
            ("__init__", "accept", "close", "send", "sendall", "recv", "connect", "bind")}


def test_both_sides_of_an_echo_conversation_in_the_same_order_every_run(baseline):
    server = labkit.serve(labkit.echo)
    texts = set()
    for _ in range(5):
        with labkit.trace() as t:
            assert labkit.echo_client(server, "你好") == "欢迎访问>>>>你好\r\n"
        texts.add(ports(repr(t)))
    assert texts == {ECHO_TRACE}
    assert t.names() == ["client", "echo listener", "echo conn 1"]
    assert [line.kind for line in t.lifelines] == [
        "connected socket", "listening socket", "connected socket"]
    assert t.calls("echo conn 1") == ["recv", "sendall", "recv", "close"]
    server.stop()
    assert server.sock.fileno() == -1


def test_the_methods_are_put_back_even_when_the_block_raises(baseline):
    before = originals()
    with pytest.raises(ConnectionRefusedError):
        with labkit.trace(settle=0.2) as t:
            with socket.socket() as s:
                s.settimeout(2)
                s.connect(("127.0.0.1", 1))
    assert originals() == before
    assert "send" not in socket.socket.__dict__  # the C method shows through again
    assert ports(t.text()).splitlines() == [
        " 1  client  socket()  TCP",
        " 2  client  connect(127.0.0.1:PORT) ✗ ConnectionRefusedError",
        " 3  client  close()",
    ]


def test_traces_do_not_nest():
    with labkit.trace(settle=0.1):
        with pytest.raises(LabkitError, match="cannot be nested"):
            with labkit.trace():
                pass
    with labkit.trace(settle=0.1) as t:  # and the failed attempt left nothing behind
        pass
    assert t.text() == "(no socket calls were traced)"


def test_a_trace_used_without_with_says_so():
    t = labkit.trace()
    assert repr(t) == "<trace: not started - use it in a with block>"
    with pytest.raises(LabkitError, match="with labkit.trace"):
        t.diagram()


def test_a_trace_cannot_be_shown_while_it_records():
    with labkit.trace(settle=0.1) as t:
        assert repr(t) == "<trace: recording>"
        with pytest.raises(LabkitError, match="still recording"):
            t.text()


def one_thread_program():
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        with socket.create_connection(srv.getsockname(), timeout=2) as c:
            s, _ = srv.accept()
            with s:
                s.settimeout(2)
                c.sendall(b"hello")
                first, second = s.recv(3), s.recv(10)
                c.shutdown(socket.SHUT_WR)
                eof = s.recv(10)
                s.sendall("再见".encode())
            reply = c.recv(100), c.recv(100)
    return first, second, eof, reply


def test_a_send_is_linked_to_the_recv_that_got_its_last_byte():
    with labkit.trace() as t:
        assert one_thread_program() == (b"hel", b"lo", b"", ("再见".encode(), b""))
    send = next(s for s in t.steps if s.call == "sendall" and s.line.name == "client")
    assert (send.start, send.end) == (0, 5)
    assert send.peer_step.describe() == "recv(10) → 2 bytes 'lo'"
    assert t.names() == ["client", "listener", "server conn 1"]
    assert t.calls("client") == ["socket", "connect", "sendall", "shutdown", "recv", "recv",
                                 "close"]
    assert t.calls("listener") == ["socket", "bind", "listen", "accept", "close"]
    shutdown = next(s for s in t.steps if s.call == "shutdown")
    assert shutdown.fin and shutdown.arrow() == "FIN → server conn 1"


def test_datagrams_are_linked_by_address_and_order():
    with labkit.trace() as t:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
            b.bind(("127.0.0.1", 0))
            b.settimeout(2)
            a.sendto(b"one", b.getsockname())
            a.sendto(b"two", b.getsockname())
            got = [b.recvfrom(100)[0], b.recvfrom(100)[0]]
    assert got == [b"one", b"two"]
    recvs = [s for s in t.steps if s.call == "recvfrom"]
    assert [r.after[-1].data for r in recvs] == [b"one", b"two"]
    assert [s.peer_step for s in t.steps if s.call == "sendto"] == recvs
    assert t.names() == ["socket 1", "socket 2"]


def test_recv_into_and_makefile_are_traced(baseline):
    server = labkit.serve(labkit.echo)
    with labkit.trace() as t:
        with labkit.connect(server) as s:
            s.sendall(b"hi")
            s.shutdown(socket.SHUT_WR)
            with s.makefile("rb") as f:
                assert f.read() == "欢迎访问>>>>hi\r\n".encode()
    reads = [s for s in t.steps if s.line.name == "client" and s.call == "recv_into"]
    assert [r.nbytes for r in reads] == [20, 0]
    assert reads[0].after[-1].line.name == "echo conn 1"


def test_the_diagram_draws_without_a_warning_and_has_one_lifeline_per_socket(caplog):
    with labkit.trace() as t:
        one_thread_program()
    with warnings.catch_warnings(), caplog.at_level(logging.INFO, logger="matplotlib"):
        warnings.simplefilter("error")
        fig = t.diagram()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=50)
    assert caplog.records == []  # e.g. "findfont: Failed to find font weight bold" on stderr
    assert buffer.getvalue().startswith(b"\x89PNG")
    texts = [text.get_text() for text in fig.axes[0].texts]
    for name in ("client", "listener", "server conn 1"):
        assert name in texts
    assert "connect(): SYN" in texts and "shutdown(SHUT_WR): FIN" in texts
    assert fig.get_size_inches()[1] == pytest.approx(1.6 + 0.6 * (len(t.steps) + 1.2))


def drawn_texts(fig):
    return [text.get_text() for text in fig.findobj(matplotlib.text.Text)]


def test_the_diagram_has_a_legend_and_names_the_read_of_the_fin(baseline):
    server = labkit.serve(labkit.echo)
    with labkit.trace() as t:
        labkit.echo_client(server, "你好")
    fig = t.diagram()
    texts = drawn_texts(fig)
    assert "SYN: connection request  ·  FIN: no more data from this side  ·  6 B = 6 bytes" in texts
    assert "data" in texts and "opening / closing (SYN, accept, FIN)" in texts
    assert texts.count("recv → b'' (FIN read)") == 2  # the server's and then the client's
    assert "recv → 6 B '你好'" in texts or "recv → 6 B '\\u4f60\\u597d'" in texts
    server.stop()


def test_arrows_pass_over_the_listener_through_a_gap_in_its_lifeline(baseline):
    server = labkit.serve(labkit.echo)
    with labkit.trace() as t:
        labkit.echo_client(server, "你好")
    assert t.names() == ["client", "echo listener", "echo conn 1"]  # the listener between
    ax = t.diagram().axes[0]
    gaps = [line for line in ax.lines if line.get_color() == "white"]
    # client → conn crosses column 1: the sendall, the FIN; conn → client: the reply, the FIN
    assert len(gaps) == 4
    assert {tuple(line.get_xdata()) for line in gaps} == {(1, 1)}
    band = [line for line in ax.lines if tuple(line.get_xdata()) == (1, 1)
            and line.get_color() != "white" and line.get_linestyle() == "-"]
    assert band and all(line.get_alpha() == 0.25 and line.get_zorder() == 1 for line in band)
    server.stop()


def test_labels_escape_what_no_font_can_draw():
    assert _drawable("a$b") == "a\\$b"
    drawn = _drawable("你好")
    assert drawn == "你好" or drawn == "\\u4f60\\u597d"


def test_a_tracer_of_its_own_can_be_used_directly():
    tracer = Tracer(settle=0.1)
    with tracer:
        socket.socket().close()
    assert tracer.calls() == ["socket", "close"]

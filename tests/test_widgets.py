"""labkit.seeing.widgets: the console, the socket table and the recv-size control, without a browser."""

import threading

import pytest

import labkit
from labkit.seeing.console import Console
from labkit.seeing.widgets import RecvSizeExplorer, SocketTable, close_widgets, recv_pieces

pytestmark = pytest.mark.timeout(30)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_an_echo_console_sends_shows_the_replies_and_closes(baseline):
    server = labkit.serve(labkit.echo)
    console = Console(server)
    bundle = console._repr_mimebundle_()
    assert bundle["text/plain"] == "<Console connected to echo (open)>"
    assert WIDGET_VIEW in bundle
    console.send("你好")
    assert console.transcript() == "→ 你好\n← 欢迎访问>>>>你好"
    console._box.value = "hello"
    console._send.click()  # what a learner's click does
    assert console.transcript() == "→ 你好\n← 欢迎访问>>>>你好\n→ hello\n← 欢迎访问>>>>hello"
    assert console._box.value == ""
    console.close()
    console.close()
    assert console.sock.fileno() == -1 and not console._thread.is_alive()
    assert console.transcript().endswith("\n(closed)")
    assert repr(console) == "<Console connected to echo (closed)>"
    assert_disabled(console)
    console.send("too late")
    assert console.transcript().endswith("(the connection is closed)")
    server.stop()
    log = server.log()
    assert log.kinds(1) == ["connected", "received", "sent", "received", "sent",
                            "end of stream", "closed"]


def assert_disabled(console):
    assert console._send.disabled and console._box.disabled and console._close.disabled
    assert console._send.button_style == ""  # not the bright blue of "primary"
    assert console._box.placeholder == "(closed)" and console._box.value == ""


def test_chat_consoles_end_lines_with_a_newline_and_see_each_other(baseline):
    room = labkit.serve(labkit.ChatRoom(), name="chat")
    ann, bob = Console(room), Console(room)
    assert room.wait_quiet(10)
    assert ann.newline == "\n"
    ann.send("/nick ann")
    ann.send("hi bob")
    assert bob.transcript() == "← ann: hi bob"
    ann.close()
    assert bob.transcript() == "← ann: hi bob\n← * ann left"
    bob.close()


def test_a_console_closes_itself_when_the_server_goes(baseline):
    server = labkit.serve(labkit.echo)
    console = Console(server)
    assert server.wait_quiet(10)  # accepted: stop() then ends the connection with a FIN
    server.stop()
    console._thread.join(2)
    assert console.closed and console.sock.fileno() == -1
    assert console.transcript() == "(the server closed the connection)"
    assert_disabled(console)
    assert close_widgets() == 0  # it took itself off the list


class FakeKernel:
    """A kernel whose event loop runs what it is handed only when the test says so."""

    def __init__(self):
        self.kernel = self
        self.io_loop = self
        self.queued = []

    def add_callback(self, fn):
        self.queued.append((threading.current_thread(), fn))


def test_in_a_kernel_the_reader_thread_has_the_loop_disable_the_controls(baseline, monkeypatch):
    import IPython

    kernel = FakeKernel()
    monkeypatch.setattr(IPython, "get_ipython", lambda: kernel)
    server = labkit.serve(labkit.echo)
    console = Console(server)
    assert server.wait_quiet(10)
    server.stop()  # the server closes: the reader thread sees b''
    console._thread.join(2)
    assert console.closed and not console._send.disabled  # not touched from the thread
    assert [thread.name for thread, _ in kernel.queued] == ["labkit-console-echo"]
    for _, fn in kernel.queued:  # what the kernel's loop then runs, on the main thread
        fn()
    assert_disabled(console)


def test_in_a_kernel_a_click_on_close_disables_the_controls_at_once(baseline, monkeypatch):
    import IPython

    kernel = FakeKernel()
    monkeypatch.setattr(IPython, "get_ipython", lambda: kernel)
    server = labkit.serve(labkit.echo)
    console = Console(server)
    console._close.click()  # a click is handled on the main thread
    assert kernel.queued == []
    assert_disabled(console)
    assert console.transcript().endswith("(closed)")
    server.stop()


def test_recv_cuts_the_same_bytes_into_pieces_of_at_most_its_size(baseline):
    data = "欢迎访问>>>>你好".encode()
    assert recv_pieces(data, 100) == [data]
    assert recv_pieces(data, 8) == [data[:8], data[8:16], data[16:]]
    for size in (1, 3, 4, 7):
        pieces = recv_pieces(data, size)
        assert b"".join(pieces) == data
        assert [len(p) for p in pieces[:-1]] == [size] * (len(pieces) - 1)


def test_the_explorer_redraws_when_the_slider_moves():
    explorer = RecvSizeExplorer("欢迎访问>>>>你好", size=4)
    assert repr(explorer) == "<RecvSizeExplorer: 22 bytes, recv size 1 to 22>"
    assert explorer.pieces(4)[:2] == [b"\xe6\xac\xa2\xe8", b"\xbf\x8e\xe8\xae"]
    assert "returned 6 pieces" in explorer._html.value
    explorer.show(22)
    assert "returned 1 piece." in explorer._html.value
    assert "&#x27;欢迎访问&gt;&gt;&gt;&gt;你好&#x27;" in explorer._html.value
    explorer.show(5)
    assert "\\xe8\\xbf" in explorer._html.value  # a character cut in half, shown as bytes
    assert WIDGET_VIEW in explorer._repr_mimebundle_()
    with pytest.raises(ValueError, match="positive int"):
        explorer.pieces(0)
    with pytest.raises(ValueError, match="must not be empty"):
        RecvSizeExplorer(b"")


def test_the_socket_table_shows_our_server_and_stops_refreshing_on_close(baseline):
    server = labkit.serve(labkit.echo, name="table-echo")
    table = SocketTable(every=0.05, duration=5)
    assert table._repr_mimebundle_()["text/plain"] == "<SocketTable of this notebook's sockets>"
    # (the table is the whole process's: a socket an earlier test has not yet let go
    # of may show too, so look for ours)
    assert table.snapshot.states()["table-echo (listening)"] == "LISTEN"
    with labkit.connect(server):
        snap = table.refresh()
        assert snap.state("client → table-echo") == "ESTABLISHED"
        assert "ESTABLISHED" in table._html.value
    assert close_widgets() == 1
    assert not table._thread.is_alive()
    table.close()
    assert table._button.disabled
    assert not [t for t in threading.enumerate() if t.name == "labkit-socket-table"]
    server.stop()


def test_a_console_stays_out_of_traces(baseline):
    server = labkit.serve(labkit.echo)
    console = Console(server)
    assert server.wait_quiet(10)  # accepted before the trace begins
    with labkit.trace(settle=0.3) as t:
        console.send("hi")
        console.transcript()
    assert t.names() == ["conn"]  # only the server's end of the console's connection
    # (its recv may have been waiting already when the trace began)
    assert t.calls() in (["sendall"], ["recv", "sendall"])
    console.close()
    server.stop()

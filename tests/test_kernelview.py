"""labkit.seeing.kernelview: this process's sockets and their TCP states, named, in a stable order."""

import io
import logging
import re
import socket
import warnings

import pytest

import labkit
from labkit.seeing.kernelview import Snapshot, SocketRow, Timeline, socket_snapshot

pytestmark = pytest.mark.timeout(30)


def ports(text):
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)


def test_a_half_close_and_time_waiting_on_the_side_that_closed_first(baseline):
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        tl = Timeline(listener=srv)
        tl.snap("listening")
        client = socket.create_connection(srv.getsockname(), timeout=2)
        conn, _ = srv.accept()
        tl.snap("connected")
        client.shutdown(socket.SHUT_WR)
        tl.snap("client half-closed")
        conn.close()
        tl.snap("server closed")
        client.close()
    tl.snap("all closed")
    assert tl.states("listener (listening)") == ["LISTEN"] * 4 + [None]
    assert tl.states("client → listener") == [None, "ESTABLISHED", "FIN_WAIT2", "TIME_WAIT",
                                              "TIME_WAIT"]
    assert tl.states("listener → client") == [None, "ESTABLISHED", "CLOSE_WAIT", None, None]
    # (the columns are as wide as the real addresses: five-digit ports, one more than "PORT")
    assert ports(repr(tl[2])) == """\
client half-closed:
  socket                state       local            remote           held by
  client → listener     FIN_WAIT2   127.0.0.1:PORT  127.0.0.1:PORT  this process
  listener (listening)  LISTEN      127.0.0.1:PORT  -                this process
  listener → client     CLOSE_WAIT  127.0.0.1:PORT  127.0.0.1:PORT  this process"""
    assert [row.held_by for row in tl[4].rows] == ["the kernel only"]


def test_labkit_servers_are_named_and_unknown_endpoints_become_clients(baseline):
    server = labkit.serve(labkit.echo)
    tl = Timeline()
    with labkit.connect(server) as a, labkit.connect(server):
        snap = tl.snap("two clients")
        assert sorted(snap.states()) == ["client 2 → echo", "client → echo", "echo (listening)",
                                         "echo → client", "echo → client 2"]
        tl.name(a, "alice")
        assert "alice → echo" in tl.snap().states()
    server.stop()
    assert server.sock.fileno() == -1


def test_a_new_timeline_does_not_claim_connections_it_never_saw(baseline):
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        client = socket.create_connection(srv.getsockname(), timeout=2)
        conn, _ = srv.accept()
        client.close()  # the client closes first: TIME_WAIT or FIN_WAIT2 stays behind
        conn.close()
        assert socket_snapshot("fresh", server=srv).states() == {"server (listening)": "LISTEN"}


def test_the_table_renders_as_text_html_and_a_grid(caplog):
    # no resource baseline here: matplotlib keeps its font files open once loaded
    server = labkit.serve(labkit.echo, name="kv-echo")
    tl = Timeline()
    tl.snap("listening")
    with labkit.connect(server):
        tl.snap("connected")
    snap = tl.snap("closed")
    assert isinstance(snap, Snapshot) and all(isinstance(r, SocketRow) for r in snap.rows)
    assert "<th style='text-align:left'>state</th>" in snap.html()
    assert repr(Timeline()) == "(no snapshots yet: call .snap(label) after each step)"
    assert repr(tl).startswith("1. listening:\n  socket ")
    with warnings.catch_warnings(), caplog.at_level(logging.INFO, logger="matplotlib"):
        warnings.simplefilter("error")
        fig = tl.plot()
        fig.savefig(io.BytesIO(), format="png", dpi=40)
    assert caplog.records == []
    server.stop()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == sorted(labels) and "kv-echo (listening)" in labels


def test_naming_rejects_what_has_no_address():
    tl = Timeline(thing=object())
    with pytest.raises(TypeError, match="cannot name"):
        tl.snap()


def test_a_connection_waiting_to_be_accepted_is_held_by_the_kernel_only(baseline):
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(2)
        tl = Timeline(listener=srv)
        with socket.create_connection(srv.getsockname(), timeout=2):
            queued = tl.snap("queued")
            conn, _ = srv.accept()
            with conn:
                accepted = tl.snap("accepted")
    assert [(r.name, r.state, r.held_by) for r in queued.rows] == [
        ("client → listener", "ESTABLISHED", "this process"),
        ("listener (listening)", "LISTEN", "this process"),
        ("listener → client", "ESTABLISHED", "the kernel only"),
    ]
    assert [r.held_by for r in accepted.rows] == ["this process"] * 3


def test_only_named_hides_the_rows_with_no_named_end(baseline):
    with socket.socket() as other, socket.socket() as srv:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(2)
        client = socket.create_connection(srv.getsockname(), timeout=2)
        tl = Timeline(server=srv, client=client, only_named=True)
        assert sorted(tl.snap().states()) == ["client → server", "server (listening)",
                                              "server → client"]
        client.close()  # closed: it keeps its name, and its TIME_WAIT row stays shown
        srv.accept()[0].close()
        assert tl.snap().states() == {"client → server": "TIME_WAIT",
                                      "server (listening)": "LISTEN"}
        assert "server (listening)" in Timeline(server=srv).snap().states()
        assert len(Timeline().snap().states()) >= 2  # the other listener too

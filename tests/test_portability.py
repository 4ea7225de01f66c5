"""labkit's code paths for Windows and macOS, simulated on Linux.

What each platform lacks is taken away here, so that the fallback runs and is checked:
- Windows has no ``select.poll``, its ``selectors.DefaultSelector`` is select(), and its
  select() takes sockets only (not stdin): the chat server and the chat client;
- macOS refuses a system-wide socket scan without root (``psutil.AccessDenied``), and
  neither macOS nor Windows has ``/proc/net/tcp``: the kernel's socket table;
- Windows' SO_REUSEADDR means something else, and its "address in use" is WSAEADDRINUSE.
"""

from __future__ import annotations

import errno
import os
import re
import select
import selectors
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import psutil
import pytest

import labkit
from labkit import ChatRoom, TCPServer
from labkit.seeing import kernelview, sockettable
from labkit.serving import base
from labkit import __main__ as cli
from support import assert_slow_member_dropped, read_until, recv_line, settle

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONIOENCODING": "utf-8"}


# -- helpers ---------------------------------------------------------------------------------


def member(server, name, *, rcvbuf=None) -> socket.socket:
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5)
    sock.connect(server.address)
    sock.sendall(f"/nick {name}\n".encode())
    return sock


def wait_for(predicate, timeout=5.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not hold within {timeout} s"
        time.sleep(0.005)


# -- the chat server without poll() (Windows) --------------------------------------------------


class CountingSelect(selectors.SelectSelector):
    """select(), as Windows' DefaultSelector; counts the selectors made and closed, and
    the waits that ended with the socket still not writable."""

    made = 0
    closed = 0
    waited = 0

    def __init__(self):
        super().__init__()
        type(self).made += 1

    def select(self, timeout=None):
        ready = super().select(timeout)
        if not ready:
            type(self).waited += 1
        return ready

    def close(self):
        type(self).closed += 1
        super().close()


@pytest.fixture
def windows_select(monkeypatch):
    """No select.poll, and DefaultSelector is select(): what Windows has."""
    monkeypatch.delattr(select, "poll")
    monkeypatch.setattr(selectors, "DefaultSelector", CountingSelect)
    monkeypatch.setattr(CountingSelect, "made", 0)
    monkeypatch.setattr(CountingSelect, "closed", 0)
    monkeypatch.setattr(CountingSelect, "waited", 0)
    assert not hasattr(select, "poll")
    return CountingSelect


def test_no_unix_only_call_is_left_in_labkit():
    # poll, epoll, kqueue and the rest exist on some systems only; labkit must not need them.
    # socket.AF_UNIX and socket.SO_REUSEPORT may be used where a hasattr()/getattr() guard
    # on the lines just above (or the same line) makes sure the system has them; the names
    # in a message's text are no use of them.
    unix_only = re.compile(r"\bselect\.(?:poll|epoll|kqueue|POLL\w+)\b|\bimport (?:fcntl|resource|"
                           r"termios|pty)\b|\bos\.(?:fork|setsid|killpg|set_blocking)\b|"
                           r"\bsocket\.(AF_UNIX|SO_REUSEPORT)\b|"
                           r"\bsignal\.SIG(?:KILL|HUP|PIPE|ALRM|USR[12])\b")
    found = []
    for path in sorted((ROOT / "labkit").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines, 1):
            match = unix_only.search(line)
            if not match:
                continue
            guarded = match.group(1) and any(
                f'attr(socket, "{match.group(1)}"' in above for above in lines[max(0, n - 4):n])
            if not guarded:
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []


def test_the_chat_room_works_without_poll(baseline, windows_select):
    server = TCPServer(ChatRoom(), timeout=10)
    alice, bob, carol = (member(server, n) for n in ("alice", "bob", "carol"))
    with alice, bob, carol:
        wait_for(lambda: len(server.handler.names()) == 3 and
                 server.handler.names() == ["alice", "bob", "carol"], what="three members")
        assert server.wait_quiet(10)
        alice.sendall("你好\n".encode())
        assert recv_line(bob) == recv_line(carol) == "alice: 你好\n".encode()
        bob.sendall(b"hi alice\n")
        assert recv_line(alice) == recv_line(carol) == b"bob: hi alice\n"
        assert windows_select.made >= 3  # every writer waited for writability with select()
        carol.sendall(b"/quit\n")
        assert recv_line(carol) == b""
        assert recv_line(alice) == recv_line(bob) == b"* carol left\n"
    server.stop()
    assert server.errors == []
    assert windows_select.closed == windows_select.made  # each writer closed its selector


def test_a_slow_member_is_dropped_and_the_others_are_served_without_poll(baseline, windows_select):
    server = TCPServer(ChatRoom(grace=10), timeout=10)
    slow, alice, dave = (member(server, n, rcvbuf=4096 if n == "slow" else None)
                         for n in ("slow", "alice", "dave"))
    with slow, alice, dave:
        wait_for(lambda: len(server.handler.names()) == 3, what="three members")
        settle(server, slow, alice, dave)  # each /nick is read, not merely the members joined
        assert_slow_member_dropped(alice, dave, slow)
        assert server.handler.slow_dropped == 1
    server.stop()
    assert server.errors == []


def test_a_writer_waiting_for_a_full_client_notices_the_server_stopping(baseline, windows_select):
    # the writer waits for writability in 50 ms steps; stop() must not wait for the client
    server = TCPServer(ChatRoom(patience=5, queue_bytes=1 << 21), timeout=10)
    stuck, alice = member(server, "stuck", rcvbuf=4096), member(server, "alice")
    with stuck, alice:
        wait_for(lambda: len(server.handler.names()) == 2, what="two members")
        settle(server, stuck, alice)  # each /nick is read: names() is asserted below
        for i in range(200):  # 600 kB: more than the kernel buffers, less than the outbox
            alice.sendall(f"{i:04d} {'y' * 3000}\n".encode())
        # the writer has found the client's socket full at least twice (50 ms each)
        wait_for(lambda: windows_select.waited >= 2, what="the writer waiting for the client")
        assert server.handler.names() == ["stuck", "alice"]  # not dropped: merely stuck
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1.5
    assert server.errors == [] and server.connections == {}
    assert windows_select.made >= 1 and windows_select.closed == windows_select.made


# -- the chat client without select() on stdin (Windows) -------------------------------------

# Runs `python -m labkit client chat` with the queue-and-thread stdin path forced, and
# select() taken away from the CLI module altogether: on Windows it takes sockets only.
_FORCED = ("import sys, types\n"
           "import labkit.__main__ as cli\n"
           "def no_select(*args, **kwargs):\n"
           "    raise OSError(10038, 'select() takes sockets only here')\n"
           "cli.select = types.SimpleNamespace(select=no_select)\n"
           "cli._stdin_selectable = lambda: False\n"
           "sys.exit(cli.main(sys.argv[1:]))\n")


def _forced_client(port, *extra):
    return subprocess.Popen([sys.executable, "-c", _FORCED, "client", "chat", "--port", str(port),
                             *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV, cwd=ROOT)


def _finish(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if not pipe.closed:
            pipe.close()


def test_stdin_is_read_by_a_thread_where_select_cannot_take_it(monkeypatch):
    r, w = os.pipe()
    with open(r, "rb", buffering=0) as raw_in:
        monkeypatch.setattr(sys, "stdin", _StdinStandIn(raw_in))
        monkeypatch.setattr(cli, "_stdin_selectable", lambda: False)
        monkeypatch.setattr(cli, "select", types.SimpleNamespace(select=_no_select))
        stdin = cli._Stdin()
        assert stdin.chunks is not None  # the queue-and-thread path
        assert stdin.read(0.05) is None  # nothing typed yet: a short wait, then None
        os.write(w, "你好\n".encode())
        assert stdin.read(5) == "你好\n".encode()
        os.close(w)
        assert stdin.read(5) == b""  # end of input


class _StdinStandIn:
    """sys.stdin as far as the CLI uses it: fileno() and buffer.raw."""

    def __init__(self, raw):
        self.buffer = type("Buffer", (), {"raw": raw})()
        self._raw = raw

    def fileno(self):
        return self._raw.fileno()


def _no_select(*args, **kwargs):
    raise OSError(10038, "select() takes sockets only here")


def test_the_chat_client_sends_prints_and_quits_without_select_on_stdin(baseline):
    server = TCPServer(ChatRoom(), timeout=5)
    with labkit.connect(server) as bob:
        wait_for(lambda: len(server.handler.names()) == 1, what="bob in the room")
        proc = _forced_client(server.port, "--nick", "alice")
        try:
            proc.stdin.write("你好\n".encode())
            proc.stdin.flush()
            bob.settimeout(5)
            assert recv_line(bob) == "alice: 你好\n".encode()
            bob.sendall("欢迎 alice\n".encode())
            assert read_until(proc.stdout, b"\n") == "guest1: 欢迎 alice\n".encode()
            proc.stdin.close()  # EOF: the client sends /quit and exits 0
            assert proc.wait(10) == 0
            assert recv_line(bob) == b"* alice left\n"
            assert proc.stdout.read() == b"" and proc.stderr.read() == b""
        finally:
            _finish(proc)
    server.stop()
    assert server.errors == [] and server.connections == {}


def test_the_chat_client_exits_when_the_server_closes_while_its_stdin_thread_waits(baseline):
    # stdin stays open, so the stdin thread is blocked in a read when the chat ends: the
    # process must exit 0 at once all the same, and say nothing on stderr
    server = TCPServer(ChatRoom(), timeout=5)
    proc = _forced_client(server.port)
    try:
        proc.stdin.write(b"/nick carol\n")
        proc.stdin.flush()
        wait_for(lambda: server.handler.names() == ["carol"], what="carol in the room")
        server.stop()
        started = time.monotonic()
        assert proc.wait(10) == 0
        assert time.monotonic() - started < 5
        assert proc.stdout.read() == b"" and proc.stderr.read() == b""
    finally:
        server.stop()
        _finish(proc)
    assert server.connections == {}


# -- the kernel's socket table where a system-wide scan is refused (macOS) -------------------


@pytest.fixture
def no_proc(monkeypatch, tmp_path):
    """No /proc/net/tcp, as on macOS and Windows: the table comes from psutil alone."""
    monkeypatch.setattr(sockettable, "_PROC_NET", str(tmp_path / "no-proc-net"))


@pytest.fixture
def refused(no_proc, monkeypatch):
    """A system-wide scan raises AccessDenied, as on macOS without root."""
    calls = []

    def net_connections(kind="inet"):
        calls.append(kind)
        raise psutil.AccessDenied(pid=None, name=None, msg="a system-wide scan needs root")

    monkeypatch.setattr(psutil, "net_connections", net_connections)
    return calls


def _queued_and_accepted():
    """Snapshots of a connection waiting to be accepted, accepted, and closed."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(2)
        tl = kernelview.Timeline(listener=srv)
        with socket.create_connection(srv.getsockname(), timeout=2):
            tl.snap("queued")
            conn, _ = srv.accept()
            with conn:
                tl.snap("accepted")
        tl.snap("closed")
    return tl


def test_a_refused_scan_shows_our_own_sockets_and_says_so(baseline, refused):
    tl = _queued_and_accepted()
    assert refused  # the system-wide scan was tried
    queued, accepted, closed = tl
    # the server's end waiting in the queue belongs to no process: it cannot be seen
    assert [(r.name, r.state, r.held_by) for r in queued.rows] == [
        ("client → listener", "ESTABLISHED", "this process"),
        ("listener (listening)", "LISTEN", "this process")]
    assert [r.held_by for r in accepted.rows] == ["this process"] * 3
    # no TIME_WAIT row: the server's end closed first, and now belongs to no process
    assert [(r.name, r.state, r.held_by) for r in closed.rows] == [
        ("listener (listening)", "LISTEN", "this process")]
    for snap in tl:
        assert snap.note == kernelview.OWN_ONLY
        assert snap.text().splitlines()[-1] == "  " + kernelview.OWN_ONLY
        assert repr(snap).endswith(kernelview.OWN_ONLY)
        assert "the system refused a system-wide scan" in snap.html()
    assert repr(tl).count(kernelview.OWN_ONLY) == 3
    empty = kernelview.Snapshot("nothing", [], kernelview.OWN_ONLY)
    assert empty.text() == f"nothing:\n  (no sockets)\n  {kernelview.OWN_ONLY}"


def test_a_refused_scan_is_said_under_the_grid_too(refused):
    # no resource baseline: matplotlib keeps its font files open once loaded
    with socket.create_server(("127.0.0.1", 0)) as srv:
        tl = kernelview.Timeline(listener=srv)
        tl.snap("listening")
        fig = tl.plot()
    assert [t.get_text() for t in fig.texts] == [kernelview.OWN_ONLY]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["listener (listening)"]
    fig_normal = kernelview.Timeline()
    fig_normal.snapshots.append(kernelview.Snapshot("x", tl[0].rows))
    assert fig_normal.plot().texts == []  # no note, no strip below the grid


def test_net_connections_falls_back_to_this_process_and_says_so(baseline, refused, capsys):
    with socket.create_server(("127.0.0.1", 0)) as srv:
        port = srv.getsockname()[1]
        conns = sockettable.net_connections("tcp")
        assert refused == ["tcp"]
        assert capsys.readouterr().out == sockettable.OWN_ONLY + "\n"
        assert [c.status for c in conns if c.laddr.port == port] == ["LISTEN"]
        own = {(c.laddr, c.raddr, c.status) for c in psutil.Process().net_connections("tcp")}
        assert {(c.laddr, c.raddr, c.status) for c in conns} == own
    assert labkit.net_connections is sockettable.net_connections


def test_where_the_scan_is_allowed_nothing_is_said(baseline, capsys):
    with socket.create_server(("127.0.0.1", 0)) as srv:
        port = srv.getsockname()[1]
        conns = sockettable.net_connections("tcp")
        assert [c.status for c in conns if c.laddr.port == port] == ["LISTEN"]
        assert capsys.readouterr().out == ""
        snap = kernelview.socket_snapshot("here", listener=srv)
        assert snap.note is None
        assert snap.text() == ("here:\n  socket                state   local            remote  held by\n"
                               f"  listener (listening)  LISTEN  127.0.0.1:{port}  -       this process")
        assert "<i>" not in snap.html()


@pytest.mark.parametrize("no_process", [None, 0], ids=["pid None (BSD)", "pid 0 (Windows)"])
def test_without_proc_the_orphans_come_from_a_system_wide_scan(baseline, no_proc, monkeypatch,
                                                               no_process):
    # Windows lists a socket no process holds (TIME_WAIT) under pid 0; others under None
    real = psutil.net_connections

    def scan(kind="inet"):
        return [c._replace(pid=no_process) if c.pid is None else c for c in real(kind)]

    monkeypatch.setattr(psutil, "net_connections", scan)
    tl = _queued_and_accepted()
    queued, accepted, closed = tl
    assert ("listener → client", "ESTABLISHED", "the kernel only") in [
        (r.name, r.state, r.held_by) for r in queued.rows]
    # the server's end closed first: it waits in TIME_WAIT, held by no process
    assert [(r.name, r.state, r.held_by) for r in closed.rows if not r.owned] == [
        ("listener → client", "TIME_WAIT", "the kernel only")]
    assert all(snap.note is None for snap in tl)


# -- SO_REUSEADDR and "address in use" on Windows --------------------------------------------


def test_without_so_reuseaddr_a_server_still_binds_and_a_taken_port_is_still_an_error(
        baseline, monkeypatch):
    monkeypatch.setattr(base, "_REUSE_ADDRESS", False)  # as on Windows
    server = TCPServer(labkit.echo, timeout=5)
    try:
        assert server.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0
        assert labkit.echo_client(server, "你好") == "欢迎访问>>>>你好\r\n"
        with pytest.raises(labkit.errors.LabkitError, match="already in use"):
            TCPServer(labkit.echo, port=server.port, timeout=5)
    finally:
        server.stop()


def test_posix_servers_keep_so_reuseaddr(baseline):
    assert base._REUSE_ADDRESS is (os.name == "posix")
    server = TCPServer(labkit.echo, timeout=5)
    try:
        assert server.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
    finally:
        server.stop()


def test_windows_address_in_use_is_recognised():
    windows = OSError(10048, "Only one usage of each socket address is normally permitted")
    windows.winerror = 10048  # what Windows sets (errno may be a different number there)
    assert base._in_use(windows)
    assert base._in_use(OSError(errno.EADDRINUSE, "Address already in use"))
    assert not base._in_use(OSError(errno.EACCES, "Permission denied"))


@pytest.mark.parametrize("platform, expected", [("darwin", True), ("win32", True), ("freebsd13", False)])
def test_who_may_bind_ports_below_1024_elsewhere(monkeypatch, platform, expected):
    # lesson 02 asserts its port-80 outcome against this rule; as a non-root user
    # (root may bind them everywhere, so geteuid is made to say "not root")
    from labkit.course import bind
    monkeypatch.setattr(bind.sys, "platform", platform)
    monkeypatch.setattr(bind.os, "geteuid", lambda: 1000, raising=False)
    assert bind.may_bind_low_ports() is expected

"""The chat server (labkit.chat), its conformance check and lesson 10's exercise."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import labkit
from labkit import ChatRoom, TCPServer, check_chat_server
from labkit.exercises import chat as chat_lesson
from support import Baseline, assert_slow_member_dropped, recv_line

pytestmark = pytest.mark.timeout(30)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def room():
    """A chat server on 127.0.0.1; after the test: stopped quickly, nothing left over."""
    base = Baseline()
    server = TCPServer(ChatRoom(), timeout=10)
    yield server
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.5
    assert server.sock.fileno() == -1
    assert server.errors == []
    base.assert_restored()


def client(server, name=None, *, rcvbuf=None):
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5)
    sock.connect(server.address)
    if name:
        sock.sendall(f"/nick {name}\n".encode())
    return sock


def sync(server, *socks):
    """Wait until the room has len(socks) members and every one's /nick went through."""
    deadline = time.monotonic() + 5
    while len(server.handler.members) < len(socks) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert server.wait_quiet(10)


def test_the_contract_byte_for_byte(room):
    alice, bob, carol = client(room, "alice"), client(room, "bob"), client(room, "carol")
    with alice, bob, carol:
        sync(room, alice, bob, carol)
        alice.sendall("你好\n".encode())
        assert recv_line(bob) == "alice: 你好\n".encode()
        assert recv_line(carol) == "alice: 你好\n".encode()
        bob.sendall(b"one\r\ntwo\n")  # \r\n is fine too
        assert recv_line(alice) == b"bob: one\n"
        assert recv_line(alice) == b"bob: two\n"
        carol.sendall(b"/quit\n")
        assert recv_line(alice) == b"* carol left\n"
        assert recv_line(bob) == b"* carol left\n"
        assert recv_line(carol) == b"bob: one\n"  # never her own line back
        assert recv_line(carol) == b"bob: two\n"
        assert recv_line(carol) == b""  # then EOF
        bob.close()  # EOF without /quit leaves too
        assert recv_line(alice) == b"* bob left\n"
        assert room.handler.names() == ["alice"]


def test_names_default_and_bad_nick(room):
    with client(room) as first, client(room) as second:
        sync(room, first, second)
        first.sendall(b"hi\n/nick\n/nick two words\n/nickname\n")
        assert recv_line(second) == b"guest1: hi\n"
        assert recv_line(first) == b"! a name is 1 to 32 characters without spaces\n"
        assert recv_line(first) == b"! a name is 1 to 32 characters without spaces\n"
        assert recv_line(second) == b"guest1: /nickname\n"  # not the /nick command


def test_long_line_is_refused_at_once_and_the_connection_stays(room):
    with client(room, "alice") as alice, client(room, "bob") as bob:
        sync(room, alice, bob)
        alice.sendall(b"x" * 4096 + b"\n")  # exactly the limit: delivered
        assert recv_line(bob, 5) == b"alice: " + b"x" * 4096 + b"\n"
        alice.sendall(b"y" * 5000)  # no newline yet: the notice comes anyway
        assert recv_line(alice) == b"! line too long\n"
        alice.sendall(b"y" * 5000 + b"\nstill here\n")
        assert recv_line(bob) == b"alice: still here\n"  # the long line was dropped
        assert room.handler.pending_bytes() <= 4096


def test_bad_utf8_gets_a_notice_and_harms_nobody(room):
    with client(room, "alice") as alice, client(room, "bob") as bob:
        sync(room, alice, bob)
        alice.sendall(b"caf\xc3 \xff\n" + "你".encode()[:2] + b"\nok\n")
        assert recv_line(alice) == b"! invalid UTF-8\n"
        assert recv_line(alice) == b"! invalid UTF-8\n"
        assert recv_line(bob) == b"alice: ok\n"


def test_each_senders_order_is_kept(room):
    socks = [client(room, f"c{i}") for i in range(4)]
    try:
        sync(room, *socks)
        for i, s in enumerate(socks):
            s.sendall(b"".join(f"{j}\n".encode() for j in range(50)))
        for i, s in enumerate(socks):
            got = [recv_line(s) for _ in range(150)]
            for k, other in enumerate(socks):
                if k != i:
                    mine = [line for line in got if line.startswith(f"c{k}: ".encode())]
                    assert mine == [f"c{k}: {j}\n".encode() for j in range(50)]
    finally:
        for s in socks:
            s.close()


def test_a_slow_consumer_is_told_and_dropped_without_stalling_the_others(room):
    room.handler.grace = 10  # time the slow client has to read its notice: plenty here
    slow = client(room, "slow", rcvbuf=4096)
    alice, dave = client(room, "alice"), client(room, "dave")
    with slow, alice, dave:
        sync(room, slow, alice, dave)
        assert_slow_member_dropped(alice, dave, slow, timeout=10)
        assert room.handler.slow_dropped == 1 and "slow" not in room.handler.names()


def test_a_member_who_only_listens_stays_past_the_server_timeout():
    base = Baseline()
    with TCPServer(ChatRoom(), timeout=0.2) as server:
        with client(server) as quiet, client(server, "alice") as alice:
            sync(server, quiet, alice)
            time.sleep(0.5)  # quiet says nothing for longer than the server's timeout
            alice.sendall(b"still there?\n")
            assert recv_line(quiet) == b"alice: still there?\n"
    base.assert_restored()


def test_stop_with_clients_connected_is_quick(room):
    socks = [client(room, f"c{i}") for i in range(5)]
    sync(room, *socks)
    started = time.monotonic()
    room.stop()
    assert time.monotonic() - started < 1.5
    for s in socks:
        assert s.recv(100) == b""
        s.close()


def test_public_names():
    assert labkit.ChatRoom is ChatRoom
    assert isinstance(labkit.classroom.handler_for("chat"), ChatRoom)
    assert labkit.classroom.handler_for("chat") is not labkit.classroom.handler_for("chat")
    assert {"ChatRoom", "chat_panel", "check_chat_server"} <= set(labkit.__all__)
    assert labkit.chat.ChatPanel is labkit.chat.panel.ChatPanel


# -- the conformance check ----------------------------------------------------------------


def test_conformance_passes_labkit_chat(room):
    report = check_chat_server(room)
    assert report.status == "correct", report
    assert repr(report).splitlines()[0] == "chat conformance: ✅ every step passed"
    assert [name for name, *_ in report.steps] == list(labkit.chat.CHAT_STEPS)


def test_conformance_on_a_closed_port_is_not_attempted():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        report = check_chat_server(port)
    assert report.status == "not attempted"
    assert report.steps[0] == ("join", False, f"nothing is listening on 127.0.0.1:{port}")
    assert [p for _, p, _ in report.steps[1:]] == [None] * 6


def _lesson_namespace():
    """The lesson's step-2 server (chat_v2), as the notebook defines it."""
    ns = {}
    exec(STEP2, ns)
    return ns


STEP2 = '''
import queue, socket, threading
import labkit
room, names, room_lock = {}, {}, threading.Lock()

def tell(conn, data):
    conn.sendall(data)

def say(sender, text):
    with room_lock:
        for conn in list(room.values()):
            if conn is not sender:
                conn.sendall(text.encode())

def handle_line(conn, line):
    if isinstance(line, labkit.TooLong):
        tell(conn, b"! line too long\\n")
        return True
    text = line.decode("utf-8", errors="replace").removesuffix("\\r")
    if text == "/quit":
        return False
    if text == "/nick" or text.startswith("/nick "):
        name = text[5:].strip()
        if name:
            names[conn.number] = name
        else:
            tell(conn, b"! /nick needs a name\\n")
    else:
        say(conn, f"{names[conn.number]}: {text}\\n")
    return True

def chat_v2(conn):
    with room_lock:
        room[conn.number], names[conn.number] = conn, f"guest{conn.number}"
    decoder = labkit.LineDecoder(max_length=4096)
    try:
        while data := conn.recv(4096):
            if not all(handle_line(conn, line) for line in decoder.feed(data)):
                break
    finally:
        with room_lock:
            room.pop(conn.number, None)
        say(None, f"* {names.pop(conn.number)} left\\n")
'''


def test_conformance_catches_a_server_that_blocks_on_a_slow_client():
    base = Baseline()
    ns = _lesson_namespace()
    with TCPServer(ns["chat_v2"], timeout=5) as server:
        report = check_chat_server(server)
    assert report.status == "not yet"
    assert report.first_failure.startswith(
        "slow consumer: a client that never reads stalled the others: dave waited 1.5 s")
    base.assert_restored()


def test_conformance_catches_an_unbounded_queue():
    base = Baseline()
    ns = _lesson_namespace()
    exec(chat_lesson._SOLUTION.replace("queue.Queue(100)", "queue.Queue()"), ns)
    with TCPServer(ns["my_chat"], timeout=5) as server:
        report = check_chat_server(server)
    assert report.first_failure.startswith("slow consumer: the server queued all 1600 lines")
    base.assert_restored()


def test_conformance_names_the_first_wrong_step():
    def no_names(conn):  # broadcasts, but knows no commands and never says who left
        ns["room"][conn.number] = conn
        try:
            while data := conn.recv(4096):
                for other in list(ns["room"].values()):
                    if other is not conn:
                        other.sendall(b"someone: " + data)
        finally:
            ns["room"].pop(conn.number)

    ns = {"room": {}}
    with TCPServer(no_names, timeout=5) as server:
        report = check_chat_server(server)
    assert report.first_failure == ("nick: bob expected 'alice: 你好，大家好' "
                                    "but got 'someone: /nick alice'")
    assert "– broadcast" in repr(report)


# -- the exercise -------------------------------------------------------------------------


def test_exercise_three_verdicts():
    ex = labkit.exercise("10-chat")

    def my_chat(conn):
        ...

    assert ex.check(my_chat).status == "not attempted"
    def hangs_up(conn):
        conn.shutdown(socket.SHUT_RDWR)

    verdict = ex.check(hangs_up)
    assert verdict.status == "not yet"
    assert verdict.message.startswith(
        "join: the server closed alice's connection while alice waited for ': hello'.")
    ns = _lesson_namespace()
    exec(chat_lesson._SOLUTION, ns)
    verdict = ex.check(ns["my_chat"])
    assert verdict.status == "correct", verdict


def test_step2_handles_telnet_line_ends_and_a_bare_nick():
    base = Baseline()
    ns = _lesson_namespace()
    with TCPServer(ns["chat_v2"], timeout=5) as server:
        with labkit.connect(server) as alice, labkit.connect(server) as bob:
            assert server.wait_quiet(10)
            alice.sendall(b"/nick\r\n/nick alice\r\nhi\r\n")
            assert recv_line(alice) == b"! /nick needs a name\n"
            assert recv_line(bob) == b"alice: hi\n"
            alice.sendall(b"/quit\r\n")
            assert recv_line(bob) == b"* alice left\n"
    base.assert_restored()


def _solution_with(*changes):
    ns = _lesson_namespace()
    code = chat_lesson._SOLUTION
    for old, new in changes:
        assert old in code
        code = code.replace(old, new)
    exec(code, ns)
    return ns["my_chat"]


_RAW_THREAD = ("conn.start_thread(writer, conn, outbox)",
               "threading.Thread(target=writer, args=(conn, outbox), daemon=True).start()")
_NO_TRY = ("""    try:
        while (data := outbox.get()) is not None:    # None: the client has left
            conn.sendall(data)
    except OSError:
        pass               # the connection is gone: stop
""", """    while (data := outbox.get()) is not None:
        conn.sendall(data)
""")


def test_exercise_blocking_put_is_named():
    base = Baseline()
    verdict = labkit.exercise("10-chat").check(_solution_with(
        ("outboxes[number].put_nowait(data)", "outboxes[number].put(data)")))
    assert verdict.status == "not yet"
    assert verdict.message.startswith("One client that never reads stalled the room: "
                                      "put_or_drop() waited on that client's full queue")
    base.assert_restored()


def test_exercise_writer_exceptions_are_kept_not_printed(capfd):
    base = Baseline()
    ex = labkit.exercise("10-chat")
    verdict = ex.check(_solution_with(_RAW_THREAD, _NO_TRY))  # a Thread() writer without try
    assert verdict.status == "not yet"
    assert verdict.message.startswith("my_chat() starts writer() with threading.Thread: "
                                      "server.stop() cannot join a thread")
    # started with conn.start_thread, the same writer's OSError is the peer's doing
    assert ex.check(_solution_with(_NO_TRY)).status == "correct"
    assert ex.check(_solution_with(_RAW_THREAD)).status == "not yet"  # joined by nobody
    assert capfd.readouterr() == ("", "")  # no thread printed a traceback
    base.assert_restored()


@pytest.mark.no_leak_check(reason="the answer's writer threads never end, as the message says")
def test_exercise_names_writers_that_never_stop():
    verdict = labkit.exercise("10-chat").check(_solution_with(
        ("outbox.put_nowait(None)    # never put(): on a full queue it waits for good", "pass")))
    assert verdict.status == "not yet"
    assert verdict.message.startswith("A writer outlived its client: after the client had "
                                      "left, writer() still waited for a line.")
    assert verdict.message.endswith("until you restart it (Kernel → Restart Kernel). "
                                    "ex.hint() gives a hint.")


def test_connection_start_thread_keeps_exceptions_and_is_joined():
    base = Baseline()
    started = []

    def handler(conn):
        started.append(conn.start_thread(lambda: 1 / 0))
        started.append(conn.start_thread(conn.sendall, b"x" * 10))
        conn.recv(10)

    with TCPServer(handler, timeout=5) as server:
        with labkit.connect(server) as s:
            assert s.recv(10) == b"x" * 10
        assert server.wait_quiet(2)
    assert [type(e) for e in server.errors] == [ZeroDivisionError]
    assert "[conn 1] error: ZeroDivisionError: division by zero" in repr(server.events)
    assert not any(t.is_alive() for t in started)
    base.assert_restored()


def test_exercise_reports_a_handler_bug():
    def broken(conn):
        raise ValueError("oops")

    verdict = labkit.exercise("10-chat").check(broken)
    assert verdict.status == "not yet"
    assert verdict.message == ('broken() raised ValueError: oops, at `raise ValueError("oops")`. '
                               "ex.hint() gives a hint.")


# -- clients, panel and the command line ----------------------------------------------------


def test_chat_panel(room):
    pytest.importorskip("ipywidgets")
    panel = labkit.chat_panel(room, ["alice", "bob", "carol"])
    try:
        panel.say("alice", "你好")
        panel.say("bob", "hi alice")
        assert panel.transcript("alice") == "→ /nick alice\n→ 你好\n← bob: hi alice"
        assert panel.transcript("carol") == "→ /nick carol\n← alice: 你好\n← bob: hi alice"
        assert repr(panel) == "<ChatPanel: alice, bob, carol>"
        assert panel._repr_mimebundle_()["text/plain"] == "<ChatPanel: alice, bob, carol>"
    finally:
        panel.close()
    assert all(c.closed for c in panel.consoles.values())


def test_serve_chat_on_all_interfaces_warns_and_serves_loopback():
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "labkit", "serve", "chat", "--host", "0.0.0.0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        assert first.startswith("listening on 0.0.0.0:")
        port = int(first.rsplit(":", 1)[1])
        alice = socket.create_connection(("127.0.0.1", port), timeout=5)
        bob = socket.create_connection(("127.0.0.1", port), timeout=5)
        with alice, bob:
            for _ in range(50):  # until alice is in the room (the server adds her soon)
                bob.sendall("你好\n".encode())
                try:
                    line = recv_line(alice, timeout=0.1)
                    break
                except socket.timeout:
                    continue
            assert line == "guest2: 你好\n".encode()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "warning: listening on 0.0.0.0: reachable from other machines on the network" in err

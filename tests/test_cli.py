"""The command line contract: python -m labkit serve | client | doctor."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support import read_until

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONIOENCODING": "utf-8"}


def labkit(*args, env=ENV, **kwargs):
    return subprocess.run([sys.executable, "-m", "labkit", *args], capture_output=True,
                          text=True, timeout=30, env=env, cwd=ROOT, **kwargs)


class Serve:
    """`python -m labkit serve ...` as a context manager that yields (host, port)."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", "labkit", "serve", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=ENV, cwd=ROOT)

    def __enter__(self):
        line = self.proc.stdout.readline()  # printed and flushed once the port is bound
        assert line.startswith("listening on "), (line, self.proc.stderr.read())
        host, port = line.split()[-1].rsplit(":", 1)
        return host, int(port)

    def stop(self, sig=signal.SIGINT) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(10)
        return code, time.monotonic() - started

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_its_address_and_stops_cleanly_on_a_signal(sig):
    server = Serve("echo")
    with server as (host, port):
        assert host == "127.0.0.1" and port > 0
        client = labkit("client", "echo", "--host", host, "--port", str(port), "你好")
        assert (client.returncode, client.stdout) == (0, "欢迎访问>>>>你好\n")
        code, took = server.stop(sig)
        assert code == 0 and took < 1.0


def test_seed_client_talks_to_serve_echo():
    # The seed's own client.py against `serve echo`. The seed's 9998 may be held by another
    # learner on this machine, so the server takes port 0 and the client is told the port.
    server = Serve("echo")
    with server as (_, port):
        seed = subprocess.run([sys.executable, str(ROOT / "notebooks/programs/client.py"), str(port)],
                              input="你好\n0\n", capture_output=True, text=True, timeout=20,
                              env=ENV)
        assert seed.returncode == 0, seed.stderr
        assert "欢迎访问>>>>你好" in seed.stdout.splitlines()
        assert seed.stdout.splitlines()[-1] == "已断开链接……"
        assert server.stop()[0] == 0


def test_serve_on_the_network_warns_and_prints_where_to_join():
    from labkit.classroom import join_addresses

    server = Serve("chat", "--host", "0.0.0.0")
    with server as (host, port):
        assert host == "0.0.0.0"
        assert server.stop()[0] == 0
        assert server.proc.stderr.read() == (
            "warning: listening on 0.0.0.0: reachable from other machines on the network; "
            "stop with Ctrl-C when the demo is over\n")
        # after the first line: where learners join, the lines a notebook's room shows
        joins = server.proc.stdout.read().splitlines()
    assert joins == [str(a) for a in join_addresses(port, "0.0.0.0")] or joins == [
        "join at: no network address found on this machine - is it connected to the network?"]
    assert all(line.startswith("join at ") for line in joins)
    for address in join_addresses(port, "0.0.0.0"):  # every IPv4 network address, with its port
        assert f"join at {address.host}:{port} ({address.interface})" in joins


def test_serve_on_loopback_prints_no_join_lines():
    server = Serve("chat")
    with server as (host, port):
        assert server.stop()[0] == 0
        assert server.proc.stdout.read() == "" and server.proc.stderr.read() == ""


def test_client_greeting_and_clock():
    server = Serve("greeting")
    with server as (host, port):
        done = labkit("client", "greeting", "--port", str(port), "Hello 😀")
        assert done.stdout == f"谢谢连接我:/127.0.0.1:{port}\nGoodbye!\n"
        server.stop()
    server = Serve("clock")
    with server as (host, port):
        done = labkit("client", "clock", "--port", str(port))
        assert done.returncode == 0 and done.stdout.startswith("服务端消息: 20")
        server.stop()


def test_client_against_a_closed_port_says_what_to_check():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        done = labkit("client", "echo", "--port", str(port), "hi")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"error: nothing is listening on 127.0.0.1:{port} - is the server cell running?\n"


def test_port_in_use_is_an_error_with_exit_1():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        done = labkit("serve", "echo", "--port", str(s.getsockname()[1]))
    assert done.returncode == 1 and "already in use" in done.stderr


@pytest.mark.parametrize("args", [[], ["serve"], ["serve", "http"], ["client", "echo"],
                                  ["serve", "echo", "--port", "70000"]])
def test_bad_usage_exits_2(args):
    assert labkit(*args).returncode == 2


@pytest.mark.parametrize("command", ["serve", "client", "doctor"])
def test_every_command_has_help(command):
    done = labkit(command, "--help")
    assert done.returncode == 0 and "usage: python -m labkit " + command in done.stdout


def test_doctor_passes_on_this_machine():
    done = labkit("doctor")
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout
    assert [line.split(":")[0] for line in lines if line[:1] in "✓✗–"] == [
        "✓ Python", "✓ packages", "✓ Jupyter kernel", "✓ loopback", "✓ Java", "✓ PHP"]
    assert lines[-1] == "labkit doctor: ready"


def test_doctor_fails_when_an_essential_package_is_missing(tmp_path):
    # a sitecustomize that hides nbval from importlib.metadata
    (tmp_path / "sitecustomize.py").write_text(
        "import importlib.metadata as m\n"
        "_real = m.version\n"
        "def version(name):\n"
        "    if name == 'nbval':\n"
        "        raise m.PackageNotFoundError(name)\n"
        "    return _real(name)\n"
        "m.version = version\n")
    done = labkit("doctor", env={**ENV, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 1
    assert "missing: nbval" in done.stdout and "fix: python -m pip install -r requirements.txt" in done.stdout


def test_doctor_and_the_notebook_skip_agree_that_java_8_is_not_enough(tmp_path):
    # one rule (labkit.programs.langs.find_runtime) for doctor, the notebook skip and lesson 09: a
    # Java 8 on the PATH is "found" by `command -v`, but lesson 09 needs 11 or newer
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "java").write_text('#!/bin/sh\necho \'openjdk version "1.8.0_392"\' >&2\n')
    (fake / "java").chmod(0o755)
    env = {**ENV, "PATH": f"{fake}{os.pathsep}{ENV['PATH']}"}
    done = labkit("doctor", env=env)
    java = next(line for line in done.stdout.splitlines() if line.startswith("– Java"))
    assert "is Java 1.8.0_392; lesson 09 needs Java 11 or newer" in java
    assert done.returncode == 0  # Java is optional: the course is still ready without it
    skip = subprocess.run(
        [sys.executable, "-c", "import conftest; print(conftest.runtime_problem('java'))"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert skip.returncode == 0, skip.stderr
    assert "is Java 1.8.0_392; lesson 09 needs Java 11 or newer" in skip.stdout


# -- client chat: an interactive terminal client ---------------------------------------------


def _chat_client(port, *extra):
    return subprocess.Popen([sys.executable, "-m", "labkit", "client", "chat", "--port",
                             str(port), *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV, cwd=ROOT)


def _recv_until(sock, want: bytes) -> bytes:
    got = b""
    while not got.endswith(want):
        data = sock.recv(4096)  # the socket has a timeout
        assert data, got
        got += data
    return got


def test_client_chat_sends_stdin_prints_what_arrives_and_quits_at_eof():
    from labkit import ChatRoom, TCPServer, connect

    threads = threading.active_count()
    with TCPServer(ChatRoom(), timeout=5) as server:
        with connect(server) as bob:
            assert server.wait_quiet(10)  # bob is in the room
            proc = _chat_client(server.port, "--nick", "alice")
            try:
                proc.stdin.write("你好\n".encode())
                proc.stdin.flush()
                assert _recv_until(bob, b"\n") == "alice: 你好\n".encode()
                bob.sendall("欢迎 alice\n".encode())
                assert read_until(proc.stdout, b"\n") == "guest1: 欢迎 alice\n".encode()
                proc.stdin.close()  # EOF: the client sends /quit and exits 0
                assert proc.wait(10) == 0
                assert _recv_until(bob, b"\n") == b"* alice left\n"
                assert proc.stdout.read() == b"" and proc.stderr.read() == b""
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
                proc.stdout.close()
                proc.stderr.close()
    assert not server.running and server.connections == {}
    deadline = time.monotonic() + 3
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads


def test_client_chat_exits_0_when_the_server_closes():
    from labkit import ChatRoom, TCPServer

    server = TCPServer(ChatRoom(), timeout=5)
    proc = _chat_client(server.port)
    try:
        proc.stdin.write(b"/nick carol\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 5
        while server.handler.names() != ["carol"]:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        server.stop()  # stdin stays open: the client must notice the server went away
        assert proc.wait(10) == 0
        assert proc.stdout.read() == b"" and proc.stderr.read() == b""
    finally:
        server.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
    assert server.connections == {}


def test_client_chat_against_a_closed_port_says_what_to_check():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        done = labkit("client", "chat", "--port", str(port), input="hi\n")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"error: nothing is listening on 127.0.0.1:{port} - is the server cell running?\n"


def test_client_chat_takes_no_message_argument():
    done = labkit("client", "chat", "--port", "7000", "hi")
    assert done.returncode == 2 and "reads what to send from stdin" in done.stderr

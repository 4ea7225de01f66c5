"""The exercises of lessons 01-03: each check accepts its solution, rejects typical wrong
answers with a message naming what is wrong, answers a stub with "not attempted", and
leaves no thread or socket behind."""

import socket
import time

import pytest

import labkit
from labkit.course import bind
from labkit.exercises import create, listen
from labkit.errors import ProgramExitedError
from labkit.programs import start_program

pytestmark = pytest.mark.timeout(30)


def solution(name):
    """The exercise's own solution, run as a learner's cell would run it."""
    namespace = {"socket": socket}
    exec(labkit.exercise(name).solution().text, namespace)
    return [v for k, v in namespace.items() if callable(v) and not k.startswith("_")
            and k != "socket"][0]


def verdict(name, answer):
    return labkit.exercise(name).check(answer)


def assert_not_yet(name, answer, *fragments):
    result = verdict(name, answer)
    assert result.status == "not yet", result
    for fragment in fragments:
        assert fragment in result.message, result
    return result


NAMES = ["01-make-socket", "01-with", "02-free-port", "02-which-address", "02-reuse",
         "03-accept", "03-wait", "03-serve-many"]


@pytest.mark.parametrize("name", NAMES)
def test_solution_is_correct(name):
    result = verdict(name, solution(name))
    assert result.status == "correct", result
    assert bool(result)


@pytest.mark.parametrize("name", NAMES)
def test_untouched_stub_is_not_attempted(name):
    def stub(*args):
        ...
    assert verdict(name, stub).status == "not attempted"
    assert len(labkit.exercise(name).hints) >= 2


# -- 01 ----------------------------------------------------------------------

def test_make_socket_rejects_udp_made_as_stream():
    def make_socket(kind):
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    assert_not_yet("01-make-socket", make_socket, "make_socket('udp')", "SOCK_STREAM",
                   "SOCK_DGRAM")


def test_make_socket_rejects_swapped_types():
    def make_socket(kind):
        kind_ = socket.SOCK_DGRAM if kind == "tcp" else socket.SOCK_STREAM
        return socket.socket(socket.AF_INET, kind_)
    assert_not_yet("01-make-socket", make_socket, "make_socket('tcp')", "SOCK_DGRAM")


def test_make_socket_rejects_ipv6_and_closed_sockets():
    def ipv6(kind):
        return socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    assert_not_yet("01-make-socket", ipv6, "AF_INET6")

    def closed(kind):
        with socket.socket() as s:
            return s
    assert_not_yet("01-make-socket", closed, "already closed")


def test_ping_rejects_a_socket_left_open():
    def ping(address):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(address)
        s.sendall(b"ping")
        return s.recv(1024)
    assert_not_yet("01-with", ping, "its socket is still open", "ResourceWarning")


def test_ping_rejects_a_decoded_reply():
    def ping(address):
        with socket.create_connection(address, timeout=5) as s:
            s.sendall(b"ping")
            return s.recv(1024).decode("utf-8")
    assert_not_yet("01-with", ping, "returned the str")


def test_ping_rejects_a_str_send():
    def ping(address):
        with socket.create_connection(address, timeout=5) as s:
            s.sendall("ping")
            return s.recv(1024)
    assert_not_yet("01-with", ping, "TypeError", "encode")


def test_make_socket_names_the_string_passed_as_type():
    def make_socket(kind):
        return socket.socket(socket.AF_INET, kind)
    assert_not_yet("01-make-socket", make_socket, "make_socket('tcp')", "not the string 'tcp'",
                   "socket.SOCK_STREAM")


def test_make_socket_names_family_and_type_in_plain_words():
    def ipv6(kind):
        return socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    assert_not_yet("01-make-socket", ipv6, "made a socket of family AF_INET6;")

    def stream(kind):
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    assert_not_yet("01-make-socket", stream, "made a socket of type SOCK_STREAM;")


def test_ping_rejects_a_socket_without_timeout():
    def ping(address):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.connect(address)
            s.sendall(b"ping")
            return s.recv(1024)
    assert_not_yet("01-with", ping, "no timeout", "gettimeout() gave None", "settimeout")


def test_ping_rejects_a_timeout_of_an_hour():
    def ping(address):
        with socket.create_connection(address, timeout=3600) as s:
            s.sendall(b"ping")
            return s.recv(1024)
    assert_not_yet("01-with", ping, "3600 s", "few")


def test_ping_accepts_create_connection_with_a_timeout():
    def ping(address):
        with socket.create_connection(address, timeout=3) as s:
            s.sendall(b"ping")
            return s.recv(1024)
    assert verdict("01-with", ping).status == "correct"


def test_unclosed_warnings_records_without_printing(capfd):
    def leaky():
        socket.socket()
    result, messages = create.unclosed_warnings(leaky)
    assert result is None
    assert len(messages) == 1 and messages[0].startswith("unclosed <socket.socket fd=")
    assert capfd.readouterr().err == ""


# -- 02 ----------------------------------------------------------------------

def test_free_port_rejects_a_fixed_port():
    from test_catalogue_00_02 import FIXED as fixed  # free, and outside the ephemeral range

    def open_listener():
        s = socket.socket()
        s.bind(("127.0.0.1", fixed))
        s.listen()
        return s, fixed
    result = assert_not_yet("02-free-port", open_listener, "first call",
                            "a port your code chose", "Bind port 0")
    assert ".." not in result.message


def test_free_port_rejects_port_zero_as_the_answer():
    def open_listener():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        return s, 0
    assert_not_yet("02-free-port", open_listener, "returned port 0", "getsockname")


def test_free_port_rejects_missing_listen_and_any_address():
    def no_listen():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        return s, s.getsockname()[1]
    assert_not_yet("02-free-port", no_listen, "listen()")

    def everywhere():
        s = socket.socket()
        s.bind(("0.0.0.0", 0))
        s.listen()
        return s, s.getsockname()[1]
    assert_not_yet("02-free-port", everywhere, "'0.0.0.0'", "127.0.0.1")


def _listener_on(host):
    s = socket.socket()
    s.bind((host, 0))
    s.listen()
    return s


def test_which_address_rejects_localhost_for_the_network():
    def listener_for(audience):
        return _listener_on("127.0.0.1" if audience == "this machine" else "localhost")
    assert_not_yet("02-which-address", listener_for, "listener_for('the network')",
                   "loopback", "0.0.0.0")


def test_which_address_rejects_any_address_for_this_machine():
    def listener_for(audience):
        return _listener_on("0.0.0.0")
    assert_not_yet("02-which-address", listener_for, "listener_for('this machine')",
                   "other machines can reach it too")


def test_which_address_accepts_the_empty_host_as_any_address():
    def listener_for(audience):
        return _listener_on("127.0.0.1" if audience == "this machine" else "")
    assert verdict("02-which-address", listener_for).status == "correct"


def test_reuse_rejects_a_plain_bind():
    def listen_again(port):
        s = socket.socket()
        s.bind(("127.0.0.1", port))
        s.listen()
        return s
    assert_not_yet("02-reuse", listen_again, "Address already in use", "TIME_WAIT",
                   "SO_REUSEADDR")


def test_reuse_rejects_the_option_set_after_bind():
    def listen_again(port):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        finally:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.listen()
        return s
    assert_not_yet("02-reuse", listen_again, "Address already in use")


def test_reuse_rejects_another_port():
    def listen_again(port):
        return _listener_on("127.0.0.1")
    assert_not_yet("02-reuse", listen_again, "bound another port")


@pytest.mark.parametrize("again", [False, True])
def test_time_wait_blocks_a_plain_bind_but_not_one_with_reuseaddr(again):
    port = bind.leave_time_wait()
    if again:  # the lesson's binding cell makes a fresh TIME_WAIT on the same port
        assert bind.leave_time_wait(port=port) == port
    with socket.socket() as plain:
        with pytest.raises(OSError) as info:
            plain.bind(("127.0.0.1", port))
    assert "Address already in use" in str(info.value)
    with socket.socket() as reuse:
        reuse.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reuse.bind(("127.0.0.1", port))
        assert reuse.getsockname() == ("127.0.0.1", port)


def test_reuseaddr_does_not_cure_a_live_listener():
    with socket.socket() as old, socket.socket() as new:
        for s in (old, new):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        old.bind(("127.0.0.1", 0))
        old.listen()
        with pytest.raises(OSError, match="Address already in use"):
            new.bind(old.getsockname())


def test_try_connect_names_the_outcome():
    with listen.make_listener() as listener:
        port = listener.getsockname()[1]
        assert bind.try_connect("127.0.0.1", port) == "connected"
    assert bind.try_connect("127.0.0.1", port) == "ConnectionRefusedError"


# -- 03 ----------------------------------------------------------------------

def test_accept_rejects_sending_on_the_listener():
    def serve_one(listener):
        conn, address = listener.accept()
        listener.sendall(b"hello\n")
        return address
    assert_not_yet("03-accept", serve_one, "listening socket", "accept() returned")


def test_accept_rejects_closing_the_listener():
    def serve_one(listener):
        conn, address = listener.accept()
        with conn:
            conn.sendall(b"hello\n")
        listener.close()
        return address
    assert_not_yet("03-accept", serve_one, "closed the listening socket")


def test_accept_rejects_returning_the_socket():
    def serve_one(listener):
        conn, address = listener.accept()
        conn.sendall(b"hello\n")
        conn.shutdown(socket.SHUT_WR)
        return conn
    assert_not_yet("03-accept", serve_one, "returned a socket")


def test_wait_rejects_an_uncaught_timeout():
    def wait_for_client(listener, seconds):
        listener.settimeout(seconds)
        return listener.accept()
    assert_not_yet("03-wait", wait_for_client, "TimeoutError", "return None")


def test_wait_rejects_no_timeout_at_all():
    def wait_for_client(listener, seconds):
        return listener.accept()
    assert_not_yet("03-wait", wait_for_client, "still waiting after 2 s",
                   "listener.settimeout(seconds)")


def test_wait_rejects_non_blocking_accept():
    def wait_for_client(listener, seconds):
        listener.setblocking(False)
        try:
            return listener.accept()
        except BlockingIOError:
            return None
    assert_not_yet("03-wait", wait_for_client, "returned before 0.3 s had passed")


def test_serve_many_rejects_the_seeds_one_client_server():
    def serve(listener, n):
        conn, address = listener.accept()
        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.send(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
        conn.close()
    assert_not_yet("03-serve-many", serve, "Client 1 of 5", "still held its socket",
                   "Read one message with one recv(1024)")


def test_serve_many_rejects_a_server_that_never_closes():
    kept = []

    def serve(listener, n):
        for _ in range(n):
            conn, address = listener.accept()
            kept.append(conn)
            data = conn.recv(1024)
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
    try:
        result = assert_not_yet("03-serve-many", serve, "Client 1 of 5",
                                "accept() the next client without closing")
        assert "never accepted" not in result.message  # it waits in accept() for the next client
    finally:
        for conn in kept:
            conn.close()


def test_serve_many_rejects_a_wrong_reply():
    def serve(listener, n):
        for _ in range(n):
            conn, address = listener.accept()
            with conn:
                conn.sendall(conn.recv(1024))
    assert_not_yet("03-serve-many", serve, "Client 1 of 5", "received '你好 1';",
                   "expected '欢迎访问>>>>你好 1\\r\\n'")


def test_serve_many_says_which_clients_were_never_accepted():
    def serve(listener, n):
        conn, address = listener.accept()
        with conn:
            data = conn.recv(1024)
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
    assert_not_yet("03-serve-many", serve, "returned after accepting 1 client",
                   "clients 2 to 5 were never accepted")


def test_serve_many_names_bytes_and_str_mixed():
    def serve(listener, n):
        for _ in range(n):
            conn, address = listener.accept()
            with conn:
                conn.sendall("欢迎访问>>>>".encode("utf-8") + conn.recv(1024) + "\r\n")
    assert_not_yet("03-serve-many", serve, "TypeError", "data.decode(", "reply.encode(")


def test_accept_rejects_a_connection_left_open():
    def serve_one(listener):
        conn, address = listener.accept()
        conn.sendall(b"hello\n")
        return address
    assert_not_yet("03-accept", serve_one, "left the socket that accept() returned open",
                   "close")


def test_accept_names_encode_for_a_str_send():
    def serve_one(listener):
        conn, address = listener.accept()
        with conn:
            conn.sendall("hello\n")
        return address
    assert_not_yet("03-accept", serve_one, "TypeError", ".encode(")


def test_accept_names_a_second_accept():
    def serve_one(listener):
        conn, address = listener.accept()
        with conn:
            conn.sendall(b"hello\n")
        listener.accept()
        return address
    assert_not_yet("03-accept", serve_one, "called accept() again", "call accept() once")


def test_accept_rejects_returning_the_pair():
    def serve_one(listener):
        pair = listener.accept()
        with pair[0]:
            pair[0].sendall(b"hello\n")
        return pair
    assert_not_yet("03-accept", serve_one, "whole pair", "just the address")


def test_backlog_queues_clients_before_accept():
    with listen.make_listener(backlog=1) as listener:
        listener.settimeout(2)
        clients = [socket.create_connection(listener.getsockname(), timeout=2)
                   for _ in range(2)]  # backlog 1 queues two on Linux, more elsewhere
        accepted = [listener.accept()[0] for _ in clients]
        assert [a.getpeername() for a in accepted] == [c.getsockname() for c in clients]
        for s in accepted + clients:
            s.close()


def test_start_program_reads_the_first_line_and_times_out(tmp_path):
    import sys
    script = tmp_path / "hello.py"
    script.write_text("print('你好', flush=True)\nimport time; time.sleep(0.2)\n",
                      encoding="utf-8")
    proc = start_program([sys.executable, str(script)], ready=True, timeout=5)
    line = proc.ready_line
    assert line == "你好"
    assert proc.wait(timeout=5) == 0
    assert proc.communicate() == ("", "")  # the first line was read: nothing more came
    silent = tmp_path / "silent.py"
    silent.write_text("import time; time.sleep(30)\n")
    with pytest.raises(TimeoutError):
        start_program([sys.executable, str(silent)], ready=True, timeout=0.3)


def test_start_program_times_out_on_half_a_line(tmp_path):
    # A program that prints part of a line and stops: readline() alone would wait for ever.
    import sys
    script = tmp_path / "half.py"
    script.write_text("import sys, time\nsys.stdout.write('no newline'); sys.stdout.flush()\n"
                      "time.sleep(30)\n", encoding="utf-8")
    with pytest.raises(TimeoutError, match="no whole line"):  # the bounded wait, not readline()
        start_program([sys.executable, str(script)], ready=True, timeout=0.5)


def test_seed_server_reports_the_port_the_system_picked():
    import sys
    from pathlib import Path
    server = Path(__file__).parent.parent / "notebooks" / "programs" / "server.py"
    proc = start_program([sys.executable, str(server), "0"], ready=True, timeout=5)
    line = proc.ready_line
    try:
        port = int(line.rsplit(":", 1)[1])
        assert line.startswith("服务器已启动,等待连接>>> 127.0.0.1:") and port > 0
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall("你好".encode())
            assert client.recv(1024) == "欢迎访问>>>>你好\r\n".encode()
        assert proc.wait(timeout=5) == 0  # one client, then gone
    finally:
        proc.kill()
        proc.communicate()


def test_start_program_shows_stderr_of_a_program_that_exits_first(tmp_path):
    import sys
    script = tmp_path / "fails.py"
    script.write_text("import sys; sys.exit('没有端口')\n", encoding="utf-8")
    with pytest.raises(ProgramExitedError, match="exit code 1") as info:
        start_program([sys.executable, str(script)], ready=True, timeout=5)
    assert "没有端口" in str(info.value)
    assert info.value.returncode == 1


def test_start_program_names_a_port_in_use():
    import sys
    from pathlib import Path
    server = Path(__file__).parent.parent / "notebooks" / "programs" / "server.py"
    with listen.make_listener() as busy:
        port = str(busy.getsockname()[1])
        with pytest.raises(ProgramExitedError, match="Address already in use") as info:
            start_program([sys.executable, str(server), port], ready=True, timeout=5)
    assert "Another program still listens on that port" in str(info.value)


def test_start_program_ends_the_copy_started_before(tmp_path):
    import sys
    script = tmp_path / "waits.py"
    script.write_text("print('ready', flush=True)\nimport time; time.sleep(30)\n")
    first = start_program([sys.executable, str(script)], ready=True, timeout=5)
    second = start_program([sys.executable, str(script)], ready=True, timeout=5)
    line = second.ready_line
    try:
        assert line == "ready"
        assert first.poll() is not None and not first.running
        assert second.poll() is None
    finally:
        second.kill()
        second.communicate()


# -- messages that point at the beginner's mistake -----------------------------

def test_ping_names_use_after_with():
    def ping(address):
        with socket.create_connection(address, timeout=5) as s:
            s.sendall(b"ping")
        return s.recv(1024)
    assert_not_yet("01-with", ping, "inside the `with` block")


def test_free_port_names_the_address_returned_as_port():
    def open_listener():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        return s, s.getsockname()
    assert_not_yet("02-free-port", open_listener, "getsockname()[1]")


def test_accept_names_the_pair():
    def serve_one(listener):
        conn = listener.accept()
        conn.sendall(b"hello\n")
    assert_not_yet("03-accept", serve_one, "conn, address = listener.accept()")


def test_wait_rejects_sleeping_the_whole_time():
    def wait_for_client(listener, seconds):
        time.sleep(seconds)
        listener.setblocking(False)
        try:
            return listener.accept()
        except BlockingIOError:
            return None
    assert_not_yet("03-wait", wait_for_client, "as soon as it comes")


def test_serve_many_reports_the_functions_own_error_first():
    def serve(listener, n):
        for _ in range(n):
            conn, address = listener.accept()
            with conn:
                data = conn.recv(1024)
                conn.send("欢迎访问>>>>" + data.decode() + "\r\n")
    assert_not_yet("03-serve-many", serve, "raised TypeError")

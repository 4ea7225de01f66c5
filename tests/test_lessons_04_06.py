"""The exercises of lessons 04-06: each check accepts its solution, rejects typical wrong
answers with a message naming what is wrong, and calls an untouched stub "not attempted"."""

import socket
import threading
import time

import pytest

import labkit
from labkit.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(autouse=True)
def no_leftovers():
    """Every check stops its servers and peers: no labkit thread outlives it."""
    before = {t for t in threading.enumerate()}
    yield
    for thread in set(threading.enumerate()) - before:
        if thread.name != "labkit-exercise":  # a wrong answer may still be unwinding
            thread.join(3)
            assert not thread.is_alive(), thread.name
    assert labkit.running() == []


def solutions(name):
    """Every function the exercise's solution text defines, in order."""
    source = labkit.exercise(name)._solution
    found = []
    for part in source.split("\n\n# "):  # a solution may give more than one way
        namespace = {"socket": socket, "labkit": labkit}
        exec(("# " if found else "") + part, namespace)
        found += [v for k, v in namespace.items() if callable(v) and not k.startswith("__")
                  and v not in (socket, labkit) and getattr(v, "__module__", None) is None]
    return found


def verdict(name, answer):
    return labkit.exercise(name).check(answer)


def assert_not_yet(name, answer, *words):
    result = verdict(name, answer)
    assert result.status == INCORRECT, result
    for word in words:
        assert word in result.message, result
    return result


def stub(*args):
    ...


ALL = ["04-connect-first", "04-both-ends", "05-send-all", "05-recv-exactly", "05-read-lines",
       "06-read-all", "06-ask"]


@pytest.mark.parametrize("name", ALL)
def test_solution_is_correct_and_stub_not_attempted(name):
    answers = solutions(name)
    assert answers
    for answer in answers:
        result = verdict(name, answer)
        assert result.status == CORRECT, result
    assert verdict(name, stub).status == NOT_ATTEMPTED
    assert labkit.exercise(name).hint().text.startswith("Hint 1 of ")


# -- 04 ------------------------------------------------------------------------


def test_connect_first_rejects_trying_only_the_first_address():
    def connect_first(addresses, timeout):
        return socket.create_connection(addresses[0], timeout=timeout)

    assert_not_yet("04-connect-first", connect_first, "ConnectionRefusedError")


def test_connect_first_rejects_returning_none_when_nothing_listens():
    def connect_first(addresses, timeout):
        for address in addresses:
            try:
                return socket.create_connection(address, timeout=timeout)
            except OSError:
                pass

    assert_not_yet("04-connect-first", connect_first, "returned None", "raise the last error")


def test_connect_first_rejects_catching_only_refusals():
    def connect_first(addresses, timeout):
        error = None
        for address in addresses:
            try:
                return socket.create_connection(address, timeout=timeout)
            except ConnectionRefusedError as exc:
                error = exc
        raise error

    assert_not_yet("04-connect-first", connect_first, "TimeoutError: timed out.",
                   "never answers", "Catch TimeoutError too (or OSError")


def test_connect_first_says_to_try_the_next_address_before_raising():
    def connect_first(addresses, timeout):
        for address in addresses:
            try:
                return socket.create_connection(address, timeout=timeout)
            except OSError as exc:
                raise exc

    assert_not_yet("04-connect-first", connect_first, "ConnectionRefusedError",
                   "try the next address before giving up")


def test_connect_first_says_to_pass_the_timeout():
    def connect_first(addresses, timeout):
        error = None
        for address in addresses:
            try:
                return socket.create_connection(address)
            except OSError as exc:
                error = exc
        raise error

    result = assert_not_yet("04-connect-first", connect_first, "without a timeout",
                            "never answers", "create_connection(address, timeout=timeout)")
    assert "Catch TimeoutError" not in result.message


def test_both_ends_rejects_accepting_before_connecting():
    def both_ends(listener):
        server_side, _ = listener.accept()
        client = socket.create_connection(listener.getsockname(), timeout=2)
        return client, server_side

    assert_not_yet("04-both-ends", both_ends, "Connect first")


def test_both_ends_rejects_returning_accepts_tuple_or_the_listener():
    def with_tuple(listener):
        client = socket.create_connection(listener.getsockname(), timeout=2)
        return client, listener.accept()

    def with_listener(listener):
        client = socket.create_connection(listener.getsockname(), timeout=2)
        return client, listener

    assert_not_yet("04-both-ends", with_tuple, "accept() returns (socket, address)")
    assert_not_yet("04-both-ends", with_listener, "You returned the listener")


def test_both_ends_names_the_reversed_order():
    def both_ends(listener):
        client = socket.create_connection(listener.getsockname(), timeout=2)
        server_side, _ = listener.accept()
        return server_side, client

    assert_not_yet("04-both-ends", both_ends, "order is reversed", "(client, server_side)")


def test_both_ends_explains_that_a_listener_has_no_peer():
    def both_ends(listener):
        client = socket.create_connection(listener.getpeername(), timeout=2)
        server_side, _ = listener.accept()
        return client, server_side

    assert_not_yet("04-both-ends", both_ends, "Errno 107", "a listener is connected to nobody",
                   "listener.getsockname()")


def test_both_ends_rejects_sockets_closed_by_a_with_block():
    def both_ends(listener):
        with socket.create_connection(listener.getsockname(), timeout=2) as client:
            server_side, _ = listener.accept()
            with server_side:
                return client, server_side

    result = assert_not_yet("04-both-ends", both_ends, "closed sockets", "Return them open")
    assert "could not use" not in result.message


# -- 05 ------------------------------------------------------------------------


def test_send_all_rejects_one_send():
    def send_all(sock, data):
        sock.send(data)

    assert_not_yet("05-send-all", send_all, "ignored the count", "offer what is left")


def test_send_all_rejects_resending_from_the_start():
    def send_all(sock, data):
        total = 0
        while total < len(data):
            total += sock.send(data)

    assert_not_yet("05-send-all", send_all, "data[total:]")


def test_send_all_rejects_calling_sendall():
    def send_all(sock, data):
        sock.sendall(data)

    assert_not_yet("05-send-all", send_all, "AttributeError", "offers only send()")


def test_recv_exactly_rejects_a_single_recv():
    def recv_exactly(sock, n):
        return sock.recv(n)

    assert_not_yet("05-recv-exactly", recv_exactly, "only", "Loop")


def test_recv_exactly_rejects_asking_for_too_much():
    def recv_exactly(sock, n):
        data = b""
        while len(data) < n:
            data += sock.recv(1024)
        return data

    assert_not_yet("05-recv-exactly", recv_exactly, "next message")


def test_recv_exactly_rejects_ignoring_eof():
    def recv_exactly(sock, n):
        data = b""
        while len(data) < n:
            data += sock.recv(n - len(data))
        return data

    assert_not_yet("05-recv-exactly", recv_exactly, "kept calling recv()", "b''")


def test_recv_exactly_rejects_raising_something_other_than_connection_error():
    def recv_exactly(sock, n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError("peer closed")
            data += chunk
        return data

    assert_not_yet("05-recv-exactly", recv_exactly, "raised EOFError", "raise ConnectionError")


def test_recv_exactly_rejects_calling_labkits_own_in_every_spelling():
    original = labkit.recv_exactly
    namespace = {"labkit": labkit}
    exec("from labkit import recv_exactly as theirs\n"
         "def imported(sock, n):\n"
         "    return theirs(sock, n)\n", namespace)

    def via_package(sock, n):
        return labkit.recv_exactly(sock, n)

    def via_module(sock, n):
        return labkit.wire.framing.recv_exactly(sock, n, timeout=2)

    for answer in (original, namespace["imported"], via_package, via_module):
        assert_not_yet("05-recv-exactly", answer, "calls labkit.recv_exactly",
                       "write the loop yourself")
    # the check puts labkit's own function back, and it still works for everyone else
    assert labkit.recv_exactly is original and labkit.wire.framing.recv_exactly is original


def test_read_lines_rejects_decoding_each_chunk():
    def read_lines(sock):
        text = ""
        while chunk := sock.recv(1024):
            text += chunk.decode("utf-8")
        return text.splitlines()

    assert_not_yet("05-read-lines", read_lines, "UnicodeDecodeError", "cut")


def test_read_lines_rejects_keeping_the_empty_string_after_the_last_newline():
    def read_lines(sock):
        data = b""
        while chunk := sock.recv(1024):
            data += chunk
        return data.decode().split("\n")

    assert_not_yet("05-read-lines", read_lines, "extra ''")


def test_read_lines_rejects_splitting_each_chunk_on_its_own():
    def read_lines(sock):
        lines = []
        while chunk := sock.recv(1024):
            lines += chunk.decode("utf-8", "replace").splitlines()
        return lines

    assert_not_yet("05-read-lines", read_lines, "returned", "the peer sent the lines")


# -- 06 ------------------------------------------------------------------------


def test_read_all_rejects_a_single_recv():
    def read_all(sock):
        return sock.recv(1024)

    assert_not_yet("06-read-all", read_all, "keep reading until recv() returns b''")


def test_read_all_rejects_comparing_with_str():
    def read_all(sock):
        chunks = []
        while True:
            data = sock.recv(1024)
            if data == "":
                break
            chunks.append(data)
        return b"".join(chunks)

    assert_not_yet("06-read-all", read_all, "kept calling recv()", "b'' == '' is False")


def test_ask_rejects_not_shutting_down():
    def ask(address, request):
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(request)
            return sock.recv(1024)

    assert_not_yet("06-ask", ask, "shut down your sending side")


def test_ask_rejects_close_instead_of_shutdown():
    def ask(address, request):
        sock = socket.create_connection(address, timeout=2)
        sock.sendall(request)
        sock.close()
        return sock.recv(1024)

    assert_not_yet("06-ask", ask, "Bad file descriptor", "shutdown(socket.SHUT_WR)")


def test_ask_rejects_a_single_recv():
    def ask(address, request):
        with socket.create_connection(address, timeout=2) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            return sock.recv(1024)

    assert_not_yet("06-ask", ask, "read until recv() returns b''")


def test_ask_check_gives_socket_its_own_methods_back():
    # while 06-ask runs, socket.socket's shutdown, recv and recv_into are wrapped to see
    # what the learner's code does; afterwards they are the real ones again
    def ask(address, request):
        with socket.create_connection(address, timeout=2) as sock:
            sock.shutdown(socket.SHUT_RDWR)
            raise RuntimeError("gave up")

    assert_not_yet("06-ask", ask, "sock.shutdown(socket.SHUT_RDWR), which ends reading too")
    assert not {"shutdown", "recv", "recv_into"} & set(socket.socket.__dict__)


def test_states_leaves_out_other_connections_to_a_port_of_the_same_number():
    # On a shared machine another program's connection to a port with the same number can
    # still sit in TIME_WAIT when lesson 06's listener gets that number: not ours.
    from labkit.course.close import pair, states
    old = socket.create_server(("127.0.0.1", 0))
    port = old.getsockname()[1]
    stranger = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn, _ = old.accept()
    stranger.close()  # the stranger closes first: its end stays in TIME_WAIT
    conn.close()
    old.close()
    with socket.create_server(("127.0.0.1", port)):  # the same number, now ours
        assert states(port) == [("server", "LISTEN")]
    listener, client, server_side = pair()
    try:
        assert states(listener.getsockname()[1]) == [
            ("client", "ESTABLISHED"), ("server", "ESTABLISHED"), ("server", "LISTEN")]
    finally:
        for sock in (listener, client, server_side):
            sock.close()


def test_states_leaves_out_an_earlier_listeners_connections_on_the_same_port(monkeypatch):
    # A port number comes back: an earlier listener's connection may still wait in
    # TIME_WAIT on it, with a client port pair() made then. It is not the new one's.
    from labkit.course import close as helpers
    listener, client, server_side = helpers.pair()
    port = listener.getsockname()[1]
    client.close()                      # the client closes first: its end waits in TIME_WAIT
    server_side.close()
    deadline = time.monotonic() + 5
    while ("client", "TIME_WAIT") not in helpers.states(port):
        assert time.monotonic() < deadline, helpers.states(port)
        time.sleep(0.01)
    listener.close()
    real = socket.create_server
    monkeypatch.setattr(socket, "create_server",  # the next listener gets the same number
                        lambda address, **kw: real(("127.0.0.1", port), **kw))
    listener, client, server_side = helpers.pair()
    monkeypatch.undo()
    try:
        assert listener.getsockname()[1] == port
        assert helpers.states(port) == [("client", "ESTABLISHED"), ("server", "ESTABLISHED"),
                                        ("server", "LISTEN")]
    finally:
        for end in (client, server_side, listener):
            end.close()

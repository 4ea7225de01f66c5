"""The checks of lessons 07 and 08 accept their solutions and reject typical wrong answers."""

import selectors
import socket
import threading

import pytest

import labkit

pytestmark = pytest.mark.timeout(60)


def solution_of(name):
    namespace = {"socket": socket, "threading": threading, "selectors": selectors}
    exec(labkit.exercise(name).solution().text, namespace)
    return namespace


# -- 07-two-clients ---------------------------------------------------------------------


def test_two_clients_accepts_the_solution():
    verdict = labkit.exercise("07-two-clients").check(solution_of("07-two-clients")["serve_two"])
    assert verdict.status == "correct", verdict


def test_two_clients_accepts_a_selectors_answer():
    def serve_two(listener):
        with selectors.DefaultSelector() as sel:
            for _ in range(2):
                conn, _ = listener.accept()
                sel.register(conn, selectors.EVENT_READ)
            while sel.get_map():
                for key, _ in sel.select(2):
                    if data := key.fileobj.recv(1024):
                        key.fileobj.sendall(("欢迎访问>>>>" + data.decode() + "\r\n").encode())
                    else:
                        sel.unregister(key.fileobj)
                        key.fileobj.close()

    assert labkit.exercise("07-two-clients").check(serve_two).status == "correct"


def test_two_clients_rejects_the_seeds_one_at_a_time_server():
    def serve_two(listener):
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(("欢迎访问>>>>" + data.decode() + "\r\n").encode())

    verdict = labkit.exercise("07-two-clients").check(serve_two)
    assert verdict.status == "not yet"
    assert "your server had not accepted client 2; it was still serving client 1, one client " \
        "at a time" in verdict.message


def test_two_clients_rejects_a_server_that_stops_when_the_first_leaves():
    def serve_two(listener):
        a, _ = listener.accept()
        b, _ = listener.accept()
        with a, b, selectors.DefaultSelector() as sel:
            sel.register(a, selectors.EVENT_READ)
            sel.register(b, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select(2):
                    data = key.fileobj.recv(1024)
                    if not data:
                        return
                    key.fileobj.sendall(("欢迎访问>>>>" + data.decode() + "\r\n").encode())

    verdict = labkit.exercise("07-two-clients").check(serve_two)
    assert verdict.status == "not yet"
    assert "After client 2 left, client 1 sent" in verdict.message
    assert "your server had closed client 1's connection too" in verdict.message


def test_two_clients_rejects_a_server_that_returns_without_joining():
    def serve_two(listener):
        def handle(conn):
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(("欢迎访问>>>>" + data.decode() + "\r\n").encode())

        for _ in range(2):
            conn, _ = listener.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()
        # returns at once: never waits for the clients to leave

    verdict = labkit.exercise("07-two-clients").check(serve_two)
    assert verdict.status == "not yet"
    assert "returned while both clients were still connected" in verdict.message
    assert "join() both threads" in verdict.message


def test_two_clients_names_a_wrong_reply_and_a_stub():
    def serve_two(listener):
        conns = [listener.accept()[0] for _ in range(2)]

        def handle(conn):
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(b"welcome " + data)  # not the seed's reply

        threads = [threading.Thread(target=handle, args=(c,)) for c in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    ex = labkit.exercise("07-two-clients")
    verdict = ex.check(serve_two)
    assert verdict.status == "not yet" and "expected '欢迎访问>>>>hello, from 2 (#1)\\r\\n'" \
        in verdict.message

    def stub(listener):
        ...

    assert ex.check(stub).status == "not attempted"


# -- 08-retry ---------------------------------------------------------------------------


def test_retry_accepts_the_solution():
    verdict = labkit.exercise("08-retry").check(solution_of("08-retry")["ask"])
    assert verdict.status == "correct", verdict
    assert "on the 4th attempt" in verdict.message


def test_retry_rejects_a_single_attempt():
    def ask(address, text):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.5)
            sock.sendto(text.encode(), address)
            return sock.recv(2048).decode()

    verdict = labkit.exercise("08-retry").check(ask)
    assert verdict.status == "not yet"
    assert "you sent only one" in verdict.message


def test_retry_rejects_retries_without_backoff():
    def ask(address, text):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(8):
                sock.sendto(text.encode(), address)
                sock.settimeout(0.05)
                try:
                    return sock.recv(2048).decode()
                except TimeoutError:
                    pass
        raise TimeoutError("no reply")

    verdict = labkit.exercise("08-retry").check(ask)
    assert verdict.status == "not yet"
    assert "the same wait every time" in verdict.message


def test_retry_rejects_returning_none_when_everything_is_lost():
    ask_right = solution_of("08-retry")["ask"]

    def ask(address, text):
        try:
            return ask_right(address, text)
        except TimeoutError:
            return None

    verdict = labkit.exercise("08-retry").check(ask)
    assert verdict.status == "not yet" and "yet ask() returned None" in verdict.message


def backoff_ask(attempts, give_up):
    """A backing-off ask with *attempts* attempts that calls give_up() at the end."""
    def ask(address, text):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            timeout = 0.05
            for _ in range(attempts):
                sock.sendto(text.encode(), address)
                sock.settimeout(timeout)
                try:
                    return sock.recv(2048).decode()
                except TimeoutError:
                    timeout *= 2
        give_up()
    return ask


def test_retry_says_how_many_attempts_were_made_and_needed():
    def give_up():
        raise TimeoutError

    verdict = labkit.exercise("08-retry").check(backoff_ask(3, give_up))
    assert verdict.status == "not yet"
    assert "raised TimeoutError after 3 attempts" in verdict.message
    assert "the 4th attempt is the first to get an answer" in verdict.message
    assert "TimeoutError:" not in verdict.message


@pytest.mark.parametrize("error", [ValueError("no reply"), OSError("no reply")])
def test_retry_requires_timeout_error_when_everything_is_lost(error):
    def give_up():
        raise error

    verdict = labkit.exercise("08-retry").check(backoff_ask(5, give_up))
    assert verdict.status == "not yet"
    assert f"gave up after 5 attempts but raised {type(error).__name__} ('no reply')" \
        in verdict.message


def test_retry_accepts_socket_timeout_which_is_timeout_error():
    def give_up():
        raise socket.timeout("no reply after 5 attempts")

    verdict = labkit.exercise("08-retry").check(backoff_ask(5, give_up))
    assert verdict.status == "correct", verdict
    assert "gave up after 5 attempts with TimeoutError" in verdict.message

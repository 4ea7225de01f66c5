"""The exercise machinery, and lesson 00's check against right and wrong answers."""

import socket

import pytest

import labkit
from labkit.exercises import Exercise, NotYet, call, is_stub

pytestmark = pytest.mark.timeout(30)


def solution(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode("utf-8"))
        return s.recv(1024).decode("utf-8")


def returns_bytes(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode("utf-8"))
        return s.recv(1024)


def sends_str(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text)


def never_sends(address, text):
    with socket.create_connection(address) as s:  # no timeout: recv would wait forever
        return s.recv(1024).decode()


def leaks_its_socket(address, text):
    s = socket.create_connection(address, timeout=5)
    s.sendall(text.encode("utf-8"))
    return s.recv(1024).decode("utf-8")


def hard_coded(address, text):
    return "欢迎访问>>>>你好\r\n"


def stub(address, text):
    ...  # your code here


@pytest.fixture
def ask():
    return labkit.exercise("00-ask")  # the autouse leak check (tests/conftest.py) follows it


def test_the_solution_is_correct(ask):
    verdict = ask.check(solution)
    assert verdict and verdict.status == "correct"
    assert repr(verdict) == ("✅ 00-ask: Correct. Your function asked the real echo server "
                             "twice and got both replies.")


def test_the_shown_solution_is_correct(ask):
    namespace = {"socket": socket}
    exec(ask.solution().text, namespace)
    assert ask.check(namespace["ask"])


@pytest.mark.parametrize("answer, says", [
    (returns_bytes, "returned bytes"),
    (sends_str, "a bytes-like object is required, not 'str'. A socket sends bytes: encode"),
    (leaks_its_socket, "returned, but its socket is still open"),
    (never_sends, "connected, then waited for a reply without sending anything"),
    (hard_coded, "returned '欢迎访问>>>>你好\\r\\n'; expected '欢迎访问>>>>hello\\r\\n'"),
])
def test_wrong_answers_are_not_yet_and_say_why(ask, answer, says):
    verdict = ask.check(answer)
    assert not verdict and verdict.status == "not yet"
    assert says in verdict.message


@pytest.mark.parametrize("answer", [stub, None, ...])
def test_untouched_is_not_attempted(ask, answer):
    verdict = ask.check(answer)
    assert verdict.status == "not attempted" and not verdict


def test_a_broken_check_does_not_raise_in_the_notebook():
    def checker(answer):
        raise RuntimeError("bug in the check")

    verdict = Exercise("x", "t", checker, [], "").check(lambda: 1)
    assert verdict.status == "check crashed" and "The check itself failed" in verdict.message


def test_hints_come_one_step_at_a_time():
    ex = Exercise("x", "t", lambda a: None, ["first", "second"], "")
    last = "Hint 2 of 2: second (That was the last hint; ex.solution() shows a worked answer.)"
    assert [repr(ex.hint()) for _ in range(3)] == ["Hint 1 of 2: first", last, last]
    assert repr(ex.hint(1)) == "Hint 1 of 2: first"


def test_call_turns_failures_into_not_yet():
    assert call(lambda a: a * 2, 21) == 42
    with pytest.raises(NotYet, match=r"f\(\) raised ValueError: no"):
        call(lambda: (_ for _ in ()).throw(ValueError("no")), what="f()")


def test_is_stub_tells_an_empty_body_from_real_code():
    def doc_only():
        """Return the answer."""

    def returns_value():
        return 42

    assert is_stub(stub) and is_stub(doc_only) and is_stub(None)
    assert not is_stub(returns_value) and not is_stub(solution) and not is_stub(print)


def test_unknown_exercise_lists_the_known_ones():
    with pytest.raises(KeyError, match="no exercise called 'nope'; known: .*00-ask"):
        labkit.exercise("nope")

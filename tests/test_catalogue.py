"""Every exercise has a catalogue of at least four wrong answers (tests/catalogue.py), and
a check that crashes gets its own verdict."""

import importlib
from pathlib import Path

import pytest

import labkit
from labkit.exercises import CRASHED, Exercise, core

MODULES = sorted(p.stem for p in Path(__file__).parent.glob("test_catalogue_*.py"))


def _catalogue():
    wrong = []
    for name in MODULES:
        wrong += importlib.import_module(name).WRONG
    return wrong


def test_every_exercise_has_at_least_four_wrong_answers_with_their_messages():
    labkit.exercise("00-ask")  # registers every exercise
    counts = {name: 0 for name in core.known()}
    for wrong in _catalogue():
        assert wrong.exercise in counts, f"{wrong}: no such exercise"
        assert wrong.message.endswith("ex.hint() gives a hint."), f"{wrong}: not a whole message"
        counts[wrong.exercise] += 1
    assert len(counts) == 25
    assert {name: n for name, n in counts.items() if n < 4} == {}


def test_wrong_answer_names_are_unique():
    ids = [str(w) for w in _catalogue()]
    assert len(ids) == len(set(ids))


def test_a_check_that_crashes_says_so_and_does_not_blame_the_answer():
    def checker(answer):
        raise RuntimeError("bug in the check")

    verdict = Exercise("x", "t", checker, [], "").check(lambda: 1)
    assert verdict.status == CRASHED and not verdict
    assert verdict.message.startswith("The check itself failed (RuntimeError: bug in the check). "
                                      "That is a fault in labkit, not in your answer")
    assert repr(verdict).startswith("⚠️ x: Check crashed.")


@pytest.mark.parametrize("keep", ["in a list", "in a global"])
def test_a_socket_kept_alive_is_found_open_and_closed_by_the_check(keep):
    import socket
    kept = []

    def answer():
        s = socket.create_server(("127.0.0.1", 0))
        if keep == "in a list":
            kept.append(s)
        else:
            globals()["_kept"] = s

    def checker(fn):
        from labkit.exercises import call
        call(fn)
        return "fine"

    verdict = Exercise("x", "t", checker, [], "").check(answer)
    assert verdict.status == "not yet"
    assert verdict.message == (
        "When the check ended, your code still had a TCP socket listening on 127.0.0.1 open. "
        "Close every socket you open: use `with`, or call close() in a `finally:` block; a "
        "socket kept in a list or a variable stays open until you close it. ex.hint() gives a hint.")
    sock = kept[0] if kept else globals().pop("_kept")
    assert sock.fileno() == -1  # the check closed it


def test_sockets_made_by_the_checks_own_threads_are_not_the_learners():
    import socket
    import threading

    def checker(fn):
        from labkit.exercises import call
        mine = socket.socket()  # the checker's own, in its own thread: not counted
        t = threading.Thread(target=lambda: holder.append(socket.socket()), name="labkit-peer")
        t.start(); t.join()
        call(fn)
        mine.close(); holder[0].close()
        return "fine"

    holder = []

    def answer():
        with socket.socket():
            pass

    assert Exercise("x", "t", checker, [], "").check(answer).status == "correct"


def test_a_thread_the_learner_starts_is_the_learners_too():
    import socket
    import threading
    from labkit.exercises import call

    def answer():
        thread = threading.Thread(target=lambda: box.append(socket.socket()))
        thread.start()
        thread.join()

    box = []

    def checker(fn):
        call(fn)
        return "fine"

    verdict = Exercise("x", "t", checker, [], "").check(answer)
    assert verdict.status == "not yet" and "a TCP socket never connected open" in verdict.message
    assert box[0].fileno() == -1


def test_a_socketpair_left_open_is_described_not_a_crash():
    import socket
    from labkit.exercises import call

    def answer():
        global _pair
        _pair = socket.socketpair()

    def checker(fn):
        call(fn)
        return "fine"

    verdict = Exercise("x", "t", checker, [], "").check(answer)
    assert verdict.status == "not yet"
    a, b = socket.socketpair()  # AF_UNIX here; AF_INET where the system has none
    with a, b:
        family = a.family
    if family == socket.AF_UNIX:
        assert "2 sockets (a TCP socket of family AF_UNIX, " in verdict.message
    else:
        assert "2 sockets (a TCP socket connected to a peer, " in verdict.message
    assert all(s.fileno() == -1 for s in _pair)


def test_an_exception_without_a_message_reads_cleanly():
    from labkit.exercises import NotYet, call

    def answer():
        raise NotImplementedError

    with pytest.raises(NotYet) as caught:
        call(answer, what="answer()")
    assert str(caught.value) == "answer() raised NotImplementedError"


@pytest.mark.parametrize("value, kind", [((1, 2), "a tuple"), (42, "an int"), ("f", "a str")])
def test_passing_a_result_instead_of_the_function_says_so(value, kind):
    verdict = labkit.exercise("02-free-port").check(value)
    assert verdict.status == "not yet"
    assert verdict.message.startswith(f"The check was given {kind}, not a function: pass the "
                                      "function itself")


def test_the_ports_the_learner_bound_are_recorded():
    import socket
    from labkit.exercises import call, learner_binds

    seen = []

    def answer():
        with socket.create_server(("127.0.0.1", 0)):
            pass
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))

    def checker(fn):
        call(fn)
        seen.extend(learner_binds())
        return "fine"

    assert Exercise("x", "t", checker, [], "").check(answer)
    assert seen == [("127.0.0.1", 0), ("127.0.0.1", 0)]
    assert "bind" not in socket.socket.__dict__  # put back as it was


def test_a_labkit_server_the_learner_leaves_running_is_stopped_and_named():
    from labkit.exercises import call

    def answer():
        return labkit.serve(labkit.echo, name="left-behind")

    box = []

    def checker(fn):
        box.append(call(fn))
        return "fine"

    verdict = Exercise("x", "t", checker, [], "").check(answer)
    assert verdict.status == "not yet"
    assert verdict.message.startswith("When the check ended, your code still had a labkit "
                                      "server (TCPServer 'left-behind') open.")
    assert "A labkit server you start ends with its stop()" in verdict.message
    assert not box[0].running and labkit.running() == []

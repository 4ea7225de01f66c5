"""Exercises: a learner writes a function, ``check()`` runs it against real sockets.

    ex = exercise("00-ask")
    def ask(address, text):
        ...            # the learner's code goes here
    ex.check(ask)      # correct / not yet (naming the first wrong thing) / not attempted
    ex.hint()          # the next hint, one step at a time
    ex.solution()      # a worked answer, on request

A check never raises in the learner's notebook: any exception from the
learner's code, or a call that does not return in time, becomes a "not yet"
verdict that says what happened. Exercises are defined in ``labkit.exercises.*``
with the :func:`register` decorator; a check function raises :class:`NotYet`
for the first wrong thing it finds and returns a short success message.

Three more rules hold for every check:

- **Leaks are found by what is still open.** While a check runs, every socket the
  learner's code creates (in the thread ``call()`` starts, or in any thread that code
  starts) is recorded and kept referenced, so the garbage collector cannot close it
  quietly. A checker asks :func:`left_open` at the point where everything should be
  closed; and no answer is correct while one of them is still open when the checker
  ends. Whatever is left is closed by the check, so a wrong answer leaks nothing.
- **A check that crashes says so.** An exception from the checker that is not
  :class:`NotYet` is a bug in the check, not in the answer: it gets its own verdict,
  "check crashed", never "not yet". A checker turns everything an answer can do wrong
  (a wrong type, a closed socket) into :class:`NotYet` itself.
- **The peer is the worst legal peer.** Checks send in pieces, take fewer bytes than
  offered, vary who speaks first, and vanish mid-message (see ``labkit.wire.peers``), from a
  fixed seed, so that a verdict is the same on every run.
"""

from __future__ import annotations

import dis
import html

from labkit.exercises.watch import (NotYet, _kind_of, _open_message, _watching_sockets, call,
                                   describe_socket, learner_binds, learner_sockets, left_open)

__all__ = ["Verdict", "Exercise", "register", "registered", "known", "is_stub", "CORRECT",
           "INCORRECT", "NOT_ATTEMPTED", "CRASHED"]

CORRECT, INCORRECT, NOT_ATTEMPTED = "correct", "not yet", "not attempted"
CRASHED = "check crashed"
_MARKS = {CORRECT: ("✅", "#1a7f37"), INCORRECT: ("❌", "#b35900"),
          NOT_ATTEMPTED: ("○", "#57606a"), CRASHED: ("⚠️", "#cf222e")}


class Verdict:
    """The outcome of a check; true only when correct. Shows itself in the cell.

    >>> verdict = Verdict("xx-add", CORRECT, "it adds")
    >>> bool(verdict), verdict.status
    (True, 'correct')
    >>> bool(Verdict("xx-add", INCORRECT, "add(2, 3) gave 6"))
    False
    """

    def __init__(self, exercise: str, status: str, message: str):
        self.exercise, self.status, self.message = exercise, status, message

    def __bool__(self) -> bool:
        return self.status == CORRECT

    def __repr__(self) -> str:
        mark = _MARKS[self.status][0]
        return f"{mark} {self.exercise}: {self.status.capitalize()}. {self.message}"

    def _repr_html_(self) -> str:
        mark, colour = _MARKS[self.status]
        return (f'<div style="border-left:4px solid {colour};padding:2px 8px">{mark} '
                f'<b style="color:{colour}">{html.escape(self.status.capitalize())}</b>: '
                f"{html.escape(self.message)}</div>")


class _Text:
    """A small display object: plain text in the notebook, with optional HTML."""

    def __init__(self, text: str, code: bool = False):
        self.text, self.code = text, code

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        body = html.escape(self.text)
        return f"<pre>{body}</pre>" if self.code else f"<p>{body}</p>"


_STUB_OPS = {"RESUME", "NOP", "LOAD_CONST", "RETURN_VALUE", "RETURN_CONST", "POP_TOP"}


def is_stub(answer) -> bool:
    """True for None, ``...``, or a function whose body does nothing (``...``/``pass``).

    >>> def add(a, b):
    ...     ...
    >>> is_stub(add), is_stub(lambda a, b: a + b)
    (True, False)
    """
    if answer is None or answer is Ellipsis:
        return True
    code = getattr(answer, "__code__", None)
    if code is None:
        return False
    for op in dis.get_instructions(code):
        if op.opname not in _STUB_OPS:
            return False
        if op.opname in ("LOAD_CONST", "RETURN_CONST") and op.argval not in (None, Ellipsis):
            return False  # returns a real value, e.g. ``return 42`` (docstrings are not loaded)
    return True


class Exercise:
    """One exercise: a check, graded hints and a solution.

    >>> def checker(add):
    ...     if add(2, 3) != 5:
    ...         raise NotYet(f"add(2, 3) gave {add(2, 3)!r}, not 5.")
    ...     return "it adds"
    >>> ex = Exercise("xx-add", "Add two numbers", checker, ["Use +."], "return a + b")
    >>> ex.check(lambda a, b: a + b).status
    'correct'
    >>> print(ex.check(lambda a, b: a * b).message)
    add(2, 3) gave 6, not 5. ex.hint() gives a hint.
    >>> ex.check(None).status             # the untouched stub
    'not attempted'
    """

    def __init__(self, name: str, title: str, checker, hints, solution: str):
        self.name, self.title, self._checker = name, title, checker
        self.hints, self._solution = list(hints), solution.strip("\n")
        self._hints_shown = 0

    def check(self, answer) -> Verdict:
        """Run the check. Never raises: every outcome is a Verdict."""
        if is_stub(answer):
            return Verdict(self.name, NOT_ATTEMPTED,
                           "Write your answer in the cell above, run it, then run this check "
                           "again. ex.hint() gives a hint.")
        if not callable(answer):
            return Verdict(self.name, INCORRECT,
                           f"The check was given {_kind_of(answer)}, not a function: pass "
                           "the function itself, by its name and without the brackets that "
                           "call it, e.g. ex.check(my_function), not ex.check(my_function()). "
                           "ex.hint() gives a hint.")
        try:
            with _watching_sockets():
                message = self._checker(answer)
                still = left_open()
                if still:
                    raise NotYet(_open_message(still))
        except NotYet as exc:
            text = str(exc).rstrip()
            if not text.endswith((".", "!", "?")):
                text += "."
            return Verdict(self.name, INCORRECT, f"{text} ex.hint() gives a hint.")
        except Exception as exc:  # a bug in the check itself: say so, never blame the answer
            return Verdict(self.name, CRASHED,
                           f"The check itself failed ({type(exc).__name__}: {exc}). That is "
                           "a fault in labkit, not in your answer: please report it, with "
                           "your code. Restarting the kernel and running the lesson again "
                           "may get past it.")
        message = message or "Well done."
        return Verdict(self.name, CORRECT, message[:1].upper() + message[1:])

    def hint(self, number: int | None = None) -> _Text:
        """The next hint (or hint *number*, counting from 1)."""
        if not self.hints:
            return _Text("This exercise has no hints.")
        if number is None:
            self._hints_shown = min(self._hints_shown + 1, len(self.hints))
            number = self._hints_shown
        number = max(1, min(number, len(self.hints)))
        text = f"Hint {number} of {len(self.hints)}: {self.hints[number - 1]}"
        if number == len(self.hints):
            text += " (That was the last hint; ex.solution() shows a worked answer.)"
        return _Text(text)

    def solution(self) -> _Text:
        """A worked answer. Try the hints first!"""
        return _Text(self._solution, code=True)

    def __repr__(self) -> str:
        return f"Exercise {self.name}: {self.title}"


_REGISTRY: dict[str, Exercise] = {}


def register(name: str, *, title: str, hints=(), solution: str = ""):
    """Decorator: register a check function as exercise *name*.

    >>> @register("xx-echo", title="Echo a word", hints=["Return it."])
    ... def _check_echo(echo):
    ...     return "it echoes" if echo("hi") == "hi" else "no"
    >>> registered("xx-echo")
    Exercise xx-echo: Echo a word
    """

    def decorate(checker):
        _REGISTRY[name] = Exercise(name, title, checker, hints, solution)
        return checker

    return decorate


def registered(name: str) -> Exercise | None:
    """The exercise registered as *name*, or None if no module has registered it (yet).

    >>> registered("no-such-exercise") is None
    True
    """
    return _REGISTRY.get(name)


def known() -> list[str]:
    """The names of every exercise registered so far, sorted.

    >>> import labkit
    >>> _ = labkit.exercise("00-ask")     # registers every lesson's exercises
    >>> known()[:3]
    ['00-ask', '01-make-socket', '01-with']
    """
    return sorted(_REGISTRY)

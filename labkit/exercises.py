"""Exercises: a learner writes a function, ``check()`` runs it against real sockets.

    ex = exercise("00-ask")
    def ask(address, text):
        ...            # the learner's code goes here
    ex.check(ask)      # correct / not yet (naming the first wrong thing) / not attempted
    ex.hint()          # the next hint, one step at a time
    ex.solution()      # a worked answer, on request

A check never raises in the learner's notebook: any exception from the
learner's code, or a call that does not return in time, becomes a "not yet"
verdict that says what happened. Exercises are defined in ``labkit.lessons``
with the :func:`register` decorator; a check function raises :class:`NotYet`
for the first wrong thing it finds and returns a short success message.
"""

from __future__ import annotations

import contextlib
import dis
import html
import threading

__all__ = ["Verdict", "Exercise", "NotYet", "register", "exercise", "call", "is_stub"]

CORRECT, INCORRECT, NOT_ATTEMPTED = "correct", "not yet", "not attempted"
_MARKS = {CORRECT: ("✅", "#1a7f37"), INCORRECT: ("❌", "#b35900"), NOT_ATTEMPTED: ("○", "#57606a")}


class NotYet(Exception):
    """Raised by a check function: the answer is wrong, and the message says how."""


class Verdict:
    """The outcome of a check; true only when correct. Shows itself in the cell."""

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
    """True for None, ``...``, or a function whose body does nothing (``...``/``pass``)."""
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


def _refers_to(fn, targets) -> bool:
    """True if *fn* is one of *targets*, or names one as a global or holds one in a closure.

    Lets a check notice an answer that hands the work to labkit's own function.
    """
    if any(fn is target for target in targets):
        return True
    names = getattr(getattr(fn, "__code__", None), "co_names", ())
    found = getattr(fn, "__globals__", {})
    cells = []
    for cell in getattr(fn, "__closure__", None) or ():
        with contextlib.suppress(ValueError):  # an empty cell
            cells.append(cell.cell_contents)
    return (any(found.get(name) is target for name in names for target in targets)
            or any(c is target for c in cells for target in targets))


@contextlib.contextmanager
def _watching_labkit(names):
    """During a check, labkit's functions *names* (in labkit and labkit.framing) still work
    but note every call made from the learner's code (the thread that call() starts), so an
    answer that reaches them as ``labkit.write_utf`` at run time is noticed too. Calls from
    other threads (the check's own servers) are not counted."""
    import labkit as package
    from labkit import framing

    used: list[str] = []
    patched = []
    for name in names:
        original = getattr(framing, name)

        def watched(*args, _original=original, _name=name, **kwargs):
            if threading.current_thread().name == "labkit-exercise":
                used.append(_name)
            return _original(*args, **kwargs)

        for module in (package, framing):
            if getattr(module, name, None) is original:
                patched.append((module, name, original))
                setattr(module, name, watched)
    try:
        yield used
    finally:
        for module, name, original in patched:
            setattr(module, name, original)


def _in_thread(fn, *args) -> tuple[threading.Thread, dict]:
    """Start *fn(*args)* in a daemon thread; its result or exception lands in the dict."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the learner
            box["error"] = exc

    thread = threading.Thread(target=run, name="labkit-exercise", daemon=True)
    thread.start()
    return thread, box


def call(fn, *args, timeout: float = 3.0, what: str | None = None):
    """Run the learner's *fn(*args)* in a thread; turn every failure into NotYet.

    A call that does not return within *timeout* seconds is reported, not
    waited for: the thread is a daemon, and the check's server closes the
    sockets it was waiting on.
    """
    what = what or f"{getattr(fn, '__name__', 'your function')}()"
    thread, box = _in_thread(fn, *args)
    thread.join(timeout)
    if thread.is_alive():
        raise NotYet(f"{what} did not return within {timeout:g} s. Is it blocked in a call "
                     "that waits (accept, connect, recv) for something that never comes, or "
                     "looping forever (recv returns b'' again and again once the peer has "
                     "closed)? Every blocking call needs a timeout, and every loop an end.")
    if "error" in box:
        exc = box["error"]
        raise NotYet(f"{what} raised {type(exc).__name__}: {exc}")
    return box.get("value")


class Exercise:
    """One exercise: a check, graded hints and a solution."""

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
        try:
            message = self._checker(answer)
        except NotYet as exc:
            text = str(exc).rstrip()
            if not text.endswith((".", "!", "?")):
                text += "."
            return Verdict(self.name, INCORRECT, f"{text} ex.hint() gives a hint.")
        except Exception as exc:  # a failure of the check itself: say so, do not crash
            return Verdict(self.name, INCORRECT,
                           f"The check could not use what your function gave it "
                           f"({type(exc).__name__}: {exc}). Does it return what the task "
                           "asks for, still open? ex.hint() gives a hint.")
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
    """Decorator: register a check function as exercise *name*."""

    def decorate(checker):
        _REGISTRY[name] = Exercise(name, title, checker, hints, solution)
        return checker

    return decorate


def exercise(name: str) -> Exercise:
    """The exercise called *name* (e.g. ``"00-ask"``)."""
    from . import lessons  # noqa: F401 - importing registers every lesson's exercises

    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"no exercise called {name!r}; known: {known}") from None

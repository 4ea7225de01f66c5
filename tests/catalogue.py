"""Catalogues of wrong answers: what a learner plausibly writes, and the verdict it gets.

Each tests/test_catalogue_*.py module lists, for the exercises of its lessons,

    WRONG = [Wrong("05-send-all", "ignores send's count", SOURCE, MESSAGE), ...]

where SOURCE is the code a learner would type (it defines the function the exercise
asks for) and MESSAGE is the whole "not yet" message the check must give, word for
word, "ex.hint() gives a hint." included. The module's tests call `assert_not_yet`
for each, and `assert_correct` for the shown solution and other right answers.
tests/test_catalogue.py requires at least four wrong answers for every exercise.

Whatever the verdict, it is never "check crashed": that would be a bug in the check.
"""

from __future__ import annotations

import dataclasses
import queue
import select
import selectors
import socket
import struct
import textwrap
import threading
import time

import labkit
from labkit.exercises import CORRECT, CRASHED, INCORRECT


@dataclasses.dataclass(frozen=True)
class Wrong:
    exercise: str   # e.g. "05-send-all"
    name: str       # a short id for the test: what is wrong
    source: str     # the learner's code: defines the function the exercise asks for
    message: str    # the whole "not yet" message, exactly

    def __str__(self) -> str:  # the parametrize id
        return f"{self.exercise}:{self.name}"


def namespace(**extra) -> dict:
    """What a learner's cell can use without importing: the lesson's imports."""
    space = {"socket": socket, "threading": threading, "time": time, "queue": queue,
             "select": select, "selectors": selectors, "struct": struct, "labkit": labkit}
    space.update(extra)
    return space


def define(source: str, name: str, **extra):
    """Run the learner's *source* as a cell would; return the function called *name*."""
    space = namespace(**extra)
    exec(textwrap.dedent(source), space)  # noqa: S102 - the point: run the learner's code
    return space[name]


def function_name(exercise: str) -> str:
    """The function an exercise's solution defines (the first `def` in it)."""
    text = labkit.exercise(exercise).solution().text
    for line in text.splitlines():
        if line.startswith("def "):
            return line[4:line.index("(")]
    raise AssertionError(f"{exercise}: its solution defines no function")


def verdict(exercise: str, source: str, name: str | None = None, **extra):
    ex = labkit.exercise(exercise)
    answer = define(source, name or function_name(exercise), **extra)
    result = ex.check(answer)
    assert result.status != CRASHED, f"{exercise}: the check crashed: {result.message}"
    return result


def assert_not_yet(wrong: Wrong, **extra) -> None:
    result = verdict(wrong.exercise, wrong.source, **extra)
    assert result.status == INCORRECT, f"{wrong}: got {result!r}"
    assert result.message == wrong.message, f"{wrong}: got\n{result.message}"


def assert_correct(exercise: str, source: str | None = None, **extra) -> None:
    source = labkit.exercise(exercise).solution().text if source is None else source
    result = verdict(exercise, source, **extra)
    assert result.status == CORRECT, f"{exercise}: got {result!r}"

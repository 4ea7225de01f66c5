"""Exercises: a learner writes a function, ``check()`` runs it against real sockets.

    ex = labkit.exercise("00-ask")
    ex.check(ask)      # correct / not yet (naming the first wrong thing) / not attempted
    ex.hint()          # the next hint, one step at a time
    ex.solution()      # a worked answer, on request

The machinery is :mod:`labkit.exercises.core` (verdicts, the registry) and
:mod:`labkit.exercises.watch` (running the learner's code and seeing what it
opened); :mod:`labkit.exercises.support` and :mod:`labkit.exercises.checksockets`
hold what several lessons' checks share. Each lesson's checks are in modules of
their own (``welcome`` for 00 ... ``chat`` for 10, ``listen`` and ``listenmany`` for
03); the core never imports them: :func:`exercise` does, the first time it is asked.
"""

from __future__ import annotations

import importlib

from labkit.exercises.core import *  # noqa: F403
from labkit.exercises.watch import *  # noqa: F403
from labkit.exercises import core, watch

__all__ = ["exercise", *core.__all__, *watch.__all__]

# each lesson's check modules, in course order: importing one registers its exercises
LESSON_MODULES = ("welcome", "create", "bind", "bindreuse", "listen", "listenmany", "connect",
                  "sendrecv", "close", "closeask", "manyclients", "udp", "languages",
                  "languagesread", "chat", "http", "httpserver", "tls")


def exercise(name: str) -> core.Exercise:
    """The exercise called *name* (e.g. ``"00-ask"``).

    >>> exercise("00-ask")
    Exercise 00-ask: Ask the echo server a question
    >>> exercise("99-nothing")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    KeyError: "no exercise called '99-nothing'; known: 00-ask, 01-make-socket, ..."
    """
    for module in LESSON_MODULES:
        importlib.import_module(f"labkit.exercises.{module}")
    found = core.registered(name)
    if found is None:
        raise KeyError(f"no exercise called {name!r}; known: {', '.join(core.known())}")
    return found

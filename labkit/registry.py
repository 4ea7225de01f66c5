"""One registry of running things by name, so that re-running a notebook cell replaces
what the cell started before instead of leaving it running beside the new one.

Servers (:mod:`labkit.serving`) and programs (:mod:`labkit.programs`) each keep one.
"""

from __future__ import annotations

import threading

__all__ = ["Registry"]


class Registry:
    """Things with a ``name`` and a ``stop()``, one per name; thread-safe.

    >>> class Thing:
    ...     def __init__(self, name):
    ...         self.name, self.stopped = name, False
    ...     def stop(self):
    ...         self.stopped = True
    >>> things = Registry()
    >>> first = things.replace("echo", lambda: Thing("echo"))
    >>> second = things.replace("echo", lambda: Thing("echo"))   # the cell, run again
    >>> first.stopped, second.stopped, things.all() == [second]
    (True, False, True)
    >>> things.forget(first)          # no longer registered: nothing changes
    >>> things.forget(second)
    >>> things.all()
    []
    """

    def __init__(self):
        self._items: dict = {}
        self._lock = threading.Lock()

    def replace(self, name: str, make):
        """Stop what runs under *name*, if anything, then register what ``make()`` returns
        (under its own ``name``) and return it."""
        with self._lock:
            old = self._items.pop(name, None)
        if old is not None:
            old.stop()
        item = make()
        with self._lock:
            self._items[item.name] = item
        return item

    def forget(self, item) -> None:
        """Unregister *item* if it is the one registered under its name (it has stopped)."""
        with self._lock:
            if self._items.get(item.name) is item:
                del self._items[item.name]

    def all(self) -> list:
        """What is registered now, oldest first."""
        with self._lock:
            return list(self._items.values())

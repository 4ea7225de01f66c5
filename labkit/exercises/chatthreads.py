"""The learner's threads during the 10-chat check, and where they wait.

:class:`_Threads` notes the server's connection threads (they run the learner's handler)
and every thread started from one of them, and which of those were started with
``threading.Thread`` instead of ``conn.start_thread``. The rest reads their stacks
(``sys._current_frames``): where a thread waits in the learner's code (:func:`_waiting`),
which queues that code holds (:func:`_queues`), and, after the server has stopped, how to
let a thread stuck on a full queue end (:func:`_unstick`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
import traceback

from labkit.serving.servers import Connection

__all__: list[str] = []  # the 10-chat check's own

_LABKIT = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_STDLIB = os.path.dirname(os.path.abspath(threading.__file__)) + os.sep


class _Threads:
    """The threads that run the learner's code during one check.

    ``mine``: the server's connection threads (they call the handler) and every thread
    started from one of them. ``raw``: (its target's name, (function, line)) for each of
    those started with ``threading.Thread`` rather than ``conn.start_thread``.
    """

    def __init__(self):
        self.mine: set[threading.Thread] = set()
        self._handlers: set[threading.Thread] = set()
        self.raw: list = []
        self.small_buffers = False
        self.lock = threading.Lock()

    def adopt(self) -> None:
        with self.lock:
            self.mine.add(threading.current_thread())
            self._handlers.add(threading.current_thread())

    def handlers(self) -> list[threading.Thread]:
        with self.lock:
            return [t for t in self._handlers if t.is_alive()]

    def started(self) -> list[threading.Thread]:
        with self.lock:
            return [t for t in self.mine if t not in self._handlers]

    @contextlib.contextmanager
    def watching(self):
        original = threading.Thread.start
        via_server = Connection.start_thread.__code__

        def start(thread, *args, **kwargs):
            if threading.current_thread() in self.mine:
                frame = sys._getframe(1)
                with self.lock:
                    self.mine.add(thread)
                    if not _on_stack(frame, via_server):  # (Thread.run forgets _target)
                        target = getattr(getattr(thread, "_target", None), "__name__", "")
                        self.raw.append((target, _learner(frame)))
            return original(thread, *args, **kwargs)

        threading.Thread.start = start
        try:
            yield self
        finally:
            threading.Thread.start = original

    def lingering(self, seconds: float) -> list[tuple]:
        """After every client has gone: each thread of the learner's still running after
        *seconds*, as _waiting() describes it, connection threads first."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not any(t.is_alive() for t in list(self.mine)):
                return []
            time.sleep(0.01)
        alive = [t for t in list(self.mine) if t.is_alive()]
        return [_waiting(t) for t in sorted(alive, key=_order)]


def _order(thread: threading.Thread):
    return (not thread.name.startswith("labkit-exercise-chat-conn-"), thread.name)


def _on_stack(frame, code) -> bool:
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def _is_learners(filename: str) -> bool:
    return not filename.startswith((_LABKIT, _STDLIB, "<frozen"))


def _learner(frame) -> tuple[str, str]:
    """(function, line) of the innermost frame of the learner's code, from *frame* outwards."""
    for summary in reversed(traceback.extract_stack(frame)):
        if _is_learners(summary.filename):
            return summary.name, (summary.line or "").strip()
    return "your handler", ""


_WAITS = {queue.Queue.put.__code__: "put", queue.Queue.get.__code__: "get",
          Connection.sendall.__code__: "send", Connection.send.__code__: "send",
          Connection.recv.__code__: "recv", threading.Thread.join.__code__: "join"}


def _waiting(thread: threading.Thread) -> tuple:
    """(thread, what, function, line): where *thread* is in the learner's code, and what it
    waits in there ("put", "get", "send", "recv", "join", or "" for anything else)."""
    frame = sys._current_frames().get(thread.ident)
    what, fn, line = "", "your handler", ""
    while frame is not None:
        if _is_learners(frame.f_code.co_filename):
            fn, line = _learner(frame)
            break
        if frame.f_code in _WAITS and not (frame.f_code is queue.Queue.put.__code__
                                           and not frame.f_locals.get("block", True)):
            what = _WAITS[frame.f_code]  # the outermost one: what the learner called
        frame = frame.f_back
    return thread, what, fn, line


def _in_handler_itself(thread: threading.Thread) -> bool:
    """True if *thread* runs no learner's function but the handler: for my_chat, that
    means chat_v2 has returned, so the client has left."""
    frame = sys._current_frames().get(thread.ident)
    learners = 0
    while frame is not None:
        learners += _is_learners(frame.f_code.co_filename)
        frame = frame.f_back
    return learners == 1


def _queues(threads) -> list[queue.Queue]:
    """The queues the learner's code holds: in its threads' frames and its globals' dicts."""
    found: dict[int, queue.Queue] = {}
    frames = sys._current_frames()
    for thread in list(threads):
        frame = frames.get(thread.ident)
        while frame is not None:
            if _is_learners(frame.f_code.co_filename):
                values = list(frame.f_locals.values())
                for value in list(frame.f_globals.values()):
                    if isinstance(value, dict) and len(value) < 10_000:
                        values += list(value.values())
                found.update((id(v), v) for v in values if isinstance(v, queue.Queue))
            frame = frame.f_back
    return list(found.values())


def _unstick(threads: _Threads) -> None:
    """After stop(): empty the full queues that the learner's threads wait to put into,
    so that those threads end (and let go of the room's lock) instead of waiting forever."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        frames = sys._current_frames()
        stuck = []
        for thread in list(threads.mine):
            frame = frames.get(thread.ident)
            while frame is not None:
                if frame.f_code is queue.Queue.put.__code__:
                    stuck.append(frame.f_locals.get("self"))
                    break
                frame = frame.f_back
        if not stuck:
            return
        for q in stuck:
            with contextlib.suppress(queue.Empty, AttributeError):
                while True:
                    q.get_nowait()
        time.sleep(0.01)

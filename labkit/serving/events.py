"""The event log a server keeps, so that the cell that owns it can show it.

Background threads never print: output printed from a thread lands in whatever
cell happens to be running, or nowhere. Instead each server records what
happens (connected, received, sent, closed, error) in an :class:`EventLog`,
and a cell displays the log. Connections are numbered in the order they were
accepted, and the log is shown grouped by connection, so two runs of the same
cell show the same text even when threads interleave differently.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time

__all__ = ["Event", "EventLog", "preview", "plural"]

# kinds whose detail reads as an explanation: "[conn 1] error: ValueError: ..."
_EXPLAINED = {"error", "dropped", "note", "refused", "too slow", "read", "timed out"}


def plural(n: int, noun: str = "byte") -> str:
    """A count and its noun, in the singular only for 1.

    >>> plural(1), plural(6), plural(2, "client")
    ('1 byte', '6 bytes', '2 clients')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def preview(data: bytes, limit: int = 40) -> str:
    """A short, readable rendering of *data* for a log line.

    Text shows as text; a byte that is not part of valid UTF-8 shows as one
    ``\\xNN`` escape, as it would in a bytes literal.

    >>> print(preview("你".encode() + b"\\xff"))
    '你\\xff'
    """
    text = data[:limit].decode("utf-8", errors="surrogateescape")
    return f"'{''.join(map(_show, text))}'" + ("…" if len(data) > limit else "")


def _show(ch: str) -> str:
    if "\udc80" <= ch <= "\udcff":  # a byte that surrogateescape could not decode
        return f"\\x{ord(ch) - 0xDC00:02x}"
    return "\\'" if ch == "'" else repr(ch)[1:-1]


@dataclasses.dataclass(frozen=True)
class Event:
    """One thing that happened on a server. ``conn`` is 0 for the server itself.

    >>> print(Event(seq=1, time=0.0, conn=2, kind="received", detail="2 bytes: 'hi'"))
    [conn 2] received 2 bytes: 'hi'
    """

    seq: int
    time: float
    conn: int
    kind: str
    detail: str = ""
    nbytes: int | None = None
    peer: tuple | None = None

    def render(self, unit: str = "conn") -> str:
        who = f"{unit} {self.conn}" if self.conn else "server"
        sep = ": " if self.kind in _EXPLAINED else " "
        return f"[{who}] {self.kind}" + (f"{sep}{self.detail}" if self.detail else "")

    __str__ = render


class EventLog:
    """A thread-safe list of :class:`Event`; its repr is the readable log.

    >>> log = EventLog()
    >>> _ = log.add(1, "received", "2 bytes: 'hi'", nbytes=2)
    >>> log
    [conn 1] received 2 bytes: 'hi'
    """

    def __init__(self, limit: int = 10_000, unit: str = "conn"):
        self.unit = unit  # what a numbered peer is called: "conn" (TCP) or "peer" (UDP)
        self._lock = threading.Lock()
        self._events: collections.deque[Event] = collections.deque()
        self._seq = 0
        self.limit = limit  # a long-running server keeps only the newest events
        self.dropped = 0

    def add(self, conn: int, kind: str, detail: str = "", *, nbytes=None, peer=None) -> Event:
        with self._lock:
            self._seq += 1
            event = Event(self._seq, time.monotonic(), conn, kind, detail, nbytes, peer)
            self._events.append(event)
            if len(self._events) > self.limit:
                self._events.popleft()
                self.dropped += 1
            return event

    def snapshot(self) -> list[Event]:
        """Every event kept so far, in the order they happened."""
        with self._lock:
            return list(self._events)

    def since(self, seq: int) -> list[Event]:
        """Events newer than *seq* (for a terminal that follows the log)."""
        with self._lock:
            return [e for e in self._events if e.seq > seq]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def by_conn(self) -> list[Event]:
        """Events grouped by connection, each group in order; the server's notes
        come first and its "stopped" last."""
        def key(e: Event):
            group = e.conn if e.conn else (float("inf") if e.kind == "stopped" else 0)
            return (group, e.seq)
        return sorted(self.snapshot(), key=key)

    def kinds(self, conn: int | None = None) -> list[str]:
        """Just the event kinds, for asserting on in tests and exercises."""
        return [e.kind for e in self.by_conn() if conn is None or e.conn == conn]

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def __iter__(self):
        return iter(self.by_conn())

    def __repr__(self) -> str:
        lines = [e.render(self.unit) for e in self.by_conn()]
        if self.dropped:
            lines.insert(0, f"({self.dropped} older events dropped)")
        return "\n".join(lines) if lines else "(no events yet)"

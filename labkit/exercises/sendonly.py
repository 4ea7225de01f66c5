"""A socket that offers only ``send``, which takes fewer bytes than offered: 05-send-all's
peer, the worst legal ``send`` there is."""

from __future__ import annotations

import random

from labkit.exercises.checksockets import Stopped

__all__ = ["SendOnly", "MOST_TAKEN", "MOST_CALLS"]

MOST_TAKEN = 16 * 1024  # the most one send() takes: about what a small buffer has room for
MOST_CALLS = 20_000  # 1 MiB a byte at a time would take a million: stopped long before


class SendOnly:
    """A socket that offers only ``send``, which takes fewer bytes than offered.

    Each ``send`` takes a seeded random part of what it is offered (all of it only when
    that is one byte) and hands that part to a real socket. It notes where in *data*
    each part came from, and the first call that did not go on where the last stopped.

    >>> from labkit.exercises.connect import tcp_pair
    >>> with tcp_pair() as (client, server_side):
    ...     sock = SendOnly(client, b"x" * 1000)
    ...     taken = sock.send(b"x" * 1000)        # takes only part of it
    ...     0 < taken < 1000, sock.done == taken, sock.mistake
    (True, True, None)
    >>> sock.recv(10)
    Traceback (most recent call last):
    AttributeError: this socket offers only send() - recv() is what you are writing yourself
    """

    def __init__(self, sock, data: bytes, seed: int = 5):
        self._sock, self._data = sock, data
        self._rng = random.Random(seed)
        self.calls = 0
        self.done = 0  # bytes of data that went out in order, before any mistake
        self.parts: list[tuple[int, int]] = []  # (offset in data, length) of each part taken
        self.mistake: str | None = None  # the first wrong call, in words
        self.largest = 0  # the most bytes one call offered
        self.stopped = False
        self.empty_at_end = False  # the latest call offered b'' after everything had gone
        self._last = None  # (offset, offered, taken) of the previous call
        self._sent = 0
        self._limit = MOST_CALLS  # lowered after a mistake: the verdict is known by then

    def send(self, data, flags=0) -> int:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            return self._sock.send(data, flags)  # the real error: "a bytes-like object..."
        if self.calls >= self._limit or self._sent > 4 * len(self._data):
            self.stopped = True
            raise Stopped(f"the check stopped send_all after {self.calls:,} calls of send()")
        self.calls += 1
        offered = memoryview(data).cast("B")
        size = len(offered)
        taken = size if size <= 1 else self._rng.randint(1, min(size - 1, MOST_TAKEN))
        self.largest = max(self.largest, size)
        self.empty_at_end = size == 0 and self.done == len(self._data)
        if taken:
            self._note(offered[:taken], size)
            self._sock.sendall(offered[:taken])
            self._sent += taken
        return taken

    def __getattr__(self, name):
        raise AttributeError(f"this socket offers only send() - {name}() is what you are "
                             "writing yourself")

    def _note(self, part, offered: int) -> None:
        at = self._find(part)
        last, self._last = self._last, (at, offered, len(part))
        if at is not None:
            self.parts.append((at, len(part)))
        if self.mistake is None:
            if at == self.done:
                self.done += len(part)
            else:
                self.mistake = self._describe(at, last)
                self._limit = self.calls + 2000

    def _find(self, part) -> int | None:
        part = bytes(part)
        guesses = [self.done, 0]
        if self._last and self._last[0] is not None:
            at, offered, taken = self._last
            guesses += [at + offered, at + taken, at]
        for at in guesses:
            if self._data.startswith(part, at):
                return at
        at = self._data.find(part[:64])  # the data is random: 64 bytes pin a place
        return at if at >= 0 and self._data.startswith(part, at) else None

    def _describe(self, at, last) -> str:
        if at is None:
            return ("A call of send() offered bytes that are not the next part of data: "
                    "send the bytes of data, in order.")
        if last is not None and last[2] < last[1]:
            short = f"send() took only {last[2]:,} of the {last[1]:,} bytes offered, and "
            if at == last[0] + last[1]:
                return (f"{short}your next call went on after all {last[1]:,}: the other "
                        f"{last[1] - last[2]:,} were never sent. Your code ignored the count "
                        "that send() returns.")
            if at < self.done:
                again = ("data from its start again" if at == 0
                         else "again bytes that had already gone out")
                return (f"{short}your next call offered {again}: {self.done - at:,} bytes "
                        "went a second time.")
        if at < self.done:
            return (f"A call of send() offered again {self.done - at:,} bytes that had "
                    "already gone out.")
        return (f"A call of send() started at byte {at:,} of data, when {self.done:,} had gone "
                f"out: the {at - self.done:,} in between were never sent.")

    def totals(self) -> tuple[int, int]:
        """(bytes of data that never went out, bytes that went out more than once)."""
        covered = end = 0
        for at, n in sorted(self.parts):
            covered += max(0, at + n - max(at, end))
            end = max(end, at + n)
        return len(self._data) - covered, sum(n for _, n in self.parts) - covered

"""An adversarial peer: sends the same bytes, cut into pieces nobody asked for.

TCP promises the bytes and their order, never the pieces. A receiver that works
only when each ``recv`` returns one whole message is broken, but on loopback it
usually gets lucky. ``AdversarialPeer`` takes the luck away: it splits writes,
merges neighbouring ones and cuts UTF-8 characters in half, deterministically
for a given seed, so a failing lesson cell fails the same way every run.
"""

from __future__ import annotations

import random
import socket
import time

__all__ = ["rechunk", "utf8_cuts", "AdversarialPeer"]


def rechunk(writes, rng, *, max_piece=None):
    """Return the same byte stream as ``writes``, cut into different non-empty pieces.

    >>> rechunk([b"hello", b"world"], random.Random(1))
    [b'he', b'llo', b'wor', b'ld']

    Each boundary between writes is kept or merged away at random, and random
    cuts are added; no piece is longer than ``max_piece`` when it is given.
    """
    if max_piece is not None and max_piece < 1:
        raise ValueError(f"max_piece must be >= 1 or None, not {max_piece!r}")
    stream = b"".join(writes)
    size = len(stream)
    cuts, offset = set(), 0
    for write in writes[:-1]:
        offset += len(write)
        if rng.random() < 0.5:
            cuts.add(offset)
    for _ in range(rng.randint(0, min(max(size - 1, 0), 2 * len(writes) + 2))):
        cuts.add(rng.randint(1, size - 1))
    bounds = [0, *sorted(c for c in cuts if 0 < c < size), size]
    pieces = []
    for start, end in zip(bounds, bounds[1:]):
        while max_piece is not None and end - start > max_piece:
            step = rng.randint(1, max_piece)
            pieces.append(stream[start : start + step])
            start += step
        if end > start:
            pieces.append(stream[start:end])
    return pieces


def utf8_cuts(data):
    """Return the offsets that fall strictly inside a multi-byte UTF-8 character.

    >>> utf8_cuts("a你".encode())       # 你 is bytes 1, 2 and 3
    [2, 3]
    """
    return [i for i, byte in enumerate(data) if i > 0 and byte & 0xC0 == 0x80]


class AdversarialPeer:
    """Wrap a connected socket and send through it in random, seeded pieces.

    >>> a, b = socket.socketpair()
    >>> with AdversarialPeer(a, seed=1, pause=0) as peer, b:
    ...     peer.sendall("你好".encode())
    >>> peer.pieces_sent                      # the same bytes, 好 cut in half
    [b'\\xe4\\xbd\\xa0\\xe5\\xa5', b'\\xbd']

    ``pause`` seconds between pieces (with TCP_NODELAY) make them arrive as
    separate segments. Not thread-safe: use one peer from one thread.
    """

    def __init__(self, sock, *, seed=0, max_piece=7, pause=0.002):
        self.sock = sock
        self.max_piece = max_piece
        self.pause = pause
        self.rng = random.Random(seed)
        self.pieces_sent = []
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            # without this, Nagle's algorithm would glue small pieces back together
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def sendall(self, data):
        """Send all of data in random pieces of at most ``max_piece`` bytes."""
        self._send(rechunk([data], self.rng, max_piece=self.max_piece))

    def send_messages(self, messages):
        """Send several messages, merging some into one write and splitting others."""
        self._send(rechunk(list(messages), self.rng, max_piece=self.max_piece))

    def split_at(self, data, offsets):
        """Send data cut at exactly these offsets, e.g. ``utf8_cuts(data)``."""
        data = bytes(data)
        for offset in offsets:
            if not 0 <= offset <= len(data):
                raise ValueError(f"offset {offset!r} is outside 0..{len(data)}")
        bounds = [0, *sorted(set(offsets)), len(data)]
        self._send([data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a])

    def _send(self, pieces):
        for i, piece in enumerate(pieces):
            if i and self.pause:
                time.sleep(self.pause)
            self.sock.sendall(piece)
            self.pieces_sent.append(piece)

    def close(self):
        """Close the wrapped socket (safe to call twice)."""
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

"""The errors labkit raises: one base class and a few a learner can act on.

Every message names the bad value or the cause and, where there is one, the
likely fix, e.g. ``nothing is listening on 127.0.0.1:9998 - is the server cell
running?``. Errors translated from the socket module are chained with
``raise ... from exc`` so the original stays visible.
"""

from __future__ import annotations

__all__ = [
    "LabkitError",
    "NotListeningError",
    "LabTimeoutError",
    "PeerClosedError",
    "FramingError",
    "FrameTooLargeError",
    "RuntimeMissingError",
]


class LabkitError(Exception):
    """Base class of every error labkit raises on purpose."""


class NotListeningError(LabkitError, ConnectionRefusedError):
    """A connection was refused: nothing listens at that address."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        super().__init__(
            f"nothing is listening on {host}:{port} - is the server cell running?"
        )


class LabTimeoutError(LabkitError, TimeoutError):
    """A blocking call waited longer than its timeout."""


class PeerClosedError(LabkitError, ConnectionError):
    """The peer closed the connection before a whole message arrived."""


class FramingError(LabkitError, ValueError):
    """Bytes on the wire do not follow the framing rules."""


class FrameTooLargeError(FramingError):
    """A frame or line is longer than the maximum allowed."""


class RuntimeMissingError(LabkitError, FileNotFoundError):
    """A language runtime (Java, PHP) needed by a lesson is not installed."""

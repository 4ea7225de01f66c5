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
    "ProgramExitedError",
]


class LabkitError(Exception):
    """Base class of every error labkit raises on purpose: catch it to catch them all.

    >>> from labkit import encode_frame
    >>> try:
    ...     encode_frame(bytes(300), header=1)
    ... except LabkitError as exc:
    ...     print(type(exc).__name__, "-", exc)
    FrameTooLargeError - payload of 300 bytes does not fit a 1-byte length prefix (at most 255)
    """


class NotListeningError(LabkitError, ConnectionRefusedError):
    """A connection was refused: nothing listens at that address.

    >>> err = NotListeningError("127.0.0.1", 9998)
    >>> print(err)
    nothing is listening on 127.0.0.1:9998 - is the server cell running?
    >>> isinstance(err, ConnectionRefusedError)   # so ``except ConnectionRefusedError`` works too
    True
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        super().__init__(
            f"nothing is listening on {host}:{port} - is the server cell running?"
        )


class LabTimeoutError(LabkitError, TimeoutError):
    """A blocking call waited longer than its timeout.

    >>> import socket
    >>> from labkit import read_utf
    >>> a, b = socket.socketpair()
    >>> with a, b:                            # b never sends anything
    ...     read_utf(a, timeout=0.01)
    Traceback (most recent call last):
    labkit.errors.LabTimeoutError: timed out after 0.01 s with 0 of 2 header bytes received

    It is also a TimeoutError, so ``except TimeoutError`` catches it.
    """


class PeerClosedError(LabkitError, ConnectionError):
    """The peer closed the connection before a whole message arrived.

    >>> import socket
    >>> from labkit import read_utf
    >>> a, b = socket.socketpair()
    >>> with a, b:
    ...     b.sendall(b"\\x00\\x05he"); b.close()   # 5 bytes announced, 2 sent
    ...     read_utf(a)
    Traceback (most recent call last):
    labkit.errors.PeerClosedError: peer closed the connection mid-frame after 2 of 5 payload bytes
    """


class FramingError(LabkitError, ValueError):
    """Bytes on the wire do not follow the framing rules.

    >>> from labkit import encode_line
    >>> encode_line("two\\nlines")
    Traceback (most recent call last):
    labkit.errors.FramingError: line must not contain the newline b'\\n' (found at offset 3)
    """


class FrameTooLargeError(FramingError):
    """A frame or line is longer than the maximum allowed.

    >>> from labkit.wire import FrameDecoder
    >>> FrameDecoder(header=1, max_size=10).feed(b"\\xffhello")
    Traceback (most recent call last):
    labkit.errors.FrameTooLargeError: frame announces 255 bytes, the maximum is 10
    """


class RuntimeMissingError(LabkitError, FileNotFoundError):
    """A language runtime (Java, PHP) needed by a lesson is not installed.

    >>> try:
    ...     raise RuntimeMissingError("php was not found on PATH")
    ... except FileNotFoundError as exc:      # the built-in catches it too
    ...     print(exc)
    php was not found on PATH

    ``labkit.programs.find_runtime`` raises it with the command that installs what is missing.
    """


class ProgramExitedError(LabkitError, RuntimeError):
    """A program ended before it printed the line it was awaited for (its readiness line).

    >>> import sys
    >>> from labkit import start_program
    >>> start_program([sys.executable, "-c", "import sys; sys.exit('no port')"], ready=True)
    Traceback (most recent call last):
    labkit.errors.ProgramExitedError: python... exited (exit code 1) before printing its first line. The end of what it wrote to stderr:
    no port

    ``returncode`` and ``stderr`` keep the details.
    """

    def __init__(self, message: str, returncode: int | None, stderr: str):
        super().__init__(message)
        self.returncode, self.stderr = returncode, stderr


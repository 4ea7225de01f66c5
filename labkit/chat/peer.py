"""The conformance check's client: a chat peer that reads whole lines with deadlines,
and the failures a step can find (an address nothing answers at is its own kind)."""

from __future__ import annotations

import errno
import socket
import time

from labkit.serving.base import is_loopback
from labkit.wire.framing import LineDecoder, TooLong

__all__ = ["StepFailed", "ChatPeer"]

_PROBE = ": hello"  # the end of carol's line in the join step
_CONNECT_TIMEOUT = 2.0  # seconds a connect may take (a classmate's machine, too)


class StepFailed(Exception):
    """A step found the first thing that is wrong.

    >>> raise StepFailed("bob never got alice's line 'hi'")
    Traceback (most recent call last):
    labkit.chat.peer.StepFailed: bob never got alice's line 'hi'
    """


# "no route": POSIX errno values, and Windows' WSAENETUNREACH, WSAEHOSTDOWN, WSAEHOSTUNREACH
_NO_ROUTE = {errno.EHOSTUNREACH, errno.ENETUNREACH, getattr(errno, "EHOSTDOWN", None),
             10051, 10064, 10065} - {None}


class _Unreachable(StepFailed):
    """Nothing could be reached at the address: the check did not start."""


def _unreachable(address, name: str, exc: OSError) -> StepFailed:
    """Say why *name* could not connect to *address* (a classmate's, maybe), and what to check."""
    where = f"{address[0]}:{address[1]}"
    if isinstance(exc, ConnectionRefusedError):
        if is_loopback(address[0]):
            return _Unreachable(f"nothing is listening on {where}")
        return _Unreachable(f"nothing is listening on {where}: is the server running, and "
                            "bound to 0.0.0.0 (a server on 127.0.0.1 is for its own machine only)?")
    if isinstance(exc, socket.gaierror):
        return _Unreachable(f"cannot find the host {address[0]!r}: check how the address is spelt")
    if isinstance(exc, TimeoutError):
        return _Unreachable(f"nothing answered at {where} within {_CONNECT_TIMEOUT:g} s: is the "
                            "address right, and is a firewall in the way (macOS and Windows ask "
                            "whether to allow a server on 0.0.0.0)?")
    if exc.errno in _NO_ROUTE or getattr(exc, "winerror", None) in _NO_ROUTE:
        return _Unreachable(f"cannot reach {where} ({exc.strerror}): are both machines on "
                            "the same network, and is the address right?")
    return StepFailed(f"{name} could not connect: {type(exc).__name__}: {exc}")


class ChatPeer:
    """A test client that reads whole lines with deadlines.

    >>> from labkit import serve, ChatRoom
    >>> with serve(ChatRoom()) as server:
    ...     alice, bob = ChatPeer(server.address, "alice"), ChatPeer(server.address, "bob")
    ...     server.wait_quiet(5)                  # both have joined the room
    ...     alice.send("/nick alice\\nhi\\n")
    ...     bob.next_line(2, "alice's line")
    ...     alice.close(); bob.close()
    True
    'alice: hi'
    """

    def __init__(self, address, name: str, *, rcvbuf: int | None = None):
        self.name = name
        self.sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET)
        if rcvbuf:  # before connect, so the window the server sees is small from the start
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(_CONNECT_TIMEOUT)
        try:
            self.sock.connect(address)
        except BaseException:
            self.sock.close()
            raise
        self._decoder = LineDecoder(max_length=1 << 16)
        self._ready: list = []
        self.eof = False

    def send(self, data) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8") + b"\n"
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise StepFailed(f"sending as {self.name} failed ({type(exc).__name__}): "
                          "the server closed the connection") from exc

    def next_line(self, timeout: float, waiting_for: str) -> str | None:
        """The next line (None at EOF); StepFailed after *timeout* s without one."""
        deadline = time.monotonic() + timeout
        while not self._ready:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepFailed(f"{self.name} waited {timeout:g} s for {waiting_for} "
                              "and it did not come")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                data = b""
            if not data:
                self.eof = True
            self._ready.extend(self._decoder.feed(data))
        line = self._ready.pop(0)
        if isinstance(line, TooLong):
            raise StepFailed(f"{self.name} received a line of {line.length} bytes")
        try:
            return line.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError:
            raise StepFailed(f"{self.name} received bytes that are not UTF-8: {line[:40]!r}") from None

    def expect(self, want: str, *, timeout: float = 2.0, skip=("* ",), ending=False) -> None:
        """Read until *want* (with *ending*: a line ending so); fail on EOF, a deadline,
        or any other line not skipped."""
        while True:
            line = self.next_line(timeout, repr(want))
            if line is None:
                raise StepFailed(f"the server closed {self.name}'s connection while "
                              f"{self.name} waited for {want!r}")
            if line == want or ending and line.endswith(want):
                return
            if not line.startswith(skip) and not line.endswith(_PROBE):
                raise StepFailed(f"{self.name} expected {want!r} but got {line[:60]!r}")

    def heard(self, ending: str, timeout: float) -> bool:
        """True if a line ending with *ending* arrives within *timeout* s (others: skipped
        if they are notices, else StepFailed)."""
        try:
            self.expect(ending, ending=True, timeout=timeout)
            return True
        except StepFailed as exc:
            if "did not come" in str(exc):
                return False
            raise

    def expect_eof(self, why: str, timeout: float = 2.0) -> None:
        while True:
            try:
                line = self.next_line(timeout, "the end of the connection")
            except StepFailed:
                raise StepFailed(f"the server did not close {self.name}'s connection {why}") from None
            if line is None:
                return

    def close(self) -> None:
        self.sock.close()

"""What a trace records: one :class:`Lifeline` per socket, one :class:`Step` per call.

    step.describe()   # 'recv(1024) → 6 bytes '你好''
    step.arrow()      # 'FIN → client': where the call sends something, if anywhere

A step's ``after`` list (what it had to wait for) and ``clock`` are filled in by
labkit.seeing.causal once the recording is over.
"""

from __future__ import annotations

import dataclasses
import re

__all__ = ["Step", "Lifeline"]

_SHUT = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}


def _address(addr) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = f"[{addr[0]}]" if ":" in str(addr[0]) else addr[0]
        return f"{host}:{addr[1]}"
    return repr(addr)


def _preview(data: bytes, limit: int) -> str:
    """*data* as text, with the bytes of a cut character as ``\\xe5``: ``'你\\xe5'``."""
    text = repr(data[:limit].decode("utf-8", errors="surrogateescape"))
    text = re.sub(r"\\udc([89a-f][0-9a-f])", r"\\x\1", text)  # what surrogateescape made
    return text + ("…" if len(data) > limit else "")


@dataclasses.dataclass(eq=False)
class Lifeline:
    """One socket seen by a trace. ``role`` is listener, client, conn or socket.

    >>> line = Lifeline(sock=None, role="listener", name="echo listener")
    >>> line.kind, line.steps
    ('listening socket', [])

    A trace makes one per socket (``t.lifelines``); its steps are the calls on it.
    """

    sock: object = dataclasses.field(repr=False)
    role: str = "socket"
    created: bool = False  # made inside the trace (else it existed before)
    local: tuple | None = None
    peer: tuple | None = None
    listener: "Lifeline | None" = dataclasses.field(default=None, repr=False)
    name: str = "?"
    column: int = 0
    sent: int = 0  # bytes sent / received so far: the offsets that link sends to recvs
    received: int = 0
    steps: list = dataclasses.field(default_factory=list, repr=False)
    partner: "Lifeline | None" = dataclasses.field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return "listening socket" if self.role == "listener" else "connected socket"


@dataclasses.dataclass(eq=False)
class Step:
    """One recorded call: ``call`` on ``line`` (its lifeline), in thread ``thread``.

    >>> conn = Lifeline(sock=None, role="conn", name="echo conn 1")
    >>> step = Step(5, 0, conn, "recv", arg=1024, data="你好".encode(), nbytes=6)
    >>> step.describe()
    "recv(1024) → 6 bytes '你好'"
    >>> step.is_recv, step.is_eof
    (True, False)
    """

    seq: int
    thread: int
    line: Lifeline
    call: str
    arg: object = None  # bufsize, backlog, address or shutdown direction
    data: bytes = b""  # the first bytes only, for the preview
    nbytes: int | None = None
    error: str | None = None
    new: Lifeline | None = None  # the socket accept() returned
    start: int = 0  # stream offsets of the bytes sent or received
    end: int = 0
    after: list = dataclasses.field(default_factory=list, repr=False)
    clock: int = 0
    peer_step: "Step | None" = dataclasses.field(default=None, repr=False)  # the matching end
    fin: bool = False  # this shutdown or close sent the socket's FIN
    source: tuple | None = None  # where recvfrom's datagram came from

    @property
    def is_send(self) -> bool:
        return self.call in ("send", "sendall", "sendto") and not self.error

    @property
    def is_recv(self) -> bool:
        return self.call in ("recv", "recv_into", "recvfrom") and not self.error

    @property
    def is_eof(self) -> bool:
        return self.is_recv and self.nbytes == 0 and self.call != "recvfrom"

    def describe(self, limit: int = 30) -> str:
        """The call as one line of text, e.g. ``recv(1024) → 6 bytes '你好'``."""
        c, arg = self.call, self.arg
        if c == "socket":
            text = f"socket()  {arg}"
        elif c in ("bind", "connect"):
            text = f"{c}({_address(arg)})"
        elif c == "listen":
            text = f"listen({'' if arg is None else arg})"
        elif c == "accept":
            text = "accept()" + (f" → new socket {self.new.name}" if self.new else "")
        elif c == "shutdown":
            text = f"shutdown({_SHUT.get(arg, arg)})"
        elif c == "close":
            text = "close()"
        elif c == "sendto":
            text = f"sendto({_address(arg)})"
        elif self.is_send or c in ("send", "sendall"):
            text = c
        else:  # the reads
            text = f"{c}({arg})" if arg is not None else f"{c}()"
        if self.error:
            return f"{text} ✗ {self.error}"
        if self.is_send:
            text += f" {self.nbytes} bytes {_preview(self.data, limit)}"
        elif self.is_eof:
            text += " → b'' (end of stream)"
        elif self.is_recv:
            text += f" → {self.nbytes} bytes {_preview(self.data, limit)}"
        return text

    def arrow(self) -> str:
        """Where this call sends something: ``SYN → echo listener``, ``→ client``."""
        target = self.line.partner
        if self.call == "connect" and not self.error and self.peer_step is not None:
            return f"SYN → {self.peer_step.line.name}"
        if self.is_send and self.call != "sendto" and target is not None:
            return f"→ {target.name}"
        if self.call == "sendto" and self.peer_step is not None:
            return f"→ {self.peer_step.line.name}"
        if self.fin and target is not None:
            return f"FIN → {target.name}"
        return ""

"""Record the socket calls of both sides of a conversation, and show them.

    with labkit.trace() as t:
        labkit.echo_client(server, "你好")
    t              # one numbered line per call, the same on every run
    t.diagram()    # a sequence diagram: one lifeline per socket (labkit.seeing.seqdiagram)

While the ``with`` block runs, every call on an IPv4/IPv6 socket, by any thread,
is recorded as a :class:`~labkit.seeing.tracesteps.Step`: the call, its byte count, a
preview of the bytes, its error (labkit.seeing.interpose routes the calls here).
Leaving the block first waits for the servers to settle (each handler done or
waiting for input), then puts the original methods back, then puts the steps
in an order that never varies (labkit.seeing.causal).

A blocking call already under way when the block begins (a server's recv
waiting for data) is not seen; the calls after it are.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time

from labkit.seeing.causal import _READS, _order
from labkit.errors import LabkitError
from labkit.seeing.interpose import _install, _uninstall
from labkit.seeing.tracesteps import Lifeline, Step

__all__ = ["trace", "Tracer"]


class Tracer:
    """The record of one ``with labkit.trace()`` block; its repr is the text rendering.

    >>> from labkit import serve, echo, echo_client
    >>> with serve(echo) as server, trace() as t:
    ...     reply = echo_client(server, "你好")
    >>> t                                     # doctest: +ELLIPSIS
     1  client         socket()  TCP
     2  client         connect(127.0.0.1:...)   SYN → echo listener
     3  echo listener  accept() → new socket echo conn 1
     4  client         sendall 6 bytes '你好'   → echo conn 1
    ...
    12  client         close()

    Thread-safe while recording. After the block: ``t.steps`` (in the shown order),
    ``t.lifelines`` (in column order), ``t.text()``, ``t.diagram()``, ``t.calls(name)``.
    """

    def __init__(self, *, settle: float = 2.0, **names):
        self.settle = settle
        self._given = {id(sock): name for name, sock in names.items()}
        self.keep_widget = list(names.values())  # so their ids stay theirs while we record
        self._lock = threading.Lock()
        self._lines: dict[int, Lifeline] = {}  # id(sock) -> lifeline; sock kept alive
        self._raw: list[Step] = []
        self._busy: dict[int, tuple] = {}  # thread ident -> (sock, call) while in a call
        self._listening: set[int] = set()  # this process's listening ports as the trace began
        self._seq = 0
        self._main = threading.get_ident()
        self.steps: list[Step] = []
        self.lifelines: list[Lifeline] = []
        self.started = False
        self.finished = False

    # -- recording -------------------------------------------------------------------
    def _line(self, sock, **fields) -> Lifeline:
        line = self._lines.get(id(sock))
        if line is None:
            line = self._lines[id(sock)] = Lifeline(sock, **fields)
            try:
                line.local = sock.getsockname()
                line.peer = sock.getpeername()
            except OSError:
                pass
            if not line.created and line.role == "socket" and line.peer is not None:
                # connected before the trace began: which end is it? (the listeners were
                # read as the trace began, so no scan runs while the lock is held)
                line.role = "conn" if line.local[1] in self._listening else "client"
        return line

    def _add(self, sock, call, **fields) -> Step:
        with self._lock:
            line = self._line(sock)
            self._seq += 1
            step = Step(self._seq, threading.get_ident(), line, call, **fields)
            self._raw.append(step)
            line.steps.append(step)
            return step

    def _created(self, sock) -> None:
        with self._lock:
            self._line(sock, created=True)
        kind = "TCP" if sock.type == socket.SOCK_STREAM else "UDP"
        self._add(sock, "socket", arg=kind)

    def _call(self, sock, call, original, args, kwargs):
        """Run one socket method for real and record what it did."""
        ident = threading.get_ident()
        if call in ("connect", "listen"):
            with self._lock:
                self._line(sock).role = "client" if call == "connect" else "listener"
        with self._lock:
            self._busy[ident] = (sock, call)
        try:
            result = original(sock, *args, **kwargs)
        except BlockingIOError:  # a non-blocking retry, not part of the conversation
            raise
        except OSError as exc:
            self._record(sock, call, args, None, exc)
            raise
        finally:
            with self._lock:
                self._busy.pop(ident, None)
        self._record(sock, call, args, result, None)
        return result

    def _record(self, sock, call, args, result, exc) -> None:
        error = None
        if exc is not None:
            error = "timed out" if isinstance(exc, socket.timeout) else type(exc).__name__
        # what the call was given: an address, a backlog, a bufsize, a direction
        if call == "sendto":
            arg = args[-1]
        elif call in ("send", "sendall", "recv_into", "accept") or not args:
            arg = None
        else:
            arg = args[0]
        if error:
            self._add(sock, call, arg=arg, error=error)
            return
        if call in ("bind", "connect"):
            with self._lock:
                line = self._line(sock)
                line.local = sock.getsockname()
                if call == "connect":
                    line.peer = sock.getpeername()
            self._add(sock, call, arg=arg)
        elif call == "listen":
            self._add(sock, call, arg=arg)
        elif call == "accept":
            conn, _peer = result
            with self._lock:
                listener = self._line(sock)
                listener.role = "listener"
                new = self._line(conn, role="conn", created=True, listener=listener)
            self._add(sock, call, new=new)
        elif call in ("send", "sendall", "sendto"):
            view = memoryview(args[0]).cast("B")
            n = len(view) if call == "sendall" else result
            with self._lock:
                line = self._line(sock)
                start = line.sent
                line.sent += n
                if call == "sendto":  # the first sendto binds the socket
                    line.local = sock.getsockname()
            self._add(sock, call, arg=arg, data=bytes(view[:64]), nbytes=n, start=start,
                      end=start + n)
        elif call in ("recv", "recv_into", "recvfrom"):
            if call == "recv_into":
                n = result
                data = bytes(memoryview(args[0]).cast("B")[: min(n, 64)])
            else:
                data = result[0] if call == "recvfrom" else result
                n = len(data)
            flags = args[1] if len(args) > 1 else 0
            with self._lock:
                line = self._line(sock)
                start = line.received
                if not flags & socket.MSG_PEEK:
                    line.received += n
            step = self._add(sock, call, arg=arg, data=bytes(data[:64]), nbytes=n,
                             start=start, end=start + n)
            if call == "recvfrom":
                step.source = result[1]
        elif call == "shutdown":
            self._add(sock, call, arg=arg)

    def _closing(self, sock, original) -> None:
        if sock.fileno() == -1:  # already closed: close() again does nothing
            return original(sock)
        try:
            original(sock)
        finally:
            self._add(sock, "close")

    # -- the with block --------------------------------------------------------------
    def __enter__(self) -> Tracer:
        self._listening = _listening_ports()
        _install(self)
        self.started = True
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self._wait_settled(self.settle)
        finally:
            _uninstall(self)
            self._finish()

    def _wait_settled(self, timeout: float) -> None:
        """Wait until labkit's servers are quiet and no traced call is under way,
        except reads waiting on sockets that have nothing to read."""
        from labkit.serving.servers import running  # late: servers need not be loaded to trace

        deadline = time.monotonic() + timeout
        for server in running():
            server.wait_quiet(max(0.0, deadline - time.monotonic()))
        last, calm = -1, 0
        while time.monotonic() < deadline and calm < 3:  # 3 calm polls in a row
            seq = self._seq
            calm = calm + 1 if seq == last and self._idle() else 0
            last = seq
            time.sleep(0.005)

    def _idle(self) -> bool:
        with self._lock:
            busy = list(self._busy.items())
        for ident, (sock, call) in busy:
            if ident == self._main:
                continue
            if call not in _READS:
                return False
            try:
                with selectors.DefaultSelector() as sel:
                    sel.register(sock, selectors.EVENT_READ)
                    if sel.select(0):
                        return False  # it has something to read: it will wake up
            except (OSError, ValueError, KeyError):
                return False
        return True

    # -- putting the steps in order --------------------------------------------------
    def _finish(self) -> None:
        with self._lock:
            steps = list(self._raw)
            lines = list(self._lines.values())
        self.steps = _order(steps, lines, self._given)
        self.keep_widget = []
        for line in lines:
            line.sock = None  # let the sockets go
        self.lifelines = sorted(lines, key=lambda l: l.column)
        self.finished = True

    # -- showing ---------------------------------------------------------------------
    def _require_finished(self) -> None:
        if not self.started:
            raise LabkitError("nothing was traced: record with `with labkit.trace() as t:`")
        if not self.finished:
            raise LabkitError("the trace is still recording: show it after the with block")

    def names(self) -> list[str]:
        """The lifelines' names, left to right."""
        self._require_finished()
        return [line.name for line in self.lifelines]

    def calls(self, name: str | None = None) -> list[str]:
        """The calls in order, e.g. ``['socket', 'connect', 'sendall', ...]``,
        of one lifeline (by name) or of all."""
        self._require_finished()
        return [s.call for s in self.steps if name is None or s.line.name == name]

    def text(self, limit: int = 30) -> str:
        """One line per call: number, socket, call, and where it sends something."""
        self._require_finished()
        if not self.steps:
            return "(no socket calls were traced)"
        width = max(len(line.name) for line in self.lifelines)
        rows = []
        for i, step in enumerate(self.steps, 1):
            arrow = step.arrow()
            rows.append(f"{i:>2}  {step.line.name:<{width}}  {step.describe(limit)}"
                        + (f"   {arrow}" if arrow else ""))
        return "\n".join(rows)

    def __repr__(self) -> str:
        if not self.started:
            return "<trace: not started - use it in a with block>"
        if not self.finished:
            return "<trace: recording>"
        return self.text()

    def diagram(self, *, width: float | None = None, limit: int = 14):
        """Draw the trace as a sequence diagram; returns a matplotlib Figure.

        Displayed as an image when it is a cell's last expression.
        """
        self._require_finished()
        from labkit.seeing.seqdiagram import _draw  # late: matplotlib is loaded only to draw

        return _draw(self, width=width, limit=limit)


def _listening_ports() -> set[int]:
    """The ports this process listens on (labkit's servers and any other listener)."""
    import psutil

    from labkit.serving.servers import running

    ports = {server.port for server in running()}
    try:
        ports |= {c.laddr.port for c in psutil.Process().net_connections("tcp")
                  if c.status == psutil.CONN_LISTEN}
    except psutil.Error:
        pass
    return ports


def trace(*, settle: float = 2.0, **names) -> Tracer:
    """Record every socket call made inside the ``with`` block, by any thread.

    >>> from labkit import serve, echo, echo_client
    >>> with serve(echo) as server:
    ...     with trace() as t:
    ...         reply = echo_client(server, "你好")
    >>> t.calls("client")
    ['socket', 'connect', 'sendall', 'shutdown', 'recv', 'recv', 'close']

    Sockets are named by their part (client, listener, server conn 1 …);
    ``trace(a=a, b=b)`` names existing sockets after your variables instead.
    On leaving the block it waits (up to *settle* s) for servers to finish
    what the block started, so their closing calls are part of the record.
    """
    return Tracer(settle=settle, **names)

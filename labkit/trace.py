"""Record the socket calls of both sides of a conversation, and draw them.

    with labkit.trace() as t:
        labkit.echo_client(server, "你好")
    t              # one numbered line per call, the same on every run
    t.diagram()    # a sequence diagram: one lifeline per socket

Theory of operation
-------------------
While the ``with`` block runs, the methods of ``socket.socket`` are replaced
(on the class, so the notebook's thread *and* labkit's server threads go
through them) by wrappers that record each call on an IPv4/IPv6 socket as a
:class:`Step`: the call, its byte count, a preview of the bytes, its error.
Leaving the block first waits for the servers to settle (each handler done or
waiting for input), then puts the original methods back.

Threads interleave differently on every run, so the order in which steps were
recorded is not the order we show. Instead each step gets a *logical time*
(a Lamport clock) from happens-before links that are the same on every run:

- program order within one thread;
- ``connect()`` before the ``accept()`` that returned its connection, and that
  ``accept()`` before every call on the new socket;
- a send before the recv that returned its last byte (matched by offset in
  the byte stream, so we know which send fed which recv);
- a ``shutdown``/``close`` before the peer's recv that returned ``b""``.

Steps are shown sorted by (logical time, reads first, lifeline). For a program
whose every thread does the same calls with the same results, that is the same
order on every run. (How TCP cuts the stream into recv pieces is part of the
result: a program that races its reads against its writes can differ.) A
hand-off the trace cannot see, such as a queue between two threads of one
server (the chat server's writers), is no link: such a send may be shown
earlier than what caused it, though always at the same place.

A blocking call already under way when the block begins (a server's recv
waiting for data) is not seen; the calls after it are.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import re
import selectors
import socket
import threading
import time
import weakref

from .errors import LabkitError

__all__ = ["trace", "Tracer", "Step", "Lifeline"]

_INET = (socket.AF_INET, socket.AF_INET6)
_READS = {"recv", "recv_into", "recvfrom", "accept"}  # may block waiting for the peer
_SHUT = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}
_C_METHODS = ("bind", "listen", "connect", "send", "sendall", "recv", "recv_into",
              "shutdown", "sendto", "recvfrom")
_PY_METHODS = ("__init__", "accept", "close")


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
    """One socket seen by a trace. ``role`` is listener, client, conn or socket."""

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
    """One recorded call: ``call`` on ``line`` (its lifeline), in thread ``thread``."""

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


class Tracer:
    """The record of one ``with labkit.trace()`` block; its repr is the text rendering.

    Thread-safe while recording. After the block: ``t.steps`` (in the shown order),
    ``t.lifelines`` (in column order), ``t.text()``, ``t.diagram()``, ``t.calls(name)``.
    """

    def __init__(self, *, settle: float = 2.0, **names):
        self.settle = settle
        self._given = {id(sock): name for name, sock in names.items()}
        self._keep = list(names.values())  # so their ids stay theirs while we record
        self._lock = threading.Lock()
        self._lines: dict[int, Lifeline] = {}  # id(sock) -> lifeline; sock kept alive
        self._raw: list[Step] = []
        self._busy: dict[int, tuple] = {}  # thread ident -> (sock, call) while in a call
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
                # connected before the trace began: which end is it?
                line.role = "conn" if line.local[1] in _listening_ports() else "client"
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
        self._busy[ident] = (sock, call)
        try:
            result = original(sock, *args, **kwargs)
        except BlockingIOError:  # a non-blocking retry, not part of the conversation
            raise
        except OSError as exc:
            self._record(sock, call, args, None, exc)
            raise
        finally:
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
        from .servers import running  # late: servers need not be loaded to trace

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
        for ident, (sock, call) in list(self._busy.items()):
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
        self._link(steps, lines)
        self._clock(steps)
        self._name(lines)
        for key, line in self._lines.items():
            if key in self._given:
                line.name = self._given[key]
        self._keep = []
        position = {id(s): i for line in lines for i, s in enumerate(line.steps)}
        self.steps = sorted(steps, key=lambda s: (s.clock, 0 if s.call in _READS else 1,
                                                  s.line.column, position[id(s)]))
        for line in lines:
            line.sock = None  # let the sockets go
        self.lifelines = sorted(lines, key=lambda l: l.column)
        self.finished = True

    def _link(self, steps, lines) -> None:
        by_thread: dict[int, list[Step]] = {}
        for step in steps:
            by_thread.setdefault(step.thread, []).append(step)
        for chain in by_thread.values():
            for before, after in zip(chain, chain[1:]):
                after.after.append(before)
        ends = {(l.local, l.peer): l for l in lines if l.peer is not None and l.role != "listener"}
        for line in lines:
            if line.peer is not None and line.role != "listener":
                line.partner = ends.get((line.peer, line.local))
        for step in steps:
            if step.call == "accept" and step.new is not None:
                for later in step.new.steps:
                    later.after.append(step)
                client = step.new.partner
                connect = next((s for s in client.steps if s.call == "connect"), None) if client else None
                if connect is not None:
                    step.after.append(connect)
                    connect.peer_step = step
        for line in lines:
            if line.partner is not None:
                self._link_stream(line.partner, line)
        self._link_datagrams(steps, lines)

    @staticmethod
    def _link_stream(sender: Lifeline, receiver: Lifeline) -> None:
        sends = [s for s in sender.steps if s.is_send and s.nbytes]
        ends = [s.end for s in sends]
        fin = next((s for s in sender.steps if (s.call == "shutdown" and s.arg in (1, 2) and not s.error)
                    or s.call == "close"), None)
        if fin is not None:
            fin.fin = True
        for step in receiver.steps:
            if step.is_eof and fin is not None:
                step.after.append(fin)
                fin.peer_step = fin.peer_step or step
            elif step.is_recv and step.nbytes:
                i = bisect.bisect_left(ends, step.end)  # the send holding the last byte
                if i < len(sends):
                    step.after.append(sends[i])
                    sends[i].peer_step = step
            elif step.error in ("ConnectionResetError", "BrokenPipeError") and fin is not None:
                step.after.append(fin)

    @staticmethod
    def _link_datagrams(steps, lines) -> None:
        queues: dict[tuple, list[Step]] = {}
        for step in steps:  # FIFO per (from, to): recording order within one sender thread
            if step.call == "sendto" and step.is_send:
                # by the sender's port: an unbound sender is bound to 0.0.0.0
                queues.setdefault((step.line.local[1], tuple(step.arg)[:2]), []).append(step)
        for step in steps:
            if step.call == "recvfrom" and step.is_recv and step.source and step.line.local:
                queue = queues.get((step.source[1], tuple(step.line.local)[:2]))
                if queue:
                    send = queue.pop(0)
                    step.after.append(send)
                    send.peer_step = step

    @staticmethod
    def _clock(steps) -> None:
        """Lamport clock: one more than the latest step this one had to wait for."""
        done: set[int] = set()
        for root in steps:
            stack = [root]
            while stack:
                step = stack[-1]
                if id(step) in done:
                    stack.pop()
                    continue
                todo = [p for p in step.after if id(p) not in done]
                if todo:
                    stack.extend(todo)
                    continue
                step.clock = 1 + max((p.clock for p in step.after), default=0)
                done.add(id(step))
                stack.pop()

    @staticmethod
    def _name(lines) -> None:
        from .servers import running

        services = {server.address: server.name for server in running()}

        def first(line):
            return min((s.clock for s in line.steps), default=0)

        listeners = sorted((l for l in lines if l.role == "listener"), key=first)
        clients = sorted((l for l in lines if l.role == "client"), key=first)
        others = sorted((l for l in lines if l.role == "socket"), key=first)
        for line in listeners:
            service = services.get(tuple(line.local[:2]) if line.local else None)
            line.name = f"{service} listener" if service else "listener"
        if len(listeners) > 1 and len({l.name for l in listeners}) < len(listeners):
            for i, line in enumerate(listeners, 1):
                line.name += f" {i}"
        for i, line in enumerate(clients, 1):
            line.name = "client" if len(clients) == 1 else f"client {i}"
        conns = []
        for listener in listeners:
            accepted = [s.new for s in sorted(listener.steps, key=lambda s: s.clock)
                        if s.call == "accept" and s.new is not None]
            base = listener.name.removesuffix("listener").strip() or "server"
            for i, line in enumerate(accepted, 1):
                line.name = f"{base} conn {i}"
            conns += accepted
        orphans = sorted((l for l in lines if l.role == "conn" and l not in conns), key=first)
        for i, line in enumerate(orphans, 1):
            line.name = "conn" if len(orphans) == 1 else f"conn {i}"
        conns += orphans
        for i, line in enumerate(others, 1):
            line.name = "socket" if len(others) == 1 else f"socket {i}"
        for column, line in enumerate(clients + others + listeners + conns):
            line.column = column

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
        return _draw(self, width=width, limit=limit)


# -- drawing -----------------------------------------------------------------------

_COLOURS = {"listener": "#c05621", "client": "#2b6cb0", "conn": "#2f855a", "socket": "#4a5568"}
_FIN, _SYN, _ERROR = "#c53030", "#6b46c1", "#c53030"
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
              "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN",
              "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC",
              "Noto Sans CJK JP", "Noto Sans CJK TC", "Arial Unicode MS")


@functools.cache
def _fonts():
    """The font families to draw with, and the code points they can draw."""
    from matplotlib import font_manager, ft2font

    installed = {font.name for font in font_manager.fontManager.ttflist}
    families = ["DejaVu Sans"] + [name for name in _CJK_FONTS if name in installed][:1]
    covered: set[int] = set()
    for family in families:
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family),
                                         fallback_to_default=False)
            covered |= set(ft2font.FT2Font(path).get_charmap())
        except (ValueError, OSError, RuntimeError):
            continue
    return families, frozenset(covered)


def _drawable(text: str) -> str:
    """*text* with the characters no installed font can draw written as escapes
    (``\\u4f60``), so matplotlib never warns about a missing glyph."""
    _, covered = _fonts()
    text = text.replace("$", "\\$")  # not the start of mathtext
    if not covered:
        return text.encode("ascii", "backslashreplace").decode()
    return "".join(c if ord(c) in covered or c == "\n"
                   else (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
                   for c in text)


def _figure(size):
    """A new Figure that a cell shows once, as an image, when it is the cell's value.

    Made through pyplot, so that the notebook's backend is loaded (it is what teaches
    IPython to show a Figure as a PNG), then closed, so that pyplot does not show it a
    second time at the end of the cell.
    """
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=size)
    plt.close(fig)
    return fig


def _draw(tracer: Tracer, *, width, limit):
    families, _ = _fonts()
    lines, steps = tracer.lifelines, tracer.steps
    ncols, nrows = max(1, len(lines)), len(steps)
    fig = _figure((width or max(7.0, 3.3 * ncols + 0.6), 1.6 + 0.6 * max(nrows, 1)))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(-0.62, ncols - 0.38)
    ax.set_ylim(nrows + 0.1, -1.75)
    ax.axis("off")
    font = {"family": families, "fontsize": 12}
    box = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9}
    row = {id(s): i for i, s in enumerate(steps)}

    def label(x, y, text, *, side=1, colour="#1a202c", above=False, below=False):
        dy, va = (-0.14, "bottom") if above else (0.1, "top") if below else (0, "center")
        ax.text(x + 0.07 * side, y + dy, _drawable(text), color=colour, va=va,
                ha="left" if side > 0 else "right", bbox=box, zorder=4, **font)

    def arrow(x0, y0, x1, y1, colour, style="-"):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=3, arrowprops={
            "arrowstyle": "-|>", "color": colour, "lw": 2.0, "linestyle": style,
            "mutation_scale": 20, "shrinkA": 3, "shrinkB": 3})

    ax.text(-0.6, -1.55, "time ↓", fontsize=11, color="#718096", va="top", family=families)
    for line in lines:
        x, colour = line.column, _COLOURS[line.role]
        birth = next((row[id(s)] for s in steps if s.new is line), None)
        if line.created and line.steps and line.steps[0].call == "socket":
            birth = row[id(line.steps[0])]
        start = -0.45 if birth is None else birth
        closes = [row[id(s)] for s in line.steps if s.call == "close"]
        end = closes[0] if closes else nrows - 0.2
        ax.text(x, -1.2, _drawable(line.name), ha="center", va="center", fontsize=13,
                color="white", family=families, zorder=5,  # no bold: CJK fonts lack it
                bbox={"boxstyle": "round,pad=0.35", "facecolor": colour, "edgecolor": colour})
        kind = line.kind if line.role != "socket" else "socket"
        ax.text(x, -0.72, kind, ha="center", va="center", fontsize=10.5, color=colour,
                style="italic", family="DejaVu Sans")  # ASCII; an italic CJK font is rare
        ax.plot([x, x], [-0.55, start], color="#cbd5e0", lw=1, ls=":", zorder=1)
        ax.plot([x, x], [start, end], color=colour, lw=3 if line.role != "listener" else 2.5,
                ls="-" if line.role != "listener" else (0, (5, 3)), zorder=2)
        if closes:
            ax.plot([x], [end], marker="x", markersize=13, mew=3, color=colour, zorder=5)
    for i, step in enumerate(steps):
        line = step.line
        x, colour = line.column, _COLOURS[line.role]
        side = -1 if x == ncols - 1 and ncols > 1 else 1
        ax.plot([x], [i], marker="o", markersize=5, color=colour, zorder=5)
        partner = line.partner
        target = step.peer_step
        if step.call == "connect" and not step.error and target is not None:
            tx = target.line.column
            arrow(x, i, tx, row[id(target)], _SYN, "--")
            label(x, i, "connect(): SYN", side=1 if tx > x else -1, colour=_SYN, above=True)
        elif step.call == "accept" and step.new is not None:
            tx = step.new.column
            arrow(x, i, tx, i, colour, "--")
            label(x, i, "accept() → new socket", side=1 if tx > x else -1, colour=colour,
                  above=True)
        elif step.is_send and (partner is not None or target is not None):
            dest = target.line if target is not None else partner
            y1 = row[id(target)] if target is not None else i + 0.6
            arrow(x, i, dest.column, y1, colour)
            label(x, i, f"{step.call} {step.nbytes} B {_preview(step.data, limit)}",
                  side=1 if dest.column > x else -1, colour=colour, above=True)
        elif step.fin and partner is not None:
            y1 = row[id(target)] if target is not None else i + 0.6
            arrow(x, i, partner.column, y1, _FIN, "--")
            what = "close()" if step.call == "close" else f"shutdown({_SHUT.get(step.arg, step.arg)})"
            label(x, i, f"{what}: FIN", side=1 if partner.column > x else -1, colour=_FIN,
                  above=True)
        else:
            text = step.describe(limit).replace(" bytes ", " B ")
            if step.is_recv:
                text = text.split("(", 1)[0] + text[text.index(")") + 1:]  # recv → 6 B '…'
            # what arrived from another socket: the label goes under the arrow's head
            incoming = next((p for p in step.after
                             if step.is_recv and p.line is line.partner is not None), None)
            if step.is_recv and step.nbytes and partner is not None:
                for send in partner.steps:  # sends that fed part of this piece: a thin arrow
                    if (send.is_send and send.peer_step is not step and send.start < step.end
                            and send.end > step.start):
                        arrow(partner.column, row[id(send)], x, i, _COLOURS[partner.role], ":")
                        incoming = incoming or send
            if incoming is not None:
                side = 1 if incoming.line.column > x else -1
            label(x, i, text, side=side, colour=_ERROR if step.error else "#1a202c",
                  below=incoming is not None)
    return fig


def _listening_ports() -> set[int]:
    """The ports this process listens on (labkit's servers and any other listener)."""
    import psutil

    from .servers import running

    ports = {server.port for server in running()}
    try:
        ports |= {c.laddr.port for c in psutil.Process().net_connections("tcp")
                  if c.status == psutil.CONN_LISTEN}
    except psutil.Error:
        pass
    return ports


# -- installing the wrappers ----------------------------------------------------------

_active: Tracer | None = None
_install_lock = threading.Lock()
_saved: dict[str, object] = {}


_ignored: "weakref.WeakSet[socket.socket]" = weakref.WeakSet()


def _ignore(sock) -> None:
    """Leave *sock* out of every trace (a widget's socket polled by its own thread)."""
    _ignored.add(sock)


def _traced(sock) -> bool:
    try:
        return sock.family in _INET and sock not in _ignored
    except (OSError, AttributeError, TypeError):
        return False


def _wrapper(name, original):
    if name == "__init__":
        def method(self, family=-1, type=-1, proto=-1, fileno=None):
            original(self, family, type, proto, fileno)
            tracer = _active
            if tracer is not None and fileno is None and _traced(self):
                tracer._created(self)
    elif name == "close":
        def method(self):
            tracer = _active
            if tracer is None or not _traced(self):
                return original(self)
            return tracer._closing(self, original)
    else:
        def method(self, *args, **kwargs):
            tracer = _active
            if tracer is None or not _traced(self):
                return original(self, *args, **kwargs)
            return tracer._call(self, name, original, args, kwargs)
    method.__name__ = name
    method.__qualname__ = f"socket.{name}"
    method.__doc__ = getattr(original, "__doc__", None)
    return method


def _install(tracer: Tracer) -> None:
    global _active
    with _install_lock:
        if _active is not None:
            raise LabkitError("a trace is already recording; traces cannot be nested")
        cls = socket.socket
        for name in _C_METHODS + _PY_METHODS:
            own = cls.__dict__.get(name)
            _saved[name] = own
            setattr(cls, name, _wrapper(name, own if own is not None else getattr(cls, name)))
        _active = tracer


def _uninstall(tracer: Tracer) -> None:
    global _active
    with _install_lock:
        if _active is not tracer:
            return
        _active = None
        cls = socket.socket
        for name, own in _saved.items():
            if own is None:
                delattr(cls, name)
            else:
                setattr(cls, name, own)
        _saved.clear()


def trace(*, settle: float = 2.0, **names) -> Tracer:
    """Record every socket call made inside the ``with`` block, by any thread.

    >>> with trace() as t:
    ...     echo_client(server, "你好")
    >>> t.calls("client")
    ['socket', 'connect', 'sendall', 'shutdown', 'recv', 'recv', 'close']

    Sockets are named by their part (client, listener, server conn 1 …);
    ``trace(a=a, b=b)`` names existing sockets after your variables instead.
    On leaving the block it waits (up to *settle* s) for servers to finish
    what the block started, so their closing calls are part of the record.
    """
    return Tracer(settle=settle, **names)

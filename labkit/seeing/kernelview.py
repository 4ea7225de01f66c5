"""The kernel's table of this notebook's own sockets: addresses and TCP states.

    tl = labkit.Timeline()
    server = labkit.serve(labkit.echo)
    tl.snap("the server listens")        # echo (listening)  LISTEN ...
    sock = labkit.connect(server)
    tl.snap("connected")                 # client → echo  ESTABLISHED, echo → client ...
    tl                                   # every snapshot so far, in order

The rows come from psutil: this process's sockets, plus the sockets the kernel
still keeps for us after we closed them (``FIN_WAIT2``, ``TIME_WAIT``), which
belong to no process any more. Those are matched to us by their addresses: a
row is shown when its connection was seen as ours before, or is a connection
to one of labkit's servers. The notebook kernel's own sockets (to JupyterLab)
are left out.

Where the system refuses a system-wide look at its sockets (macOS without root), the
table holds this kernel's own sockets only, from ``psutil.Process()``, and says so
under the rows: the ones held by the kernel only are missing there.

Ports change from run to run, so each row is named after its endpoints rather
than their numbers: a labkit server by its name ("echo"), another listening
socket "server", every other endpoint "client", "client 2" … in the order they
first appear, unless you name it (``Timeline(client=sock)``, ``tl.name(...)``).
Before reading the table a snapshot waits for labkit's servers to go quiet and
for passing states (SYN_SENT, FIN_WAIT1, LAST_ACK …) to settle, so the same
steps show the same states on every run.
"""

from __future__ import annotations

import dataclasses
import socket  # noqa: F401 - the examples below use it
import time

from labkit.seeing.sockettable import OWN_ONLY, _endpoint, _settled_table

__all__ = ["socket_snapshot", "Snapshot", "SocketRow", "Timeline"]


def _text(endpoint) -> str:
    if endpoint is None:
        return "-"
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclasses.dataclass(frozen=True)
class SocketRow:
    """One row of the kernel's table. ``owned`` is False for a socket no process holds.

    >>> row = SocketRow("client → echo", "TIME_WAIT", ("127.0.0.1", 50312),
    ...                 ("127.0.0.1", 41234), owned=False)
    >>> row.state, row.held_by
    ('TIME_WAIT', 'the kernel only')
    """

    name: str
    state: str
    local: tuple | None
    remote: tuple | None
    owned: bool
    kind: str = "tcp"

    @property
    def held_by(self) -> str:
        return "this process" if self.owned else "the kernel only"


class Snapshot:
    """The table at one moment; its repr is the table as aligned text.

    >>> from labkit import serve, echo
    >>> with serve(echo) as server:
    ...     snap = socket_snapshot("the server listens")
    >>> snap                                  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    the server listens:
      socket            state   local            remote  held by
      echo (listening)  LISTEN  127.0.0.1:...    -       this process
    >>> snap.state("echo (listening)"), snap.state("client → echo")
    ('LISTEN', None)

    ``snap.state("client → echo")`` is one row's state (None if absent);
    ``snap.states()`` maps every row's name to its state. ``snap.note`` is None, or
    a line shown under the rows saying what the table could not include.
    """

    def __init__(self, label: str, rows: list[SocketRow], note: str | None = None):
        self.label = label
        self.rows = sorted(rows, key=lambda r: (r.name, r.state, r.kind))
        self.note = note

    def states(self) -> dict[str, str]:
        return {row.name: row.state for row in self.rows}

    def state(self, name: str) -> str | None:
        return self.states().get(name)

    def table(self) -> list[list[str]]:
        """Header and rows as lists of strings."""
        head = ["socket", "state", "local", "remote", "held by"]
        return [head] + [[r.name, r.state, _text(r.local), _text(r.remote), r.held_by]
                         for r in self.rows]

    def text(self, indent: str = "  ") -> str:
        title = f"{self.label}:" if self.label else "sockets:"
        note = [indent + self.note] if self.note else []
        if not self.rows:
            return "\n".join([title, f"{indent}(no sockets)"] + note)
        cells = self.table()
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
        lines = [indent + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
                 for row in cells]
        return "\n".join([title] + lines + note)

    def html(self) -> str:
        import html

        cells = self.table()
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in cells[0])
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row)
            + "</tr>" for row in cells[1:])
        if self.note:
            body += (f"<tr><td colspan='{len(cells[0])}' style='text-align:left'>"
                     f"<i>{html.escape(self.note)}</i></td></tr>")
        caption = html.escape(self.label or "sockets")
        return (f"<table><caption style='text-align:left'><b>{caption}</b></caption>"
                f"<tr>{head}</tr>{body}</table>")

    def __repr__(self) -> str:
        return self.text()


class Timeline:
    """Snapshots taken after each step of a lesson, shown one after the other.

    >>> from labkit import serve, echo, connect
    >>> tl = Timeline()
    >>> with serve(echo) as server, connect(server) as sock:
    ...     tl.snap("connected").states()   # snap() returns the new Snapshot
    {'client → echo': 'ESTABLISHED', 'echo (listening)': 'LISTEN', 'echo → client': 'ESTABLISHED'}
    >>> tl.states("client → echo")          # that row in every snapshot so far
    ['ESTABLISHED']

    Name a socket after your variable with ``Timeline(me=sock)`` (a socket, a server, a
    port or ``(host, port)``); ``only_named=True`` hides the rows with no named end.
    Shown in a cell, ``tl`` is every snapshot so far, numbered.
    """

    def __init__(self, *, only_named: bool = False, **names):
        self.only_named = only_named  # show only rows with a named end (others are hidden)
        self.snapshots: list[Snapshot] = []
        self._named: list[tuple[object, str]] = []
        self._names: dict[tuple, str] = {}  # endpoint -> name, kept across snapshots
        self._ours: set[tuple] = set()  # (local, remote) pairs seen held by this process
        self._since = time.monotonic()
        for name, obj in names.items():
            self.name(obj, name)

    def name(self, obj, name: str) -> None:
        """Call the endpoint of *obj* (socket, server, port, (host, port)) *name*."""
        self._named.append((obj, name))

    def snap(self, label: str = "") -> Snapshot:
        """Wait for the sockets to settle, read the table, keep and return it."""
        rows, note = self._rows()
        snap = Snapshot(label, rows, note)
        self.snapshots.append(snap)
        return snap

    def __getitem__(self, i) -> Snapshot:
        return self.snapshots[i]

    def __len__(self) -> int:
        return len(self.snapshots)

    def __repr__(self) -> str:
        if not self.snapshots:
            return "(no snapshots yet: call .snap(label) after each step)"
        return "\n\n".join(f"{i}. {s.text()}" for i, s in enumerate(self.snapshots, 1))

    def states(self, name: str) -> list[str | None]:
        """One row's state in every snapshot, e.g. ``['ESTABLISHED', 'TIME_WAIT']``."""
        return [s.state(name) for s in self.snapshots]

    def plot(self):
        """A grid: one row per socket, one column per snapshot, the state in each cell.
        Returns a matplotlib Figure (shown as an image by a cell)."""
        return _plot(self)

    # -- reading the table -----------------------------------------------------
    def _rows(self) -> tuple[list[SocketRow], str | None]:
        from labkit.serving.servers import running

        servers = running()
        for server in servers:
            server.wait_quiet(0.5)
        for server in servers:  # connections of our servers count as ours
            for event in server.events.snapshot():
                if event.peer is not None and event.time >= self._since and len(event.peer) >= 2:
                    self._ours.add((_endpoint(server.address), _endpoint(event.peer)))
                    self._ours.add((_endpoint(event.peer), _endpoint(server.address)))

        def keep(table):
            # the far end of a connection we hold is ours too (e.g. not yet accepted)
            owned = {(r[0], r[1]) for r in table if r[3]}
            owned |= {(remote, local) for local, remote in owned}
            return [r for r in table if r[3] or (r[0], r[1]) in self._ours | owned]

        raw, complete = _settled_table(keep)
        for obj, name in self._named:
            endpoint = _resolve(obj)
            if endpoint is not None:
                self._names[endpoint] = name
        for server in servers:
            self._names.setdefault(_endpoint(server.address), server.name)
        for local, remote, state, owned, kind in raw:
            if owned:
                self._ours.add((local, remote))
                if remote is not None:  # the far end, if it is on this machine, is ours too
                    self._ours.add((remote, local))
        rows = [r for r in raw if r[3] or (r[0], r[1]) in self._ours]
        if self.only_named:
            named = {endpoint for obj, _ in self._named if (endpoint := _resolve(obj))}
            named |= {e for e, name in self._names.items() if name in {n for _, n in self._named}}
            rows = [r for r in rows if r[0] in named or r[1] in named]
        listeners = sorted({r[0] for r in rows if r[2] == "LISTEN"}, key=lambda e: e[1])
        for endpoint in listeners:
            self._auto_name(endpoint, "server")
        for local, remote, *_ in sorted(rows, key=lambda r: (r[1] is None, _rank(r, self._names))):
            for endpoint in (local, remote):
                if endpoint is not None and endpoint not in self._names:
                    self._auto_name(endpoint, "client")
        named = []
        for local, remote, state, owned, kind in rows:
            name = self._names[local]
            if state == "LISTEN":
                name += " (listening)"
            elif remote is not None:
                name += f" → {self._names[remote]}"
            named.append(SocketRow(name, state, local, remote, owned, kind))
        return named, None if complete else OWN_ONLY

    def _auto_name(self, endpoint, base) -> None:
        if endpoint in self._names:
            return
        taken = set(self._names.values())
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base} {n}"
        self._names[endpoint] = name


def _rank(row, names) -> tuple:
    """Name new endpoints in a stable order: those next to a named endpoint first."""
    local, remote = row[0], row[1]
    return (local not in names and remote not in names, names.get(remote, ""), names.get(local, ""))


def _resolve(obj) -> tuple | None:
    if hasattr(obj, "address") and not hasattr(obj, "getsockname"):
        return _endpoint(obj.address)
    if hasattr(obj, "getsockname"):
        try:
            endpoint = _endpoint(obj.getsockname())
        except OSError:  # closed: it keeps the name it had
            return None
        return endpoint if endpoint and endpoint[1] else None
    if isinstance(obj, int) and not isinstance(obj, bool):
        return ("127.0.0.1", obj)
    if isinstance(obj, tuple) and len(obj) >= 2:
        return (obj[0], obj[1])
    raise TypeError(f"cannot name {obj!r}: expected a socket, a server, a port or (host, port)")


def socket_snapshot(label: str = "", *, only_named: bool = False, **names) -> Snapshot:
    """The table now, for one look (a Timeline remembers names and closed sockets).

    >>> with socket.create_server(("127.0.0.1", 0)) as listener:
    ...     socket_snapshot("after listen", server=listener).states()
    {'server (listening)': 'LISTEN'}
    """
    return Timeline(only_named=only_named, **names).snap(label)


# -- the state grid ---------------------------------------------------------------

_STATE_COLOURS = {"LISTEN": "#f6ad55", "ESTABLISHED": "#68d391", "FIN_WAIT2": "#90cdf4",
                  "CLOSE_WAIT": "#fbd38d", "TIME_WAIT": "#b794f4", "CLOSE": "#e2e8f0",
                  "(udp)": "#e2e8f0"}


def _plot(timeline: Timeline):
    from labkit.seeing.figures import _drawable, _figure, _fonts

    families, _ = _fonts()
    names = sorted({row.name for s in timeline.snapshots for row in s.rows})
    cols = len(timeline.snapshots)
    note = next((s.note for s in timeline.snapshots if s.note), None)
    height = 1.2 + 0.55 * max(len(names), 1)
    if note is None:
        fig = _figure((2.2 + 2.1 * max(cols, 1), height))
        ax = fig.add_axes((0.27, 0.02, 0.72, 0.8))
    else:  # a strip below the grid for the note
        fig = _figure((2.2 + 2.1 * max(cols, 1), height + 0.4))
        ax = fig.add_axes((0.27, 0.4 / (height + 0.4) + 0.02, 0.72, 0.8 * height / (height + 0.4)))
        fig.text(0.02, 0.1 / (height + 0.4), _drawable(note), fontsize=10, family=families,
                 style="italic")
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xticks(range(cols), [_drawable(s.label or str(i + 1))
                                for i, s in enumerate(timeline.snapshots)],
                  fontsize=11, family=families)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(names)), [_drawable(n) for n in names], fontsize=12, family=families)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for x, snap in enumerate(timeline.snapshots):
        for row in snap.rows:
            y = names.index(row.name)
            ax.add_patch(_cell(x, y, _STATE_COLOURS.get(row.state, "#e2e8f0"), row.owned))
            ax.text(x, y, row.state, ha="center", va="center", fontsize=11, family=families)
    return fig


def _cell(x, y, colour, owned):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x - 0.44, y - 0.36), 0.88, 0.72, boxstyle="round,pad=0.02",
                          facecolor=colour, edgecolor="#4a5568",
                          linestyle="-" if owned else (0, (3, 2)), linewidth=1.2)

"""Serve a lesson protocol to the class from a notebook: join addresses, a roster, a stop button.

    room = labkit.serve_room("chat")                  # 127.0.0.1: this machine only
    room = labkit.serve_room("chat", host="0.0.0.0")  # the room: says so, shows where to join
    room.roster()                                     # who is connected, from where, since when
    room.stop()                                       # or press its stop button

Loopback stays the default: another machine can join only when *host* says so, and then
the room warns, as ``python -m labkit serve --host 0.0.0.0`` does, and lists the same
join lines (both come from labkit.classroom.addresses).

Threading contract (as in labkit.seeing.widgets): the refresher thread never touches a widget's
state directly; it hands each new roster to the kernel's event loop.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import threading
import time

from labkit.classroom import handlers
from labkit.classroom.addresses import join_lines, network_warning, join_addresses
from labkit.serving.base import LOOPBACK
from labkit.serving.servers import serve
from labkit.seeing.widgets import widget_bundle, drop_widget, keep_widget, on_main_thread

__all__ = ["serve_room", "Room", "Roster", "RosterEntry"]

ROOM_STOP = "press stop (or run room.stop()) when the demo is over"


@dataclasses.dataclass(frozen=True)
class RosterEntry:
    """One connected learner: a name (a chat nick, or ``conn N``), an address, since when.

    >>> since = datetime.datetime(2026, 3, 2, 10, 15, 4)
    >>> RosterEntry("alice", "127.0.0.1", 45678, since, conn=1).line()
    'alice  127.0.0.1:45678  since 2026-03-02 10:15:04'
    """

    name: str
    host: str
    port: int
    since: datetime.datetime
    conn: int

    def line(self, width: int = 0, address_width: int = 0) -> str:
        address = f"{self.host}:{self.port}"
        return (f"{self.name:<{width}}  {address:<{address_width}}  "
                f"since {self.since:%Y-%m-%d %H:%M:%S}")


class Roster(list):
    """A list of :class:`RosterEntry`, in the order they joined; its repr is one line each.

    >>> since = datetime.datetime(2026, 3, 2, 10, 15, 4)
    >>> Roster([RosterEntry("alice", "127.0.0.1", 45678, since, 1),
    ...         RosterEntry("bob", "127.0.0.1", 45680, since, 2)])
    2 connected
    alice  127.0.0.1:45678  since 2026-03-02 10:15:04
    bob    127.0.0.1:45680  since 2026-03-02 10:15:04
    """

    def names(self) -> list[str]:
        return [entry.name for entry in self]

    def __repr__(self) -> str:
        if not self:
            return "nobody connected yet"
        width = max(len(e.name) for e in self)
        address_width = max(len(f"{e.host}:{e.port}") for e in self)
        return "\n".join([f"{len(self)} connected",
                          *(e.line(width, address_width) for e in self)])


def _wall_clock(monotonic: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(time.time() - (time.monotonic() - monotonic))


class Room:
    """A lesson protocol served to the class, with join addresses, a live roster and a stop
    button. Made by :func:`serve_room`; see there.

    >>> from labkit import connect
    >>> room = serve_room("echo")
    >>> with connect(room):                   # a learner joins
    ...     room.roster().names()
    ['conn 1']
    >>> room.stop()

    It stands for its server (``room.address``, ``room.handler``, ``room.wait_quiet()``),
    so ``labkit.connect(room)``, ``labkit.Console(room)`` and ``labkit.chat_panel(room,
    [...])`` work as for any labkit server.
    """

    def __init__(self, protocol: str = "chat", *, host: str = LOOPBACK, port: int = 0,
                 timeout: float = 300.0, every: float = 0.5):
        self.protocol = protocol
        self.server = serve(handlers.handler_for(protocol), name=f"{protocol} room",
                            host=host, port=port, timeout=timeout)
        self.join = join_addresses(self.server.port, host)
        self.warning = network_warning(host, ROOM_STOP)
        self._since: dict[int, datetime.datetime] = {}
        self._seen = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        try:
            self._build_widget()
        except BaseException:
            self.server.stop()
            raise
        self._shown = None
        self._thread = threading.Thread(target=self._refresh_loop, args=(every,), daemon=True,
                                        name=f"labkit-{protocol}-room-roster")
        self._thread.start()
        keep_widget(self)

    # -- facts ------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def running(self) -> bool:
        return self.server.running

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def handler(self):
        return self.server.handler

    def wait_quiet(self, timeout: float = 3.0) -> bool:
        return self.server.wait_quiet(timeout)

    def roster(self, wait: float = 2.0) -> Roster:
        """Who is connected now, after waiting (up to *wait* s) for the server to go quiet
        (so that a ``/nick`` just sent has been read). Chat shows nicknames; the other
        protocols ``conn N``."""
        if wait:
            self.server.wait_quiet(wait)
        return self._roster()

    def _roster(self) -> Roster:
        server = self.server
        with server._lock:
            conns = {n: c for n, c in server.connections.items() if not c.done}
        members = getattr(server.handler, "members", None)  # a ChatRoom's: number -> member
        if members is not None:
            named = {n: m.name for n, m in list(members.items()) if n in conns}
        else:
            named = {n: f"conn {n}" for n in conns}
        with self._lock:
            for event in server.events.since(self._seen):
                self._seen = event.seq
                if event.kind == "connected":
                    self._since[event.conn] = _wall_clock(event.time)
            for number in list(self._since):
                if number not in conns:
                    del self._since[number]  # left: forget it, so the dict stays small
            now = datetime.datetime.now()
            since = {n: self._since.setdefault(n, now) for n in named}
        return Roster(RosterEntry(name, conns[n].peer[0], conns[n].peer[1], since[n], n)
                      for n, name in sorted(named.items()))

    def log(self, wait: float = 3.0):
        """The server's event log (see labkit.serving.servers)."""
        return self.server.log(wait)

    # -- the widget ---------------------------------------------------------------------
    def _build_widget(self) -> None:
        import ipywidgets as w

        self._head = w.HTML(self._head_html())
        self._table = w.HTML(self._roster_html(Roster()))
        self._button = w.Button(description="stop", button_style="danger", icon="stop")
        self._button.on_click(lambda _: self.stop())
        self._state = w.Label("serving")
        self.widget = w.VBox([self._head, self._table, w.HBox([self._button, self._state])])

    def _head_html(self) -> str:
        where = html.escape(f"{self.protocol} room on {self.host}:{self.port}")
        parts = [f"<b>{where}</b>"]
        if self.warning:
            parts.append(f"<div style='color:#c05621'>{html.escape(self.warning)}</div>")
        else:
            parts.append("<div>loopback: pass host=\"0.0.0.0\" to serve the room</div>")
        lines = join_lines(self.port, self.host)
        parts.append("".join(f"<div style='font-family:monospace;font-size:20px'>"
                             f"{html.escape(line)}</div>" for line in lines))
        if self.join:
            host, port = self.join[0].host, self.port
            how = (f'labkit.chat_panel(("{host}", {port}), ["your name"]) in a notebook, or '
                   f"python -m labkit client chat --host {host} --port {port} --nick NAME"
                   if self.protocol == "chat" else
                   f"python -m labkit client {self.protocol} --host {host} --port {port}")
            parts.append(f"<div style='color:#4a5568'>learners: <code>{html.escape(how)}"
                         "</code></div>")
        return "".join(parts)

    @staticmethod
    def _roster_html(roster: Roster) -> str:
        if not roster:
            return "<div style='color:#718096'>nobody connected yet</div>"
        rows = "".join(
            f"<tr><td>{html.escape(e.name)}</td><td>{html.escape(e.host)}:{e.port}</td>"
            f"<td>{e.since:%H:%M:%S}</td></tr>" for e in roster)
        return ("<table style='font-family:monospace'><tr><th>name</th><th>address</th>"
                f"<th>since</th></tr>{rows}</table><div>{len(roster)} connected</div>")

    def _refresh_loop(self, every: float) -> None:
        while not self._stop.wait(every) and self.server.running:
            try:
                self.refresh()
            except Exception:  # a thread never prints: a failed read waits for the next
                continue
        on_main_thread(self._show_stopped)
        drop_widget(self)

    def refresh(self) -> Roster:
        """Read the roster again and show it (the refresher does this every *every* s)."""
        roster = self._roster()
        text = self._roster_html(roster)
        if text != self._shown:
            self._shown = text
            on_main_thread(lambda: setattr(self._table, "value", text))
        return roster

    def _show_stopped(self) -> None:
        self._button.disabled = True
        self._button.button_style = ""
        self._state.value = "stopped"
        self._table.value = self._roster_html(Roster())

    def stop(self) -> None:
        """Stop serving (everyone is disconnected) and the roster; quick, safe to call twice."""
        self._stop.set()
        self.server.stop()
        if self._thread is not threading.current_thread():
            self._thread.join(2.0)
        drop_widget(self)

    close = stop  # labkit.seeing.close_widgets() closes panels by calling close()

    def __repr__(self) -> str:
        head = f"{self.protocol} room on {self.host}:{self.port}"
        if not self.running:
            return f"{head}: stopped"
        lines = [self.warning] if self.warning else []
        lines.append(head + ("" if self.warning else
                             " (loopback: pass host=\"0.0.0.0\" to serve the room)"))
        lines += join_lines(self.port, self.host)
        lines.append(repr(self._roster()))
        return "\n".join(lines)

    def _repr_mimebundle_(self, **kwargs):
        return widget_bundle(self.widget, repr(self))


def serve_room(protocol: str = "chat", *, host: str = LOOPBACK, port: int = 0,
               timeout: float = 300.0) -> Room:
    """Serve a lesson protocol (``chat``, ``echo``, ``greeting``, ``clock``) from a notebook.

    >>> from labkit import connect
    >>> room = serve_room("chat")              # 127.0.0.1: this machine only, a rehearsal
    >>> with connect(room) as sock:
    ...     sock.sendall(b"/nick alice\\n")
    ...     room.roster().names()              # room.roster() shows address and since when
    ['alice']
    >>> room.stop()

    For the class, ``serve_room("chat", host="0.0.0.0")``: learners join at ``room.join``.
    Shown in a cell, it lists the join addresses, a live roster and a stop button.
    Re-running the cell replaces the room of the same protocol; ``labkit.stop_all()``
    stops it too. *timeout*: how long a silent client may stay (chat members may listen
    for ever).
    """
    return Room(protocol, host=host, port=port, timeout=timeout)

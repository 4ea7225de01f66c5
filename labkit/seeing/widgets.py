"""ipywidgets panels: a socket table and a recv-size control (the console is labkit.seeing.console).

    labkit.seeing.SocketTable()                   # the kernel's table of our sockets (kernelview)
    labkit.RecvSizeExplorer("欢迎访问>>>>你好")   # the same bytes, cut by recv(n)

Threading contract: a background thread never touches a widget's state directly.
The console's reader thread only calls ``Output.append_stdout`` (safe from any
thread); the socket table's refresher hands each new table to the kernel's
event loop (``io_loop.add_callback``), which sets it from the main thread.
Every panel shows a fixed ``text/plain`` (no port numbers, no counts), so a
cell that displays one has the same text output on every run.

ipywidgets is imported when a panel is made, not with labkit.
"""

from __future__ import annotations

import html
import socket
import threading
import time

from labkit.wire.framing import TextDecoder
from labkit.seeing.kernelview import Timeline

__all__ = ["SocketTable", "RecvSizeExplorer", "recv_pieces", "close_widgets", "widget_bundle", "drop_widget",
           "keep_widget", "on_main_thread"]

_open: list = []  # panels with a thread or a socket, for close_widgets()
_open_lock = threading.Lock()


def on_main_thread(fn) -> None:
    """Run *fn* on the kernel's event loop (thread-safe), or now outside a kernel.

    >>> on_main_thread(lambda: print("now"))
    now
    """
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
    except ImportError:
        kernel = None
    loop = getattr(kernel, "io_loop", None)
    if loop is None or threading.current_thread() is threading.main_thread():
        fn()
    else:
        loop.add_callback(fn)


def widget_bundle(widget, text: str) -> dict:
    """The widget's display data, with *text* as what a plain-text front end shows.

    >>> import ipywidgets
    >>> sorted(widget_bundle(ipywidgets.HTML("<b>hi</b>"), "hi"))
    ['application/vnd.jupyter.widget-view+json', 'text/plain']
    """
    data = widget._repr_mimebundle_()
    data = dict(data[0] if isinstance(data, tuple) else data)
    data["text/plain"] = text
    return data


def keep_widget(panel) -> None:
    """Remember *panel* (anything with ``close()``) so close_widgets() closes it.

    >>> class Panel:
    ...     def close(self):
    ...         drop_widget(self)
    >>> keep_widget(Panel())
    >>> close_widgets()
    1
    """
    with _open_lock:
        _open.append(panel)


def drop_widget(panel) -> None:
    """Forget *panel*: it closed itself (a panel that was never kept is ignored).

    >>> drop_widget(object())
    >>> close_widgets()
    0
    """
    with _open_lock:
        if panel in _open:
            _open.remove(panel)


def close_widgets() -> int:
    """Close every console and socket table still open; return how many were.

    >>> table = SocketTable(every=1.0)        # refreshes itself: open until closed
    >>> close_widgets()
    1
    >>> close_widgets()                       # nothing left open
    0
    """
    with _open_lock:
        panels = list(_open)
    for panel in panels:
        panel.close()
    return len(panels)


class SocketTable:
    """The kernel's table of this notebook's sockets (see kernelview), with a refresh
    button; ``every=1.0`` refreshes it by itself for *duration* seconds.

    >>> from labkit import serve, echo
    >>> with serve(echo) as server:
    ...     table = SocketTable()                 # SocketTable(me=sock) names a socket
    ...     table.refresh().states()              # read it again; returns the Snapshot shown
    {'echo (listening)': 'LISTEN'}
    >>> table.close()
    """

    def __init__(self, *, every: float | None = None, duration: float = 60.0, **names):
        import ipywidgets as w

        self.timeline = Timeline(**names)
        self.snapshot = self.timeline.snap("sockets")
        self._html = w.HTML(self.snapshot.html())
        self._button = w.Button(description="refresh", icon="refresh")
        self._button.on_click(lambda _: self.refresh())
        self.widget = w.VBox([self._html, self._button])
        self._stop = threading.Event()
        self._thread = None
        if every:
            self._thread = threading.Thread(target=self._refresh_loop, args=(every, duration),
                                            daemon=True, name="labkit-socket-table")
            self._thread.start()
            keep_widget(self)

    def name(self, obj, name: str) -> None:
        """Name an endpoint in the table, as Timeline.name does."""
        self.timeline.name(obj, name)

    def refresh(self):
        """Read the table again and show it; returns the new Snapshot."""
        self.timeline.snapshots.clear()  # only the latest is shown; keep no history
        self.snapshot = self.timeline.snap("sockets")
        text = self.snapshot.html()
        on_main_thread(lambda: setattr(self._html, "value", text))
        return self.snapshot

    def _refresh_loop(self, every: float, duration: float) -> None:
        deadline = time.monotonic() + duration
        while not self._stop.wait(every) and time.monotonic() < deadline:
            try:
                self.refresh()
            except Exception:  # a thread never prints: a failed read just waits for the next
                continue
        drop_widget(self)

    def close(self) -> None:
        """Stop refreshing (quick, idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self._button.disabled = True
        drop_widget(self)

    def __repr__(self) -> str:
        return "<SocketTable of this notebook's sockets>"

    def _repr_mimebundle_(self, **kwargs):
        return widget_bundle(self.widget, repr(self))


def recv_pieces(data: bytes, size: int, *, timeout: float = 2.0) -> list[bytes]:
    """Send *data* over a real loopback connection, then read it with ``recv(size)``
    until EOF; return the pieces. All the bytes are waiting before the first recv,
    so each piece is ``min(size, what is left)``, on every run.

    >>> recv_pieces("你好".encode(), 4)         # 好 is cut in half
    [b'\\xe4\\xbd\\xa0\\xe5', b'\\xa5\\xbd']
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname(), timeout=timeout) as sender:
            receiver, _ = listener.accept()
            with receiver:
                receiver.settimeout(timeout)
                sender.sendall(data)
                sender.shutdown(socket.SHUT_WR)
                pieces = []
                while piece := receiver.recv(size):
                    pieces.append(piece)
                return pieces


_PIECE_COLOURS = ("#bee3f8", "#c6f6d5", "#fefcbf", "#fed7e2", "#e9d8fd", "#feebc8")


_CELL = ("padding:3px 6px;border:1px solid #718096;border-radius:4px;font-family:monospace;"
         "font-size:15px;text-align:center;white-space:pre")


def _pieces_table(pieces: list[bytes], decoded: list[str]) -> str:
    """One column per recv: its number, its bytes, its length, then below it the text
    the decoder gave back for it, in the same colour, so each lines up with its piece."""
    def row(head, cells):
        return (f"<tr><th style='text-align:right;padding-right:6px;font-weight:normal;"
                f"color:#4a5568;white-space:nowrap'>{head}</th>{''.join(cells)}</tr>")

    def cell(i, content, *, box=True):
        colour = _PIECE_COLOURS[i % len(_PIECE_COLOURS)]
        style = f"{_CELL};background:{colour}" if box else "text-align:center;color:#4a5568"
        return f"<td style='{style}'>{content}</td>"

    shown = [html.escape(p.decode("utf-8", errors="backslashreplace")) for p in pieces]
    text = [html.escape(d) if d else "<span style='color:#718096'>—</span>"
            for d in decoded]
    return ("<table style='border-collapse:separate;border-spacing:3px'>"
            + row("recv", [cell(i, f"#{i + 1}", box=False) for i in range(len(pieces))])
            + row("bytes", [cell(i, s) for i, s in enumerate(shown)])
            + row("length", [cell(i, f"{len(p)} byte{'s' * (len(p) != 1)}", box=False)
                             for i, p in enumerate(pieces)])
            + row("decoded", [cell(i, t) for i, t in enumerate(text)])
            + "</table>")


class RecvSizeExplorer:
    """A slider for the recv size, and the pieces the same bytes arrive in.

    >>> explorer = RecvSizeExplorer("欢迎访问>>>>你好")
    >>> explorer.pieces(4)[:2]
    [b'\\xe6\\xac\\xa2\\xe8', b'\\xbf\\x8e\\xe8\\xae']

    One column per piece: its number, its bytes as they would decode on their own
    (``\\xe6`` marks a byte of a character cut in half), its length in bytes, and
    under it the text an incremental decoder gave back when it was fed.
    """

    def __init__(self, data="欢迎访问>>>>你好", *, size: int = 4, max_size: int | None = None):
        import ipywidgets as w

        self.data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if not self.data:
            raise ValueError("data must not be empty")
        top = max_size or max(1, min(len(self.data), 64))
        self.slider = w.IntSlider(value=min(size, top), min=1, max=top, description="recv size",
                                  continuous_update=False, style={"description_width": "initial"})
        self._html = w.HTML(self.render(self.slider.value))
        self.slider.observe(self._changed, names="value")  # runs on the main thread
        self.widget = w.VBox([self.slider, self._html])

    def pieces(self, size: int) -> list[bytes]:
        """The pieces ``recv(size)`` returns, read from a real connection."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int, not {size!r}")
        return recv_pieces(self.data, size)

    def render(self, size: int) -> str:
        """The pieces as coloured boxes (HTML), and what a decoder makes of them."""
        pieces = self.pieces(size)
        decoder = TextDecoder()
        decoded = [decoder.feed(p) for p in pieces]
        steps = " + ".join(repr(d) for d in decoded)
        return (f"<div>{len(self.data)} bytes sent at once; <code>recv({size})</code> "
                f"returned {len(pieces)} piece{'s' * (len(pieces) != 1)}. Under each piece, the "
                f"text an incremental decoder gave back for it (—: nothing yet, a character "
                f"is still incomplete):</div>"
                f"<div style='overflow-x:auto'>{_pieces_table(pieces, decoded)}</div>"
                f"<div style='margin-top:4px'>joined: <code>{html.escape(steps)}</code></div>")

    def show(self, size: int) -> None:
        """Move the slider to *size* (the picture follows)."""
        self.slider.value = size

    def _changed(self, change) -> None:
        self._html.value = self.render(change["new"])

    def __repr__(self) -> str:
        return f"<RecvSizeExplorer: {len(self.data)} bytes, recv size 1 to {self.slider.max}>"

    def _repr_mimebundle_(self, **kwargs):
        return widget_bundle(self.widget, repr(self))

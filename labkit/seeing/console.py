"""A console on a live connection: a text box, a send button and a transcript.

    console = labkit.Console(server)       # connects; works with the echo and chat servers
    console.send("你好")                    # what the button does, from code
    console.transcript()                   # '→ 你好\\n← 欢迎访问>>>>你好'

Threading contract (as for every panel in labkit.seeing.widgets): the reader thread
never touches a widget's state directly; it calls ``Output.append_stdout``
(safe from any thread) and hands control changes to the kernel's event loop.
"""

from __future__ import annotations

import html
import selectors
import socket
import threading
import time

from labkit.serving.clients import connect
from labkit.wire.framing import TextDecoder
from labkit.seeing.interpose import _ignore
from labkit.seeing.widgets import widget_bundle, drop_widget, keep_widget, on_main_thread

__all__ = ["Console"]


class Console:
    """A text box, a send button and a transcript on one TCP connection.

    >>> from labkit import serve, echo
    >>> with serve(echo) as server:
    ...     console = Console(server)           # server, (host, port) or port
    ...     console.send("你好")
    ...     print(console.transcript())
    ...     console.close()
    → 你好
    ← 欢迎访问>>>>你好

    Lines go out as typed; for a chat server each gets a ``\\n`` (``newline=``).
    A reader thread shows what arrives; when the server closes the connection,
    the console closes too. ``close()`` is quick and safe to call twice.
    """

    def __init__(self, target, *, newline: str | None = None, timeout: float = 5.0,
                 title: str | None = None):
        import ipywidgets as w

        self.target = target
        handler = getattr(target, "handler", None)
        self.protocol = getattr(target, "name", None) or "server"
        if newline is None:
            newline = "\n" if type(handler).__name__ == "ChatRoom" else ""
        self.newline = newline
        self.sock = connect(target, timeout=timeout)
        self.sock.settimeout(0.05)  # short polls, so close() returns at once
        _ignore(self.sock)  # its polls would fill any trace recorded while it is open
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reading = False
        self._out = w.Output(layout=w.Layout(border="1px solid #cbd5e0", height="160px",
                                             overflow="auto", padding="4px"))
        self._box = w.Text(placeholder="type a message, then send", layout=w.Layout(flex="1"))
        self._send = w.Button(description="send", button_style="primary")
        self._close = w.Button(description="close")
        self._send.on_click(lambda _: self._send_box())
        self._close.on_click(lambda _: self.close())
        heading = title or f"connected to {self.protocol}"
        self.widget = w.VBox([w.HTML(f"<b>{html.escape(heading)}</b>"), self._out,
                              w.HBox([self._box, self._send, self._close])])
        self._thread = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"labkit-console-{self.protocol}")
        self._thread.start()
        keep_widget(self)

    # -- the two directions ---------------------------------------------------------
    def send(self, text: str) -> None:
        """Send *text* (plus the newline, if any), as the send button does."""
        if self._closed.is_set():
            self._show("(the connection is closed)")
            return
        self._show(f"→ {text}")  # first: the reply may be shown before sendall returns
        self.sock.sendall((text + self.newline).encode("utf-8"))

    def _send_box(self) -> None:
        text, self._box.value = self._box.value, ""
        try:
            self.send(text)
        except OSError as exc:
            self._show(f"(sending failed: {type(exc).__name__})")

    def _read_loop(self) -> None:
        decoder = TextDecoder()
        pending = ""
        try:
            while not self._closed.is_set():
                self._reading = False
                try:
                    data = self.sock.recv(65536)
                except socket.timeout:
                    continue
                self._reading = True
                if not data:
                    break
                pending += decoder.feed(data)
                *whole, pending = pending.split("\n")
                for line in whole:
                    self._show(f"← {line.removesuffix(chr(13))}")
            if pending:
                self._show(f"← {pending}")
        except OSError:
            pass
        finally:
            self._reading = False
            if not self._closed.is_set():
                self._show("(the server closed the connection)")
                self._shut()

    def _show(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            self._out.append_stdout(line + "\n")  # safe from the reader thread

    # -- reading the transcript ------------------------------------------------------
    def transcript(self, wait: float = 2.0) -> str:
        """Everything sent (→) and received (←) so far, after waiting (up to *wait* s)
        for the server to answer what was sent."""
        self.wait_quiet(wait)
        with self._lock:
            return "\n".join(self._lines)

    def wait_quiet(self, timeout: float = 2.0) -> bool:
        """Wait until the server is quiet and every byte that arrived is shown."""
        deadline = time.monotonic() + timeout
        if hasattr(self.target, "wait_quiet"):
            self.target.wait_quiet(timeout)
        calm, seen = 0, -1
        while time.monotonic() < deadline:
            with self._lock:
                count = len(self._lines)
            # 100 ms with nothing new: a server may answer from another thread (chat's
            # writers), a moment after its handler went back to waiting
            calm = calm + 1 if self._drained() and count == seen else 0
            seen = count
            if calm >= 20:
                return True
            time.sleep(0.005)
        return False

    def _drained(self) -> bool:
        if self._closed.is_set() or not self._thread.is_alive():
            return True
        if self._reading:
            return False
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(self.sock, selectors.EVENT_READ)
                return not sel.select(0)
        except (OSError, ValueError, KeyError):
            return True

    # -- closing -----------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection and stop the reader thread (quick, idempotent)."""
        if self._closed.is_set():
            self._thread.join(1.0)
            return
        self._shut()
        self._thread.join(1.0)
        self._show("(closed)")

    def _shut(self) -> None:
        self._closed.set()

        on_main_thread(self._disable)  # _shut also runs on the reader thread, at EOF
        try:
            self.sock.close()
        except OSError:
            pass
        drop_widget(self)

    def _disable(self) -> None:
        """Grey out the text box and both buttons: a disabled primary button stays blue."""
        for control in (self._send, self._close, self._box):
            control.disabled = True
        self._send.button_style = ""
        self._box.value = ""
        self._box.placeholder = "(closed)"

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Console connected to {self.protocol} ({state})>"

    def _repr_mimebundle_(self, **kwargs):
        return widget_bundle(self.widget, repr(self))

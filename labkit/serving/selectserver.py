"""An echo server that serves every client from one thread, with ``selectors``.

Theory of operation
-------------------
A thread-per-client server (``TCPServer``) lets the operating system switch
between clients: each thread blocks in its own ``recv``. ``SelectServer``
does the switching itself. Every socket is non-blocking, and one thread asks
a selector "which sockets are ready?":

- the listener is readable: ``accept()`` a new client and register it;
- a client is readable: ``recv()`` what is there (never blocks), feed it to
  that client's incremental UTF-8 decoder, append the reply to that client's
  output buffer and try to send it at once;
- a client is writable: send more of its output buffer. A client we could
  not send to (its receive window is full) is watched for EVENT_WRITE until
  its buffer is empty, and not read from meanwhile, so a client that never
  reads cannot make the server buffer without limit.

Each connection therefore has its own state (a ``_Client``: socket, decoder,
output buffer, last activity), where a threaded server keeps that state in the
local variables of a thread. A client silent for longer than *timeout* is
dropped. ``stop()`` wakes the selector through a socketpair and joins the one
thread, which closes every socket on its way out.

It speaks the echo protocol of :func:`labkit.echo`: for each piece of text
received, ``欢迎访问>>>>`` + text + ``\\r\\n``; a character split across two
reads is held back, never an error.

Logging every recv and send costs time at thousands of messages a second, so
``log="connections"`` records only connects, ends and errors (the benchmark
uses it); ``log="all"`` (the default) records every call, as ``TCPServer`` does.
"""

from __future__ import annotations

import selectors
import socket
import time

from labkit.serving.events import preview
from labkit.wire.framing import TextDecoder
from labkit.wire.protocols import ECHO_PREFIX
from labkit.serving.base import LOOPBACK, any_readable, BaseServer, SERVERS

__all__ = ["SelectServer", "serve_select"]

_PREFIX = ECHO_PREFIX.encode("utf-8")
_LOG_LEVELS = ("all", "connections", "none")


class _Client:
    """One connection's state: what the thread-per-client server keeps in a thread's locals."""

    __slots__ = ("sock", "number", "peer", "decoder", "out", "closing", "last", "writing")

    def __init__(self, sock, number, peer):
        self.sock, self.number, self.peer = sock, number, peer
        self.decoder = TextDecoder()
        self.out = bytearray()  # replies not yet taken by the kernel
        self.closing = False  # the client sent EOF: close once `out` is empty
        self.writing = False  # registered for EVENT_WRITE instead of EVENT_READ
        self.last = time.monotonic()


class SelectServer(BaseServer):
    """An echo server on one thread: a ``selectors`` loop over non-blocking sockets.

    >>> from labkit import echo_client
    >>> with SelectServer() as server:
    ...     echo_client(server, "你好")
    '欢迎访问>>>>你好\\r\\n'

    Binds in the caller's thread (127.0.0.1, port 0 by default); ``stop()`` is
    quick, idempotent and joins the serving thread. *log* is "all" (every recv
    and send), "connections" (connects, ends, errors) or "none".
    """

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, timeout: float = 60.0,
                 name: str | None = None, log: str = "all", bufsize: int = 65536,
                 backlog: int = 1024):
        if log not in _LOG_LEVELS:
            raise ValueError(f"log must be one of {', '.join(_LOG_LEVELS)}, not {log!r}")
        super().__init__(name or "select-echo", host, port, timeout)
        self.log_level = log
        self.bufsize = bufsize
        self.clients: dict[int, _Client] = {}
        self.accepted = 0
        self._idle = False  # True while the loop waits in select() with nothing to do
        self.backlog = backlog
        self.sock = self._open(socket.SOCK_STREAM, host, port, backlog)
        with self._starting():
            self.sock.setblocking(False)
            self._note_address(host)
            self._selector = selectors.DefaultSelector()
            self._selector.register(self.sock, selectors.EVENT_READ)
            self._selector.register(self._wake_r, selectors.EVENT_READ)
            self._start_thread(self._loop, f"labkit-{self.name}-select")

    @property
    def connections(self) -> dict[int, _Client]:
        return self.clients

    # -- the loop ------------------------------------------------------------
    def _loop(self) -> None:
        select, listener, wake = self._selector.select, self.sock, self._wake_r
        every = min(1.0, self.timeout / 4)  # how often to look for silent clients
        next_sweep = time.monotonic() + every
        try:
            while not self._stopping.is_set():
                self._idle = True
                ready = select(every)
                self._idle = False
                for key, mask in ready:
                    sock = key.fileobj
                    if sock is listener:
                        self._accept()
                    elif sock is wake:
                        break
                    elif mask & selectors.EVENT_READ:
                        self._readable(key.data)
                    else:
                        self._writable(key.data)
                now = time.monotonic()
                if now >= next_sweep:  # a silent client may not hold its socket forever
                    next_sweep = now + every
                    self._drop_silent(now)
        except Exception as exc:  # a bug in this loop: keep it for the owner
            self._record_error(0, exc)
        finally:
            self._idle = True
            for client in list(self.clients.values()):
                self._close(client, logged=False)
            self._selector.close()

    def _accept(self) -> None:
        while True:  # take every connection that is waiting, not just one
            try:
                sock, peer = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.events.add(0, "note", f"accept failed: {type(exc).__name__}: {exc}")
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # replies go out at once
            self.accepted += 1
            client = _Client(sock, self.accepted, peer)
            self.clients[client.number] = client
            self._selector.register(sock, selectors.EVENT_READ, client)
            if self.log_level != "none":
                self._log(client, "connected", f"from {peer[0]}")

    def _readable(self, client: _Client) -> None:
        try:
            data = client.sock.recv(self.bufsize)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.drop_widget(client, exc)
            return
        client.last = time.monotonic()
        if self.log_level == "all":
            if data:
                self._log(client, "received", f"{len(data)} bytes: {preview(data)}",
                          nbytes=len(data))
            else:
                self._log(client, "end of stream", "(the client closed its side)")
        if data:
            text = client.decoder.feed(data)
        else:
            text = client.decoder.finish()  # an incomplete last character becomes U+FFFD
            client.closing = True
        if text:  # empty when the piece held only the first bytes of a character
            client.out += _PREFIX + text.encode("utf-8") + b"\r\n"
        self._flush(client)

    def _writable(self, client: _Client) -> None:
        self._flush(client)

    def _flush(self, client: _Client) -> None:
        """Send what the kernel takes now; watch for EVENT_WRITE if something is left."""
        out = client.out
        while out:
            try:
                n = client.sock.send(out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self.drop_widget(client, exc)
                return
            if self.log_level == "all":
                self._log(client, "sent", f"{n} bytes: {preview(bytes(out[:n]))}", nbytes=n)
            del out[:n]
        if out:
            if not client.writing:
                client.writing = True
                self._selector.modify(client.sock, selectors.EVENT_WRITE, client)
        elif client.closing:
            self._close(client)
        elif client.writing:
            client.writing = False
            self._selector.modify(client.sock, selectors.EVENT_READ, client)

    def _drop_silent(self, now: float) -> None:
        for client in list(self.clients.values()):
            if now - client.last > self.timeout:
                self._log(client, "timed out", f"silent for {self.timeout:g} s")
                self._close(client)

    def drop_widget(self, client: _Client, exc: OSError) -> None:
        if not self._stopping.is_set():
            self._log(client, "dropped", f"{type(exc).__name__}: {exc}")
        self._close(client)

    def _close(self, client: _Client, logged: bool = True) -> None:
        if self.clients.pop(client.number, None) is None:
            return
        try:
            self._selector.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()
        if logged and self.log_level != "none":
            self._log(client, "closed")

    def _log(self, client: _Client, kind: str, detail: str = "", **fields) -> None:
        self.events.add(client.number, kind, detail, peer=client.peer, **fields)

    # -- waiting for quiet (wait_quiet() comes from BaseServer) -------------------
    def _quiet(self) -> bool:
        if not self._idle:
            return False
        clients = list(self.clients.values())
        if any(c.out for c in clients):
            return False
        # quiet: the loop is idle, nothing is readable and every reply went out
        return not any_readable([self.sock] + [c.sock for c in clients]) and self._idle

    def __repr__(self) -> str:
        text = super().__repr__()[:-1]
        return f"{text}, {len(self.clients)} open connection(s)>" if self.running else text + ">"


def serve_select(*, name: str = "select-echo", host: str = LOOPBACK, port: int = 0,
                 timeout: float = 60.0, log: str = "all") -> SelectServer:
    """Start a :class:`SelectServer`, replacing any running server of the same name.

    >>> from labkit import echo_client
    >>> server = serve_select()       # re-running this cell is safe
    >>> echo_client(server, "你好")
    '欢迎访问>>>>你好\\r\\n'
    >>> server.stop()
    """
    return SERVERS.replace(name, lambda: SelectServer(host=host, port=port, timeout=timeout,
                                               name=name, log=log))

"""A background UDP server: one thread answers datagrams with *handler(data, peer)*.

    server = serve_udp(lambda data, peer: data.upper())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"hi", server.address)      # the reply, b"HI", comes back to s

It shares the TCP server's lifecycle (labkit.serving.servers): bound in the caller's
thread, 127.0.0.1 and port 0 by default, a quick idempotent stop() that joins
its thread, an event log that numbers peers by their address, a handler's bugs
kept in ``errors``, and the registry by name.
"""

from __future__ import annotations

import socket
import threading

from labkit.serving.events import plural, preview
from labkit.serving.base import _PEER_ERRORS, LOOPBACK, any_readable, BaseServer, _name_of, SERVERS

__all__ = ["UDPServer", "serve_udp"]


class UDPServer(BaseServer):
    """A UDP server: *handler(data, peer)* returns the reply bytes, or None.

    >>> with UDPServer(lambda data, peer: data.upper()) as server:
    ...     with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    ...         s.settimeout(2); s.sendto(b"hi", server.address); s.recv(10)
    2
    b'HI'
    """

    unit = "peer"
    max_datagram = 65535

    def __init__(self, handler, *, host: str = LOOPBACK, port: int = 0,
                 timeout: float = 60.0, name: str | None = None):
        super().__init__(name or _name_of(handler), host, port, timeout)
        self.handler = handler
        self.peers: dict[tuple, int] = {}
        self.sock = self._open(socket.SOCK_DGRAM, host, port)
        self._busy = False  # True from before recvfrom() until the reply is logged
        self._busy_lock = threading.Lock()
        with self._starting():
            self._note_address(host)
            self._start_thread(self._serve_loop, f"labkit-{self.name}-udp")

    def _serve_loop(self) -> None:
        for _ in self._each_readable(self.sock):
            with self._busy_lock:
                self._busy = True
            try:
                self._serve_one()
            finally:
                with self._busy_lock:
                    self._busy = False

    def _serve_one(self) -> None:
        try:
            data, peer = self.sock.recvfrom(self.max_datagram)
        except OSError as exc:  # e.g. ECONNREFUSED left by an ICMP error
            self.events.add(0, "note", f"{type(exc).__name__}: {exc}")
            return
        number = self.peers.setdefault(peer, len(self.peers) + 1)
        self.events.add(number, "received", f"{plural(len(data))}: {preview(data)}",
                        nbytes=len(data), peer=peer)
        try:
            reply = self.handler(data, peer)
            if reply is not None:
                self.sock.sendto(reply, peer)
                self.events.add(number, "sent", f"{plural(len(reply))}: {preview(reply)}",
                                nbytes=len(reply), peer=peer)
        except _PEER_ERRORS as exc:
            self.events.add(number, "dropped", f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            self._record_error(number, exc)

    def _quiet(self) -> bool:
        # Quiet: no datagram is queued and none is being handled. The order matters: look
        # for a queued datagram first, then at _busy. A datagram the thread takes between
        # the two looks was marked busy before recvfrom(), so the second look sees it;
        # the other order could miss it (not busy yet, then no longer queued).
        if any_readable([self.sock]):
            return False
        with self._busy_lock:
            return not self._busy


def serve_udp(handler, *, name: str | None = None, host: str = LOOPBACK, port: int = 0,
              timeout: float = 60.0) -> UDPServer:
    """Start a UDP server for *handler(data, peer)*, replacing any of the same name.

    >>> def upper(data, peer):
    ...     return data.upper()
    >>> with serve_udp(upper) as server, socket.socket(type=socket.SOCK_DGRAM) as s:
    ...     s.settimeout(2)
    ...     s.sendto(b"hi", server.address)         # 2 bytes sent
    ...     s.recv(100)
    2
    b'HI'
    >>> server.log()
    [peer 1] received 2 bytes: 'hi'
    [peer 1] sent 2 bytes: 'HI'
    [server] stopped
    """
    name = name or _name_of(handler)
    return SERVERS.replace(name, lambda: UDPServer(handler, host=host, port=port,
                                            timeout=timeout, name=name))

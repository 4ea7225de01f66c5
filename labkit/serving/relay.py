"""A UDP relay that loses and reorders datagrams, the same way every run.

    server = serve_udp(handler)
    relay = serve_relay(server.address, loss=0.3, reorder=0.2, seed=1)
    sock.sendto(b"#1", relay.address)        # the client talks to the relay
    relay.report()                           # what it forwarded, lost, reordered

On loopback no datagram is ever lost or overtaken, so a client that forgets a
timeout or a retry works by luck. The relay takes the luck away. It listens on
its own port; each datagram from a client goes on to *upstream* (from a socket
of the relay's own, one per client, so the server's replies find their way
back) and each reply goes back to that client. On the way, in each direction:

- a datagram whose number (1, 2, 3 ... counted per direction) is in *drop*
  (requests) or *drop_replies* (replies) is lost;
- otherwise it is lost with probability *loss*;
- otherwise, with probability *reorder*, it is held back and sent just after
  the next datagram going the same way (or after *hold* seconds if none comes).

The chances come from ``random.Random`` seeded with *seed* and the direction,
two draws per datagram whatever happens, so for the same datagrams in the same
order the relay makes the same choices every run. Like the servers, it binds in
the caller's thread (127.0.0.1, port 0), runs one daemon thread, never prints,
and ``stop()`` is quick, idempotent and joins the thread.
"""

from __future__ import annotations

import random
import selectors
import socket
import threading
import time

from labkit.serving.events import preview
from labkit.serving.base import LOOPBACK, any_readable, BaseServer, check_address, SERVERS

__all__ = ["Relay", "serve_relay"]

_UP, _DOWN = "requests", "replies"
_KEEP = 10_000  # datagrams remembered per direction for report(label=...)


class _Direction:
    """The choices and the record of one direction (requests or replies)."""

    def __init__(self, name: str, seed, drop):
        self.name = name
        self.noun = {"requests": "request", "replies": "reply"}[name]
        self.rng = random.Random(f"{seed}/{name}")  # a str seed is the same in every process
        self.drop = frozenset(drop)
        self.arrived = 0
        self.forwarded: list[int] = []  # datagram numbers, in the order they went on
        self.lost: list[int] = []
        self.reordered: list[int] = []
        self.data: dict[int, bytes] = {}  # the first _KEEP datagrams, for report(label=...)
        self.held = None  # (number, data, send, peer number, deadline) of the one held back


class Relay(BaseServer):
    """Forward UDP datagrams to *upstream* and back, losing and reordering some.

    >>> from labkit.serving import UDPServer
    >>> with UDPServer(lambda data, peer: data.upper()) as server:
    ...     with Relay(server, drop=[1]) as relay, socket.socket(type=socket.SOCK_DGRAM) as s:
    ...         s.settimeout(2)
    ...         s.sendto(b"one", relay.address)     # request 1: dropped on the way
    ...         s.sendto(b"two", relay.address)
    ...         s.recv(100)
    3
    3
    b'TWO'
    >>> relay.report()
    requests arrived   2, went on in the order 2; lost 1
    replies  arrived   1, went on in the order 1
    """

    unit = "peer"

    def __init__(self, upstream, *, loss: float = 0.0, reorder: float = 0.0, seed=0,
                 drop=(), drop_replies=(), hold: float = 0.2, host: str = LOOPBACK,
                 port: int = 0, name: str = "relay"):
        for what, p in (("loss", loss), ("reorder", reorder)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{what} must be a probability between 0 and 1, not {p!r}")
        upstream = tuple(upstream.address if hasattr(upstream, "address") else upstream)[:2]
        check_address(*upstream)
        super().__init__(name, host, port, timeout=60.0)
        self.upstream = upstream
        self.loss, self.reorder, self.seed, self.hold = loss, reorder, seed, hold
        self.directions = {_UP: _Direction(_UP, seed, drop),
                           _DOWN: _Direction(_DOWN, seed, drop_replies)}
        self.peers: dict[tuple, int] = {}
        self._upstream_socks: dict[tuple, socket.socket] = {}
        # what wait_quiet() reads, written under _state by the relay's thread: waiting in
        # select(), how many times it has woken, and the upstream sockets
        self._state = threading.Lock()
        self._idle = False
        self._turn = 0
        self.sock = self._open(socket.SOCK_DGRAM, host, port)
        with self._starting():
            self._selector = selectors.DefaultSelector()
            self._selector.register(self.sock, selectors.EVENT_READ, None)
            self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            self._note_address(host)
            self._start_thread(self._loop, f"labkit-{self.name}-relay")

    # -- the loop ------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                with self._state:
                    self._idle = True
                ready = self._selector.select(self._next_deadline())
                with self._state:
                    self._idle = False
                    self._turn += 1
                self._release_expired()  # whatever was held back long enough goes on now
                for key, _ in ready:
                    if key.data == "wake":
                        return
                    if key.data is None:
                        self._from_client()
                    else:
                        self._from_upstream(key.fileobj, key.data)
        except Exception as exc:  # a bug in the relay: keep it for the owner
            self._record_error(0, exc)
        finally:
            with self._state:
                self._idle = True
                upstream = list(self._upstream_socks.values())
            self._selector.close()
            for sock in upstream:
                sock.close()

    def _next_deadline(self) -> float:
        deadlines = [d.held[4] for d in self.directions.values() if d.held]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else 1.0

    def _release_expired(self) -> None:
        now = time.monotonic()
        for direction in self.directions.values():
            if direction.held and direction.held[4] <= now:
                number, data, send, peer_number, _ = direction.held
                direction.held = None
                self._send(direction, number, data, send, peer_number)

    def _from_client(self) -> None:
        try:
            data, peer = self.sock.recvfrom(65535)
        except OSError as exc:
            self.events.add(0, "note", f"{type(exc).__name__}: {exc}")
            return
        if peer not in self.peers:
            self.peers[peer] = len(self.peers) + 1
            up = socket.socket(socket.AF_INET6 if ":" in self.upstream[0] else socket.AF_INET,
                               socket.SOCK_DGRAM)
            up.connect(self.upstream)
            up.setblocking(False)
            with self._state:
                self._upstream_socks[peer] = up
            self._selector.register(up, selectors.EVENT_READ, peer)
        up = self._upstream_socks[peer]
        self._pass(self.directions[_UP], self.peers[peer], data, up.send)

    def _from_upstream(self, up: socket.socket, peer) -> None:
        try:
            data = up.recv(65535)
        except OSError as exc:  # e.g. ECONNREFUSED: nothing listens upstream
            self.events.add(self.peers[peer], "note", f"from upstream: {type(exc).__name__}: {exc}")
            return
        self._pass(self.directions[_DOWN], self.peers[peer], data,
                   lambda d: self.sock.sendto(d, peer))

    def _pass(self, direction: _Direction, peer_number: int, data: bytes, send) -> None:
        """Decide one datagram's fate: lost, held back, or sent on (then any held one)."""
        direction.arrived += 1
        number = direction.arrived
        if number <= _KEEP:
            direction.data[number] = data
        lose, hold = direction.rng.random(), direction.rng.random()  # always two draws
        what = f"{direction.noun} {number} ({len(data)} bytes: {preview(data, 24)})"
        if number in direction.drop or lose < self.loss:
            direction.lost.append(number)
            self.events.add(peer_number, "lost", what, nbytes=len(data))
            return
        if hold < self.reorder and direction.held is None:
            direction.held = (number, data, send, peer_number, time.monotonic() + self.hold)
            direction.reordered.append(number)
            self.events.add(peer_number, "held back", what, nbytes=len(data))
            return
        self._send(direction, number, data, send, peer_number, what)
        if direction.held:
            held = direction.held
            direction.held = None
            self._send(direction, *held[:4])

    def _send(self, direction, number, data, send, peer_number, what="") -> None:
        # recorded before it is sent: whatever a client has received is in the record
        direction.forwarded.append(number)
        event = self.events.add(peer_number, "forwarded",
                                what or f"{direction.noun} {number} (held back until now)",
                                nbytes=len(data))
        try:
            send(data)
        except OSError as exc:
            direction.forwarded.remove(number)
            self.events.add(peer_number, "note",
                            f"could not send {direction.noun} {number} on "
                            f"(event {event.seq}): {type(exc).__name__}: {exc}")

    # -- what happened -------------------------------------------------------
    def report(self, label=None) -> "_Report":
        """What the relay did in each direction, after waiting for it to go quiet.

        Datagrams are numbered 1, 2, 3 ... per direction, in the order they reached
        the relay. With *label* (a function of a datagram's bytes returning a str)
        each is shown by its label instead, e.g. the text of a numbered request.
        """
        self.wait_quiet()
        lines = []
        for d in self.directions.values():
            def name(number, d=d):
                if label is None or number not in d.data:
                    return str(number)
                return str(label(d.data[number]))
            line = (f"{d.name:<8} arrived {d.arrived:>3}, went on in the order "
                    f"{' '.join(map(name, d.forwarded)) or '-'}")
            if d.lost:
                line += f"; lost {' '.join(map(name, d.lost))}"
            lines.append(line)
        return _Report("\n".join(lines))

    @property
    def stats(self) -> dict:
        """Counts per direction: arrived, forwarded, lost, reordered."""
        return {d.name: {"arrived": d.arrived, "forwarded": len(d.forwarded),
                         "lost": len(d.lost), "reordered": len(d.reordered)}
                for d in self.directions.values()}

    def arrival_times(self, direction: str = _UP) -> list[float]:
        """When each datagram going *direction* arrived (monotonic seconds), from the log."""
        kind = self.directions[direction].noun + " "
        return [e.time for e in self.events.snapshot()
                if e.kind in ("lost", "held back", "forwarded") and e.detail.startswith(kind)
                and not e.detail.endswith("(held back until now)")]

    def wait_quiet(self, timeout: float = 1.0) -> bool:
        """Wait until nothing is queued, being handled or held back."""
        deadline = time.monotonic() + timeout + self.hold
        while not self._stopped:
            # Quiet: the thread waits in select(), nothing is held back or readable, and it
            # did not wake up while we looked (the same turn before and after).
            with self._state:
                idle, turn, socks = self._idle, self._turn, [self.sock, *self._upstream_socks.values()]
            if idle and not any(d.held for d in self.directions.values()) \
                    and not any_readable(socks):
                with self._state:
                    if self._idle and self._turn == turn:
                        return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True


class _Report(str):
    """Plain text that shows itself without quotes in a notebook."""

    def __repr__(self) -> str:
        return str(self)


def serve_relay(upstream, *, loss: float = 0.0, reorder: float = 0.0, seed=0, drop=(),
                drop_replies=(), hold: float = 0.2, name: str = "relay", host: str = LOOPBACK,
                port: int = 0) -> Relay:
    """Start a :class:`Relay` in front of *upstream*, replacing any relay of the same name.

    >>> from labkit import serve_udp
    >>> with serve_udp(lambda data, peer: None) as server:      # a server that never answers
    ...     with serve_relay(server, loss=0.5, seed=1) as relay:
    ...         with socket.socket(type=socket.SOCK_DGRAM) as s:
    ...             for n in range(1, 7):
    ...                 _ = s.sendto(b"#%d" % n, relay.address)
    ...         relay.report()                   # the same losses on every run with seed=1
    requests arrived   6, went on in the order 2 4; lost 1 3 5 6
    replies  arrived   0, went on in the order -
    """
    return SERVERS.replace(name, lambda: Relay(upstream, loss=loss, reorder=reorder, seed=seed,
                                        drop=drop, drop_replies=drop_replies, hold=hold,
                                        host=host, port=port, name=name))

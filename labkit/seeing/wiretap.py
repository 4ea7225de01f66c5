"""A wiretap: a TCP relay that passes every byte on unchanged and remembers what passed.

    server = labkit.serve(labkit.echo)
    tap = labkit.serve_wiretap(server)            # listens on 127.0.0.1, a port of its own
    labkit.echo_client(tap, "你好")                # connect to the tap, not the server
    tap.show()                                    # what went each way, readable
    tap.records("client → server")                # the TLS records, when it was TLS

It is the packet view of lesson 12 without root or a capture tool: the client connects
to the tap, the tap connects to the real server, and forwards both ways.

Theory of operation
-------------------
Like the other labkit servers, the tap binds in the caller's thread and accepts in a
daemon thread. Each accepted client gets one thread that opens the upstream
connection and then waits in a selector on both sockets: whatever one side sends is
recorded, then sent on whole with ``sendall``. An end of stream is passed on as a
half-close (``shutdown(SHUT_WR)``), so a client that closes its writing side still gets
its reply; a reset is passed on as a reset, and so is a server that cannot be reached
(the client's connect() to the tap has succeeded by then, so it cannot be refused).
``stop()`` shuts both sockets of every relayed connection, so no thread waits on a
silent peer.

What passed is kept as chunks (connection, direction, bytes) in arrival order.
:func:`parse_records` reads TLS record headers (type, version, length) out of a byte
stream, so ``show()`` can draw encrypted traffic as records rather than noise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import selectors
import socket
import struct
import threading

from labkit.serving.base import LOOPBACK, SERVERS, BaseServer, any_readable, check_address
from labkit.serving.events import plural, preview

__all__ = ["Wiretap", "serve_wiretap", "Chunk", "TLSRecord", "parse_records", "looks_like_tls"]

UP, DOWN = "client → server", "server → client"

_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data",
          24: "heartbeat"}
_VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
             0x0304: "TLS 1.3"}
_HANDSHAKES = {1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket",
               8: "EncryptedExtensions", 11: "Certificate", 13: "CertificateRequest",
               15: "CertificateVerify", 20: "Finished"}
_HEADER = struct.Struct("!BHH")  # content type, protocol version, payload length
_MAX_PAYLOAD = 2 ** 14 + 2048  # the largest a TLS record may carry (RFC 5246 6.2.3)


@dataclasses.dataclass(frozen=True)
class TLSRecord:
    """One TLS record: its header, and its payload (the whole, or what has arrived).

    >>> TLSRecord(23, 0x0303, 2, b"hi").describe()
    'application_data, TLS 1.2, 2 bytes'
    """

    type: int
    version: int
    length: int
    payload: bytes

    @property
    def type_name(self) -> str:
        return _TYPES.get(self.type, f"type {self.type}")

    @property
    def version_name(self) -> str:
        return _VERSIONS.get(self.version, f"0x{self.version:04x}")

    def describe(self) -> str:
        """e.g. ``handshake (ClientHello), TLS 1.0, 512 bytes``: header fields, and for a
        handshake record in the clear, the message's name."""
        name = self.type_name
        if self.type == 22 and self.payload[:1] and self.payload[0] in _HANDSHAKES:
            name += f" ({_HANDSHAKES[self.payload[0]]})"
        return f"{name}, {self.version_name}, {plural(self.length)}"


def looks_like_tls(data: bytes) -> bool:
    """True when *data* starts with a plausible TLS record header.

    >>> looks_like_tls(bytes([22, 3, 1, 2, 0]) + b"..."), looks_like_tls("你好".encode())
    (True, False)
    """
    if len(data) < _HEADER.size:
        return False
    kind, version, length = _HEADER.unpack_from(data)
    return kind in _TYPES and version >> 8 == 3 and version & 0xFF <= 4 and length <= _MAX_PAYLOAD


def parse_records(data: bytes) -> tuple[list[TLSRecord], bytes]:
    """Split a byte stream into TLS records; return them and the bytes of an unfinished one.

    >>> records, rest = parse_records(bytes([23, 3, 3, 0, 2]) + b"hi" + bytes([21, 3]))
    >>> [r.describe() for r in records], rest
    (['application_data, TLS 1.2, 2 bytes'], b'\\x15\\x03')

    Raises ValueError where the stream stops looking like TLS.
    """
    records, at = [], 0
    while len(data) - at >= _HEADER.size:
        if not looks_like_tls(data[at:at + _HEADER.size]):
            raise ValueError(f"not a TLS record header at byte {at}: {data[at:at + 5].hex(' ')}")
        kind, version, length = _HEADER.unpack_from(data, at)
        end = at + _HEADER.size + length
        if end > len(data):
            break
        records.append(TLSRecord(kind, version, length, data[at + _HEADER.size:end]))
        at = end
    return records, data[at:]


@dataclasses.dataclass(frozen=True)
class Chunk:
    """What one recv() of the tap got: connection number, direction, bytes.

    >>> Chunk(1, UP, b"hi").data
    b'hi'
    """

    conn: int
    direction: str
    data: bytes


class Wiretap(BaseServer):
    """Relay TCP connections to *upstream* and record the bytes that pass each way.

    >>> from labkit import serve, echo, echo_client
    >>> with serve(echo) as server, Wiretap(server) as tap:
    ...     echo_client(tap, "你好")
    ...     print(tap.show())
    '欢迎访问>>>>你好\\r\\n'
    [conn 1] client → server  6 bytes: '你好'
    [conn 1] server → client  24 bytes: '欢迎访问>>>>你好\\r\\n'
    """

    def __init__(self, upstream, *, host: str = LOOPBACK, port: int = 0,
                 timeout: float = 30.0, name: str = "wiretap"):
        upstream = tuple(upstream.address if hasattr(upstream, "address") else upstream)[:2]
        check_address(*upstream)
        super().__init__(name, host, port, timeout)
        self.upstream = upstream
        self.chunks: list[Chunk] = []
        self._pairs: dict[int, list[socket.socket]] = {}
        self._done: set[int] = set()
        self._accepted = 0
        self.sock = self._open(socket.SOCK_STREAM, host, port)
        with self._starting():
            self.sock.setblocking(False)
            self._note_address(host)
            self._start_thread(self._accept_loop, f"labkit-{name}-accept")

    # -- relaying ------------------------------------------------------------
    def _accept_loop(self) -> None:
        for _ in self._each_readable(self.sock):
            with self._lock:
                try:
                    client, _peer = self.sock.accept()
                except OSError:
                    continue
                self._accepted += 1
                number = self._accepted
                self._pairs[number] = [client]
            self._start_thread(self._relay, f"labkit-{self.name}-{number}", number, client)

    def _relay(self, number: int, client: socket.socket) -> None:
        try:
            client.settimeout(self.timeout)
            try:
                server = socket.create_connection(self.upstream, timeout=self.timeout)
            except OSError as exc:  # refused, or reset before connect() returned
                self.events.add(number, "note", f"could not reach the server: {exc}")
                _reset(client)  # the nearest a relay can come to what the client would get
                return
            with self._lock:
                self._pairs[number].append(server)
                stopping = self._stopping.is_set()
            if not stopping:
                self._pump(number, client, server)
        except Exception as exc:  # a bug in the tap: keep it for the owner
            self._record_error(number, exc)
        finally:
            with self._lock:
                socks = self._pairs.pop(number, [])
                self._done.add(number)
            for sock in socks:
                sock.close()

    def _pump(self, number: int, client: socket.socket, server: socket.socket) -> None:
        other = {client: (server, UP), server: (client, DOWN)}
        with selectors.DefaultSelector() as sel:
            for sock in other:
                sel.register(sock, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            open_ends = 2
            while open_ends and not self._stopping.is_set():
                ready = sel.select(self.timeout)
                if not ready:
                    self.events.add(number, "timed out", f"silent for {self.timeout:g} s")
                    return
                for key, _ in ready:
                    if key.fileobj is self._wake_r:
                        return
                    source = key.fileobj
                    target, direction = other[source]
                    try:
                        data = source.recv(65536)
                    except OSError as exc:  # a reset: pass it on as one
                        self.events.add(number, "note", f"{direction}: {type(exc).__name__}")
                        _reset(target)
                        return
                    if not data:
                        sel.unregister(source)
                        open_ends -= 1
                        with contextlib.suppress(OSError):
                            target.shutdown(socket.SHUT_WR)
                        continue
                    with self._lock:  # recorded before it is sent: what arrived is in the record
                        self.chunks.append(Chunk(number, direction, data))
                    try:
                        target.sendall(data)
                    except OSError as exc:
                        self.events.add(number, "note", f"{direction}: {type(exc).__name__}")
                        _reset(source)
                        return

    def _interrupt(self) -> None:
        with self._lock:
            socks = [s for pair in self._pairs.values() for s in pair]
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _quiet(self) -> bool:
        if any_readable([self.sock]):  # a client waits to be accepted
            return False
        with self._lock:
            return self._accepted == len(self._done)

    # -- what passed ---------------------------------------------------------
    def data(self, direction: str = UP, conn: int | None = None) -> bytes:
        """Every byte that went *direction* (UP or DOWN), on connection *conn* (default:
        the last one)."""
        chunks = self._snapshot()
        if conn is None:
            conn = max((c.conn for c in chunks), default=0)
        return b"".join(c.data for c in chunks if c.conn == conn and c.direction == direction)

    def records(self, direction: str = UP, conn: int | None = None) -> list[TLSRecord]:
        """The TLS records that went *direction* on connection *conn* (default: the last)."""
        return parse_records(self.data(direction, conn))[0]

    def _snapshot(self) -> list[Chunk]:
        with self._lock:
            return list(self.chunks)

    def clear(self) -> None:
        """Forget what passed so far (the connection numbers go on counting)."""
        with self._lock:
            self.chunks.clear()

    def show(self, *, wait: float = 3.0, limit: int = 40) -> "_Text":
        """What passed, connection by connection, in arrival order, after waiting for every
        relayed connection to end. Plain bytes show as text; a direction that speaks TLS
        shows one line per record: type, version, length, and its first bytes in hex."""
        self.wait_quiet(wait)
        chunks = self._snapshot()
        lines = []
        for conn in sorted({c.conn for c in chunks}):
            mine = [c for c in chunks if c.conn == conn]
            streams = {d: b"".join(c.data for c in mine if c.direction == d) for d in (UP, DOWN)}
            tls = {d: looks_like_tls(s) for d, s in streams.items()}
            shown = {UP: 0, DOWN: 0}  # bytes of each direction already shown
            seen = {UP: 0, DOWN: 0}   # bytes of each direction that have arrived so far
            for chunk in mine:
                d = chunk.direction
                seen[d] += len(chunk.data)
                if not tls[d]:
                    lines.append(f"[conn {conn}] {d}  {plural(len(chunk.data))}: "
                                 f"{preview(chunk.data, limit)}")
                    continue
                try:
                    records, _ = parse_records(streams[d][shown[d]:seen[d]])
                except ValueError:
                    records = []
                for record in records:
                    shown[d] += 5 + record.length
                    head = record.payload[:8].hex(" ")
                    more = " …" if record.length > 8 else ""
                    lines.append(f"[conn {conn}] {d}  TLS record: {record.describe()}"
                                 f"  [{head}{more}]")
        return _Text("\n".join(lines) or "(nothing has passed)")


    def diagram(self, conn: int | None = None, *, wait: float = 3.0, limit: int = 14):
        """A picture of what passed on connection *conn* (default: the last): one arrow per
        piece of plain text, or per TLS record, in the order they reached the tap. What goes
        in the clear is drawn in red, encrypted application_data in grey."""
        self.wait_quiet(wait)
        return _draw(self.arrows(conn, wait=0), limit)

    def arrows(self, conn: int | None = None, *, wait: float = 3.0) -> list[tuple]:
        """What diagram() draws: ``(direction, label, in_the_clear)`` for each piece of plain
        text or each TLS record on connection *conn* (default: the last), in arrival order."""
        self.wait_quiet(wait)
        chunks = self._snapshot()
        if conn is None:
            conn = max((c.conn for c in chunks), default=0)
        mine = [c for c in chunks if c.conn == conn]
        streams = {d: b"".join(c.data for c in mine if c.direction == d) for d in (UP, DOWN)}
        tls = {d: looks_like_tls(s) for d, s in streams.items()}
        items, shown, seen = [], {UP: 0, DOWN: 0}, {UP: 0, DOWN: 0}
        for chunk in mine:
            d = chunk.direction
            seen[d] += len(chunk.data)
            if not tls[d]:
                items.append((d, f"{plural(len(chunk.data))}: {preview(chunk.data, 24)}", True))
                continue
            try:
                records, _ = parse_records(streams[d][shown[d]:seen[d]])
            except ValueError:
                records = []
            for record in records:
                shown[d] += 5 + record.length
                # in TLS 1.3 only application_data is encrypted: the hellos are in the clear
                items.append((d, record.describe(), record.type != 23))
        return items


def _draw(items, limit: int):
    from labkit.seeing.figures import _drawable, _figure, _fonts

    rows = items[:limit]
    height = max(len(rows), 1) + 1
    inches = 1.1 + 0.3 * height  # the figure grows with the rows: its size says how many
    fig = _figure((7.6, inches))
    ax = fig.add_axes((0.02, 0.02, 0.96, 1 - 0.75 / inches))
    families, _ = _fonts()
    ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(height, -0.6)
    ax.axis("off")
    for x, name in ((0, "client"), (0.5, "wiretap"), (1, "server")):
        ax.plot([x, x], [0, height - 0.4], color="#57606a" if x != 0.5 else "#b35900",
                linestyle="-" if x != 0.5 else ":", linewidth=1.2)
        ax.text(x, -0.25, name, ha="center", va="bottom", fontsize=10, family=families)
    for row, (direction, label, readable) in enumerate(rows, start=1):
        start, end = (0, 1) if direction == UP else (1, 0)
        colour = "#cf222e" if readable else "#8c959f"
        ax.annotate("", xy=(end, row), xytext=(start, row),
                    arrowprops={"arrowstyle": "->", "color": colour, "linewidth": 1.4})
        ax.text(0.5, row - 0.12, _drawable(label), ha="center", va="bottom", fontsize=8,
                family=families, color="#1f2328" if readable else "#57606a",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    if len(items) > limit:
        ax.text(0.5, height - 0.3, f"… and {len(items) - limit} more", ha="center",
                fontsize=8, family=families)
    ax.set_title("red: in the clear · grey: encrypted", fontsize=9, family=families,
                 pad=16)
    return fig


class _Text(str):
    """Plain text that shows itself without quotes in a notebook."""

    def __repr__(self) -> str:
        return str(self)


def _reset(sock: socket.socket) -> None:
    """Close *sock* so that its peer gets a reset (RST), as the other side did."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


def serve_wiretap(upstream, *, name: str = "wiretap", host: str = LOOPBACK,
                  port: int = 0, timeout: float = 30.0) -> Wiretap:
    """Start a :class:`Wiretap` in front of *upstream*, replacing any of the same name.

    >>> from labkit import serve, echo, echo_client
    >>> with serve(echo) as server, serve_wiretap(server) as tap:
    ...     echo_client(tap, "你好")
    ...     tap.data(UP).decode()
    '欢迎访问>>>>你好\\r\\n'
    '你好'
    """
    return SERVERS.replace(name, lambda: Wiretap(upstream, host=host, port=port, timeout=timeout,
                                          name=name))

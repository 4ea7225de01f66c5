"""A small load generator: N echo clients at once, their latency and throughput.

    result = measure_echo(server, clients=100, requests=10)
    result                  # 100 clients, 1000 requests, all correct: ... requests/s, median ... ms
    result.correct == result.requests

How it measures. First every client connects and makes one round trip on its
own, one client after another: that proves the server has accepted it (a
listener's queue overflowing would otherwise add a one-second retransmit to
the figures) and it warms up the server. Then the clock starts: every client
sends its first request at once, and each time a client's whole reply has
arrived it records the round trip's latency and sends its next request, so
there are always *clients* requests in flight, one per client. The clients
are non-blocking sockets driven by one ``selectors`` loop in the calling
thread, so 200 clients cost 200 sockets, not 200 threads.

Every reply is checked against the echo protocol (``欢迎访问>>>>`` + text +
``\\r\\n``). A server may answer one request in several pieces (it replies to
each piece it received); the pieces are joined before the text is compared.

The figures depend on the machine and on whatever else runs on it: compare
servers measured in the same run, never numbers from different days.
"""

from __future__ import annotations

import dataclasses
import selectors
import socket
import statistics
import time

from labkit.serving.clients import to_address
from labkit.errors import LabTimeoutError
from labkit.wire.protocols import ECHO_PREFIX

__all__ = ["LoadResult", "measure_echo", "sweep_echo", "load_table", "queue_table", "plot_load"]

_PREFIX = ECHO_PREFIX.encode("utf-8")
COUNTS = (1, 10, 50, 100)


@dataclasses.dataclass
class LoadResult:
    """What one measurement found. Latencies are in seconds, one per request.

    >>> r = LoadResult(clients=10, requests=100, correct=100, seconds=0.05,
    ...                latencies=[0.004] * 100)
    >>> r
    10 clients, 100 requests, all correct: 2,000 requests/s, median latency 4.00 ms, 95th percentile 4.00 ms
    >>> r.throughput, r.queue_ms
    (2000.0, 5.0)
    """

    clients: int
    requests: int
    correct: int
    seconds: float
    latencies: list = dataclasses.field(repr=False, default_factory=list)

    @property
    def throughput(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def median_ms(self) -> float:
        return 1000 * statistics.median(self.latencies) if self.latencies else 0.0

    @property
    def mean_ms(self) -> float:
        return 1000 * statistics.fmean(self.latencies) if self.latencies else 0.0

    @property
    def queue_ms(self) -> float:
        """clients / throughput in ms: the mean latency that queueing alone predicts.

        Each client keeps one request in flight, so its latencies add up to the time
        from its first request to its last reply, at most the whole run: the mean
        latency can never exceed this, and comes close when the server is fair.
        """
        return 1000 * self.clients / self.throughput if self.throughput else 0.0

    @property
    def p95_ms(self) -> float:
        """The latency that 95 % of the requests beat."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    def __repr__(self) -> str:
        ok = "all correct" if self.correct == self.requests else f"{self.correct} correct"
        return (f"{self.clients} clients, {self.requests} requests, {ok}: "
                f"{self.throughput:,.0f} requests/s, median latency {self.median_ms:.2f} ms, "
                f"95th percentile {self.p95_ms:.2f} ms")


class _Client:
    __slots__ = ("sock", "buf", "got", "sent_at", "left", "ok")

    def __init__(self, sock, requests):
        self.sock, self.left = sock, requests
        self.buf, self.got, self.sent_at, self.ok = bytearray(), bytearray(), 0.0, True


def _take_replies(client: _Client, want: int) -> bool:
    """Move complete reply pieces from buf to got; True once a whole reply is there."""
    buf = client.buf
    while True:
        end = buf.find(b"\r\n")
        if end < 0:
            break
        piece = bytes(buf[:end])
        del buf[:end + 2]
        if piece.startswith(_PREFIX):
            client.got += piece[len(_PREFIX):]
        else:
            client.ok = False
            client.got += piece
    return len(client.got) >= want


def _send(sock: socket.socket, data: bytes, timeout: float) -> None:
    n = sock.send(data)
    if n < len(data):  # the send buffer was full: finish in blocking mode
        sock.settimeout(timeout)
        sock.sendall(data[n:])
        sock.setblocking(False)


def _round_trip(sock: socket.socket, data: bytes, want: bytes, timeout: float) -> bool:
    """One blocking request and its reply: used to make sure the server took the client."""
    sock.sendall(data)
    client = _Client(sock, 0)
    deadline = time.monotonic() + timeout
    while not _take_replies(client, len(want)):
        sock.settimeout(max(1e-3, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            return False
        client.buf += chunk
    return client.ok and client.got == want and not client.buf


def measure_echo(target, *, clients: int = 10, requests: int = 10, message: str = "你好",
            timeout: float = 10.0) -> LoadResult:
    """Run *clients* echo clients at once, each making *requests* round trips.

    >>> from labkit import serve, echo
    >>> with serve(echo) as server:
    ...     result = measure_echo(server, clients=5, requests=10)
    >>> result.requests, result.correct, result.throughput > 0
    (50, 50, True)

    Shown in a cell, the result reads ``5 clients, 50 requests, all correct: 5,564
    requests/s, median latency 0.76 ms, ...``: the figures vary from run to run.

    *target* is a server, ``(host, port)`` or a port. Raises LabTimeoutError if
    no reply arrives for *timeout* seconds.
    """
    if clients < 1 or requests < 1:
        raise ValueError(f"clients and requests must be at least 1, not {clients} and {requests}")
    address = to_address(target)
    data = message.encode("utf-8")
    socks: list[socket.socket] = []
    sel = selectors.DefaultSelector()
    try:
        for _ in range(clients):  # one after another: each is accepted before the next
            sock = socket.create_connection(address, timeout=timeout)
            socks.append(sock)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if not _round_trip(sock, data, data, timeout):
                raise ConnectionError(f"the server at {address[0]}:{address[1]} "
                                      "does not answer like an echo server")
            sock.setblocking(False)
        return _run(sel, socks, data, requests, timeout)
    finally:
        sel.close()
        for sock in socks:
            sock.close()


def _run(sel, socks, data: bytes, requests: int, timeout: float) -> LoadResult:
    want = len(data)
    latencies: list[float] = []
    correct = 0
    clock = time.perf_counter
    start = clock()
    for sock in socks:
        client = _Client(sock, requests)
        sel.register(sock, selectors.EVENT_READ, client)
        client.sent_at = clock()
        _send(sock, data, timeout)
    busy = len(socks)
    last = start
    while busy:
        ready = sel.select(timeout)
        if not ready:
            raise LabTimeoutError(f"no reply for {timeout:g} s; {len(latencies)} of "
                                  f"{len(socks) * requests} requests were answered")
        for key, _ in ready:
            client = key.data
            chunk = client.sock.recv(65536)
            if not chunk:
                raise ConnectionError(
                    f"the server closed a connection after {len(latencies)} replies")
            client.buf += chunk
            if not _take_replies(client, want):
                continue
            last = clock()
            latencies.append(last - client.sent_at)
            if client.ok and client.got == data and not client.buf:
                correct += 1
            client.got.clear()
            client.ok = True
            client.left -= 1
            if client.left:
                client.sent_at = last
                _send(client.sock, data, timeout)
            else:
                sel.unregister(client.sock)
                busy -= 1
    return LoadResult(len(socks), len(latencies), correct, last - start, latencies)


def sweep_echo(target, counts=COUNTS, *, total: int = 500,
               message: str = "你好") -> list[LoadResult]:
    """``measure_echo`` for each number of clients in *counts*, about *total* requests each time.

    >>> from labkit import serve, echo
    >>> with serve(echo) as server:
    ...     results = sweep_echo(server, counts=(1, 5), total=20)
    >>> [(r.clients, r.requests) for r in results]
    [(1, 20), (5, 20)]
    """
    return [measure_echo(target, clients=n, requests=max(2, total // n), message=message)
            for n in counts]


def load_table(figures: dict) -> str:
    """A text table of ``{name: [LoadResult, ...]}``: requests/s and median latency per count.

    >>> r = LoadResult(clients=10, requests=100, correct=100, seconds=0.05,
    ...                latencies=[0.004] * 100)
    >>> print(load_table({"threads": [r]}))
    server           clients  requests/s  median ms   p95 ms
    threads               10       2,000       4.00     4.00
    """
    lines = [f"{'server':<16}{'clients':>8}{'requests/s':>12}{'median ms':>11}{'p95 ms':>9}"]
    for name, results in figures.items():
        for r in results:
            lines.append(f"{name:<16}{r.clients:>8}{r.throughput:>12,.0f}"
                         f"{r.median_ms:>11.2f}{r.p95_ms:>9.2f}")
    return "\n".join(lines)


def queue_table(figures: dict) -> str:
    """Mean latency beside clients / throughput, and their ratio (at most 1), per result.

    >>> r = LoadResult(clients=10, requests=100, correct=100, seconds=0.05,
    ...                latencies=[0.004] * 100)
    >>> print(queue_table({"threads": [r]}))
    server           clients  mean ms  clients/rate ms  ratio
    threads               10     4.00             5.00   0.80
    """
    lines = [f"{'server':<16}{'clients':>8}{'mean ms':>9}{'clients/rate ms':>17}{'ratio':>7}"]
    for name, results in figures.items():
        for r in results:
            ratio = r.mean_ms / r.queue_ms if r.queue_ms else 0.0
            lines.append(f"{name:<16}{r.clients:>8}{r.mean_ms:>9.2f}{r.queue_ms:>17.2f}"
                         f"{ratio:>7.2f}")
    return "\n".join(lines)


def plot_load(figures: dict):
    """Draw median latency and throughput against the number of clients; return the figure.

    >>> from labkit import serve, echo
    >>> with serve(echo) as server:
    ...     figures = {"threads": sweep_echo(server, counts=(1, 5), total=20)}
    >>> fig = plot_load(figures)              # doctest: +SKIP
    >>> [ax.get_title() for ax in fig.axes]   # doctest: +SKIP
    ['Latency', 'Throughput']

    (Skipped by doctest: importing matplotlib takes about a second.)
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, results in figures.items():
        counts = [r.clients for r in results]
        # a single result (the seed's one client) as a large star, not a dot lost under lines
        style = dict(marker="*", markersize=14, linestyle="none", zorder=3) \
            if len(results) == 1 else dict(marker="o")
        left.plot(counts, [r.median_ms for r in results], label=name, **style)
        right.plot(counts, [r.throughput for r in results], label=name, **style)
    left.set(xlabel="clients at once", ylabel="median latency (ms)", title="Latency")
    right.set(xlabel="clients at once", ylabel="requests per second", title="Throughput")
    right.set_ylim(bottom=0)
    left.set_ylim(bottom=0)
    left.legend()
    fig.tight_layout()
    return fig

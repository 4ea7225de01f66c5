"""Echo throughput with 100 clients at once: threads, selectors and asyncio; and bulk transfer.

Part 1 - many clients. Three echo servers, each in a process of its own so
that none shares the interpreter lock with the load generator:

- threaded:  labkit's ``TCPServer`` with ``labkit.echo`` (a thread per client,
  every recv and send logged);
- selectors: labkit's ``SelectServer`` (one thread, non-blocking sockets, only
  connections logged: ``log="connections"``);
- asyncio:   the baseline, ``asyncio.start_server`` with ``labkit.serving.echo_stream``
  run by ``asyncio.run``.

``labkit.measure_echo`` (in this process) connects CLIENTS clients and keeps
one request per client in flight, REQUESTS round trips each; every reply is
checked. The servers are measured in turn, RUNS times each, and the medians
are compared.

Part 2 - bulk transfer on loopback: a Python client ``sendall``s 1 MiB
buffers to a Python sink process that ``recv_into``s a preallocated 1 MiB
buffer, against ``iperf3`` (client and server, ``-l 1M``: the same write
size) moving the same number of bytes, RUNS times each, when iperf3 is
installed.

The last line is

    throughput ratio selectors/asyncio: R

Goal: R >= 0.8. Run: python bench/concurrency.py [--runs 5] [--clients 100]
(about 30 s on 2 cores). Not run by pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import labkit  # noqa: E402
from labkit.programs import Program  # noqa: E402

KINDS = ("threaded", "selectors", "asyncio")
CHUNK = 1 << 20


# -- the server processes -----------------------------------------------------------


def _serve(kind: str) -> None:
    """Run one server until the parent stops this process; print its address first."""
    if kind == "asyncio":
        asyncio.run(_serve_asyncio())
        return
    if kind == "threaded":
        server = labkit.TCPServer(labkit.echo, name="threaded", timeout=60)
    else:
        server = labkit.SelectServer(name="selectors", timeout=60, log="connections")
    with server:
        print(f"listening on {server.host}:{server.port}", flush=True)
        threading.Event().wait()  # until the parent stops this process


async def _serve_asyncio() -> None:
    server = await asyncio.start_server(labkit.serving.echo_stream, "127.0.0.1", 0, backlog=1024)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()  # until the parent stops this process


def _sink() -> None:
    """Accept connections; read each to EOF with recv_into, reply with the byte count."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while True:  # until the parent stops this process
            conn, _ = listener.accept()
            with conn:
                total = 0
                while n := conn.recv_into(view):
                    total += n
                conn.sendall(total.to_bytes(8, "big"))


class Child:
    """A server process of this script, run by labkit's program runner (the one the
    lessons use): ready when it prints its address; stop() ends it."""

    def __init__(self, *args: str):
        self.program = Program([sys.executable, __file__, *args], name=f"bench{args}",
                               ready="listening on", timeout=10)
        host, port = self.program.ready_line.split()[-1].rsplit(":", 1)
        self.address = (host, int(port))

    def stop(self) -> None:
        self.program.stop()


# -- part 1: many clients -----------------------------------------------------------------


def many_clients(runs: int, clients: int, requests: int) -> dict[str, float]:
    print(f"== echo, {clients} clients at once, {requests} round trips each, "
          f"{runs} runs per server (requests per second)")
    children = {kind: Child("--serve", kind) for kind in KINDS}
    figures: dict[str, list] = {kind: [] for kind in KINDS}
    try:
        for kind in KINDS:  # a warm-up round, not counted
            labkit.measure_echo(children[kind].address, clients=clients, requests=5)
        for run in range(runs):
            for kind in KINDS:
                result = labkit.measure_echo(children[kind].address, clients=clients,
                                         requests=requests)
                assert result.correct == result.requests == clients * requests, result
                figures[kind].append(result)
    finally:
        for child in children.values():
            child.stop()
    medians = {}
    for kind in KINDS:
        rates = [r.throughput for r in figures[kind]]
        medians[kind] = statistics.median(rates)
        latency = statistics.median(r.median_ms for r in figures[kind])
        print(f"{kind:<10} median {medians[kind]:>9,.0f} requests/s   "
              f"(runs: {', '.join(f'{x:,.0f}' for x in rates)}); median latency {latency:.2f} ms")
    return medians


# -- part 2: bulk transfer --------------------------------------------------------------


def _python_bulk(address, nbytes: int) -> float:
    """Send nbytes with sendall in 1 MiB buffers; return bytes per second (to the sink's ack)."""
    data = memoryview(bytes(CHUNK))
    with socket.create_connection(address, timeout=30) as sock:
        start = time.perf_counter()
        left = nbytes
        while left > 0:
            sock.sendall(data[:min(left, CHUNK)])
            left -= CHUNK
        sock.shutdown(socket.SHUT_WR)
        got = int.from_bytes(labkit.recv_exactly(sock, 8, timeout=30), "big")
        seconds = time.perf_counter() - start
    assert got == nbytes, (got, nbytes)
    return nbytes / seconds


def _free_port() -> int:
    # iperf3 cannot be told to use port 0 and report it; take a free one just before
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Iperf3Server:
    """``iperf3 -s`` on 127.0.0.1, kept running for every run, by labkit's program runner."""

    def __init__(self, iperf3: str):
        self.iperf3, self.port = iperf3, _free_port()
        self.program = Program([iperf3, "-s", "-B", "127.0.0.1", "-p", str(self.port),
                                "--forceflush"], name="iperf3", ready="listening", timeout=10)

    def rate(self, nbytes: int) -> float:
        """One iperf3 client run moving nbytes in 1 MiB writes; bytes per second received."""
        done = subprocess.run([self.iperf3, "-c", "127.0.0.1", "-p", str(self.port),
                               "-n", str(nbytes), "-l", str(CHUNK), "-J"],  # our write size
                              capture_output=True, text=True, timeout=60)
        return json.loads(done.stdout)["end"]["sum_received"]["bits_per_second"] / 8

    def stop(self) -> None:
        self.program.stop()


def bulk(runs: int, nbytes: int) -> None:
    print(f"== bulk transfer on loopback, {nbytes >> 20} MiB per run, {runs} runs (GB/s)")
    iperf3 = shutil.which("iperf3")
    sink = Child("--sink")
    reference = Iperf3Server(iperf3) if iperf3 else None
    rates: dict[str, list[float]] = {"python": [], "iperf3": []}
    try:
        _python_bulk(sink.address, nbytes // 4)  # warm-up
        for _ in range(runs):  # alternating, so that a busy moment hurts both alike
            rates["python"].append(_python_bulk(sink.address, nbytes))
            if reference:
                rates["iperf3"].append(reference.rate(nbytes))
    finally:
        sink.stop()
        if reference:
            reference.stop()
    medians = {name: statistics.median(r) for name, r in rates.items() if r}
    notes = {"python": "; sendall / recv_into, 1 MiB buffers", "iperf3": "; -l 1M"}
    for name, median in medians.items():
        print(f"{name:<10} median {median / 1e9:6.2f} GB/s  "
              f"(runs: {', '.join(f'{r / 1e9:.2f}' for r in rates[name])}){notes[name]}")
    if reference:
        print(f"bulk ratio python/iperf3: {medians['python'] / medians['iperf3']:.2f}")
    else:
        print("iperf3 is not installed: bulk comparison skipped (apt-get install iperf3)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--requests", type=int, default=300, help="round trips per client")
    parser.add_argument("--bulk-mib", type=int, default=1024)
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args.serve)
    if args.sink:
        return _sink()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {sys.platform}")
    started = time.monotonic()
    bulk(args.runs, args.bulk_mib << 20)
    medians = many_clients(args.runs, args.clients, args.requests)
    print(f"({time.monotonic() - started:.1f} s)")
    print(f"throughput ratio selectors/asyncio: {medians['selectors'] / medians['asyncio']:.2f}")


if __name__ == "__main__":
    main()

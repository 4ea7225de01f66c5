"""Start-to-connectable and stop() of labkit's TCP server against socketserver.

Baseline: ``socketserver.ThreadingTCPServer`` served by ``serve_forever`` in a
thread, stopped with ``shutdown()`` and ``server_close()`` (and the thread
joined), which is how the standard library runs a background server.

Each repetition: construct and start the server, connect (the time until the
connection is accepted is "start"), do one echo round trip, close the client,
then stop the server ("stop"). Both servers run in the same process, in
alternation, REPS times each; the medians are printed, and the last line is

    stop ratio labkit/socketserver: R

Goal: R <= 0.05. Run: python bench/lifecycle.py [--reps 50]
"""

from __future__ import annotations

import argparse
import socket
import socketserver
import statistics
import threading
import time

import labkit


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(1024):
            self.request.sendall(data)


class _Stdlib:
    name = "socketserver"

    def __init__(self):
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _EchoHandler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.address = self.server.server_address

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class _Labkit:
    name = "labkit"

    def __init__(self):
        self.server = labkit.TCPServer(lambda conn: _echo_bytes(conn))
        self.address = self.server.address

    def stop(self):
        self.server.stop()


def _echo_bytes(conn):
    while data := conn.recv(1024):
        conn.sendall(data)


def one_round(kind) -> tuple[float, float]:
    t0 = time.perf_counter()
    server = kind()
    with socket.create_connection(server.address, timeout=5) as client:
        t_start = time.perf_counter() - t0
        client.sendall(b"ping")
        assert client.recv(16) == b"ping"
    t1 = time.perf_counter()
    server.stop()
    return t_start, time.perf_counter() - t1


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50)
    reps = parser.parse_args(argv).reps
    times = {kind.name: ([], []) for kind in (_Labkit, _Stdlib)}
    for _ in range(reps):
        for kind in (_Labkit, _Stdlib):  # alternate, so drift hits both alike
            start, stop = one_round(kind)
            times[kind.name][0].append(start)
            times[kind.name][1].append(stop)
    med = {name: (statistics.median(s), statistics.median(t)) for name, (s, t) in times.items()}
    print(f"{reps} repetitions each; medians in milliseconds")
    print(f"{'server':<14}{'start':>10}{'stop':>10}")
    for name, (start, stop) in med.items():
        print(f"{name:<14}{start * 1e3:>10.3f}{stop * 1e3:>10.3f}")
    print(f"start ratio labkit/socketserver: {med['labkit'][0] / med['socketserver'][0]:.3f}")
    ratio = med["labkit"][1] / med["socketserver"][1]
    print(f"stop ratio labkit/socketserver: {ratio:.4f}")
    return ratio


if __name__ == "__main__":
    main()

"""Helpers shared by the server tests: a resource baseline and small socket utilities."""

from __future__ import annotations

import os
import select
import socket
import struct
import threading
import time

import psutil


class Baseline:
    """Remember threads and file descriptors now; later assert they came back.

    >>> base = Baseline()
    >>> ... start and stop servers ...
    >>> base.assert_restored()
    """

    def __init__(self):
        self.threads = {t.ident for t in threading.enumerate()}
        self.fds = _descriptors()

    def extra_threads(self) -> list[str]:
        return [t.name for t in threading.enumerate()
                if t.ident not in self.threads and t.is_alive()]

    def extra_descriptors(self) -> list[str]:
        now = _descriptors()
        if isinstance(now, int):
            return [f"{now - self.fds} more"] if now > self.fds else []
        return sorted(f"fd {fd}: {what}" for fd, what in now.items() if self.fds.get(fd) != what)

    def assert_restored(self, timeout: float = 6.0) -> None:
        # handler threads close their socket and then exit; give them a moment
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.extra_threads() and not self.extra_descriptors():
                return
            time.sleep(0.01)
        threads, fds = self.extra_threads(), self.extra_descriptors()
        assert threads == [], f"threads left running: {threads}"
        assert fds == [], f"descriptors left open: {fds}"


def _descriptors():
    """This process's sockets, pipes and other kernel objects (epoll, eventfd) by fd, on
    Linux; elsewhere, how many descriptors are open. Regular files are left out: a library
    that keeps a cache file open (matplotlib's fonts) has not leaked anything."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return psutil.Process().num_fds()
    found = {}
    for fd in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed while we looked (the listing's own fd, for one)
            continue
        if not target.startswith("/"):
            found[int(fd)] = target
    return found


def reset(sock: socket.socket) -> None:
    """Close *sock* with an RST instead of a FIN (SO_LINGER with a zero timeout)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def wait_closed(server, conns, timeout: float = 10.0) -> None:
    """Wait until the server has logged "closed" for each connection number in *conns*.

    After reset() the RST may still be on its way (under load the loopback delivers it a
    moment later), so the server can be quiet, waiting for bytes, before it has seen it:
    wait_quiet() is not enough to know that it has been handled.
    """
    deadline = time.monotonic() + timeout
    while any("closed" not in server.events.kinds(c) for c in conns):
        assert time.monotonic() < deadline, f"not closed within {timeout:g} s:\n{server.events}"
        time.sleep(0.01)


def _tcp_queues() -> dict[tuple[int, int], tuple[int, int]]:
    """{(local port, remote port): (send queue, receive queue)} for this host's IPv4 TCP
    sockets, from /proc/net/tcp (Linux): bytes not yet acknowledged / not yet read."""
    queues = {}
    with open("/proc/net/tcp") as table:
        next(table)
        for row in table:
            fields = row.split()
            local, remote, (tx, rx) = fields[1], fields[2], fields[4].split(":")
            key = (int(local.split(":")[1], 16), int(remote.split(":")[1], 16))
            queues[key] = (int(tx, 16), int(rx, 16))
    return queues


def wait_delivered(sock, timeout: float = 10.0) -> None:
    """Wait until everything sent on *sock* has reached its peer's socket on this host (our
    send queue is empty: acknowledged). Under load, loopback may deliver bytes a moment
    after sendall() has returned."""
    mine, theirs = sock.getsockname()[1], sock.getpeername()[1]
    deadline = time.monotonic() + timeout
    while _tcp_queues().get((mine, theirs), (0, 0))[0]:
        assert time.monotonic() < deadline, f"not delivered within {timeout:g} s"
        time.sleep(0.005)


def settle(server, *senders, timeout: float = 10.0) -> None:
    """Wait until *server* has handled what each of *senders* sent, then assert it is quiet.

    wait_quiet() means "every handler waits for input that has not arrived". Under load the
    loopback may deliver bytes a moment after sendall() has returned, so wait_quiet() can
    still see a handler waiting from before they came, say quiet, and the test reads the
    server's log one event short. So first wait until each TCP sender's bytes are in the
    server's socket (wait_delivered), where wait_quiet() sees them. UDP sockets have no
    send queue to watch (a datagram is in the server's socket when sendto() returns, on
    this host): they are skipped.
    """
    for sender in senders:
        if sender.type == socket.SOCK_STREAM:
            wait_delivered(sender, timeout)
    assert server.wait_quiet(timeout), f"{server!r} did not go quiet within {timeout:g} s"


def wait_read_by_peer(sock, timeout: float = 10.0) -> None:
    """Wait until everything sent on *sock* has reached its peer on this host and the peer's
    program has read it (its receive queue is empty): a piece is read on its own."""
    mine, theirs = sock.getsockname()[1], sock.getpeername()[1]
    deadline = time.monotonic() + timeout
    while True:
        queues = _tcp_queues()
        if (theirs, mine) not in queues:
            return  # the peer has closed its socket: nothing more will be read
        if queues.get((mine, theirs), (0, 0))[0] == 0 and queues[(theirs, mine)][1] == 0:
            return
        assert time.monotonic() < deadline, f"the peer did not read within {timeout:g} s"
        time.sleep(0.005)


def read_all(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Read until EOF (the test fails with socket.timeout if the peer never closes)."""
    sock.settimeout(timeout)
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def echo_roundtrip(address, text: str = "你好") -> bytes:
    """One complete conversation with an echo server: send, half-close, read to EOF."""
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode())
        s.shutdown(socket.SHUT_WR)
        return read_all(s)


_buffers: dict = {}  # what recv_line() read past a line's end, per socket


def recv_line(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """One line (b"" at EOF), buffered per socket."""
    sock.settimeout(timeout)
    buf = _buffers.setdefault(sock, bytearray())
    while (end := buf.find(b"\n")) < 0:
        data = sock.recv(65536)
        if not data:
            line = bytes(buf)
            buf.clear()
            return line
        buf += data
    line = bytes(buf[:end + 1])
    del buf[:end + 1]
    return line


def read_until(stream, want: bytes, timeout: float = 5.0) -> bytes:
    """Bytes from a pipe until they end with *want* (a deadline, never a blocking read)."""
    got = b""
    deadline = time.monotonic() + timeout
    while not got.endswith(want):
        left = deadline - time.monotonic()
        assert left > 0, got
        if select.select([stream], [], [], left)[0]:
            data = os.read(stream.fileno(), 4096)
            assert data, got
            got += data
    return got


def assert_slow_member_dropped(alice, dave, slow, timeout: float = 20.0) -> None:
    """Alice sends 600 lines (1.8 MB) to a chat room where slow never reads: dave, who
    reads, gets every line in order and '* slow left'; slow then reads whole lines in
    order, the notice, then the end of the stream."""
    lines = [f"{i:04d} {'x' * 3000}\n".encode() for i in range(600)]
    got = []

    def read():
        while len(got) < 601:
            got.append(recv_line(dave))

    reader = threading.Thread(target=read)
    reader.start()
    for line in lines:
        alice.sendall(line)
    reader.join(timeout)
    assert not reader.is_alive()
    assert [g for g in got if not g.startswith(b"*")] == [b"alice: " + x for x in lines]
    assert b"* slow left\n" in got
    rest = []
    while line := recv_line(slow):
        rest.append(line)
    assert rest[-1] == b"! too slow, disconnecting\n"
    assert rest[:-1] == [b"alice: " + x for x in lines[:len(rest) - 1]]

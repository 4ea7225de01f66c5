"""Put the steps of a trace in an order that is the same on every run.

Threads interleave differently on every run, so the order in which steps were
recorded is not the order we show. Instead each step gets a *logical time*
(a Lamport clock) from happens-before links that are the same on every run:

- program order within one thread;
- ``connect()`` before the ``accept()`` that returned its connection, and that
  ``accept()`` before every call on the new socket;
- a send before the recv that returned its last byte (matched by offset in
  the byte stream, so we know which send fed which recv);
- a ``shutdown``/``close`` before the peer's recv that returned ``b""``;
- a datagram's ``sendto`` before the ``recvfrom`` that got it.

Steps are shown sorted by (logical time, reads first, lifeline). For a program
whose every thread does the same calls with the same results, that is the same
order on every run. (How TCP cuts the stream into recv pieces is part of the
result: a program that races its reads against its writes can differ.) A
hand-off the trace cannot see, such as a queue between two threads of one
server (the chat server's writers), is no link: such a send may be shown
earlier than what caused it, though always at the same place.

The lifelines are named by their part (client, echo listener, echo conn 1 …)
and given columns: clients, other sockets, listeners, then accepted sockets.
"""

from __future__ import annotations

import bisect

from labkit.seeing.tracesteps import Lifeline, Step

__all__: list[str] = []

_READS = {"recv", "recv_into", "recvfrom", "accept"}  # may block waiting for the peer


def _order(steps: list[Step], lines: list[Lifeline], given: dict[int, str]) -> list[Step]:
    """Link, clock and name; return *steps* in the shown order. *given* maps
    ``id(sock)`` to a name chosen by the caller."""
    _link(steps, lines)
    _clock(steps)
    _name(lines)
    for line in lines:
        if line.sock is not None and id(line.sock) in given:
            line.name = given[id(line.sock)]
    position = {id(s): i for line in lines for i, s in enumerate(line.steps)}
    return sorted(steps, key=lambda s: (s.clock, 0 if s.call in _READS else 1,
                                        s.line.column, position[id(s)]))


def _link(steps, lines) -> None:
    by_thread: dict[int, list[Step]] = {}
    for step in steps:
        by_thread.setdefault(step.thread, []).append(step)
    for chain in by_thread.values():
        for before, after in zip(chain, chain[1:]):
            after.after.append(before)
    ends = {(l.local, l.peer): l for l in lines if l.peer is not None and l.role != "listener"}
    for line in lines:
        if line.peer is not None and line.role != "listener":
            line.partner = ends.get((line.peer, line.local))
    for step in steps:
        if step.call == "accept" and step.new is not None:
            for later in step.new.steps:
                later.after.append(step)
            client = step.new.partner
            connect = next((s for s in client.steps if s.call == "connect"), None) if client else None
            if connect is not None:
                step.after.append(connect)
                connect.peer_step = step
    for line in lines:
        if line.partner is not None:
            _link_stream(line.partner, line)
    _link_datagrams(steps, lines)

def _link_stream(sender: Lifeline, receiver: Lifeline) -> None:
    sends = [s for s in sender.steps if s.is_send and s.nbytes]
    ends = [s.end for s in sends]
    fin = next((s for s in sender.steps if (s.call == "shutdown" and s.arg in (1, 2) and not s.error)
                or s.call == "close"), None)
    if fin is not None:
        fin.fin = True
    for step in receiver.steps:
        if step.is_eof and fin is not None:
            step.after.append(fin)
            fin.peer_step = fin.peer_step or step
        elif step.is_recv and step.nbytes:
            i = bisect.bisect_left(ends, step.end)  # the send holding the last byte
            if i < len(sends):
                step.after.append(sends[i])
                sends[i].peer_step = step
        elif step.error in ("ConnectionResetError", "BrokenPipeError") and fin is not None:
            step.after.append(fin)

def _link_datagrams(steps, lines) -> None:
    queues: dict[tuple, list[Step]] = {}
    for step in steps:  # FIFO per (from, to): recording order within one sender thread
        if step.call == "sendto" and step.is_send:
            # by the sender's port: an unbound sender is bound to 0.0.0.0
            queues.setdefault((step.line.local[1], tuple(step.arg)[:2]), []).append(step)
    for step in steps:
        if step.call == "recvfrom" and step.is_recv and step.source and step.line.local:
            queue = queues.get((step.source[1], tuple(step.line.local)[:2]))
            if queue:
                send = queue.pop(0)
                step.after.append(send)
                send.peer_step = step

def _clock(steps) -> None:
    """Lamport clock: one more than the latest step this one had to wait for."""
    done: set[int] = set()
    for root in steps:
        stack = [root]
        while stack:
            step = stack[-1]
            if id(step) in done:
                stack.pop()
                continue
            todo = [p for p in step.after if id(p) not in done]
            if todo:
                stack.extend(todo)
                continue
            step.clock = 1 + max((p.clock for p in step.after), default=0)
            done.add(id(step))
            stack.pop()

def _name(lines) -> None:
    from labkit.serving.servers import running  # late: servers need not be loaded to trace

    services = {server.address: server.name for server in running()}

    def first(line):
        return min((s.clock for s in line.steps), default=0)

    listeners = sorted((l for l in lines if l.role == "listener"), key=first)
    clients = sorted((l for l in lines if l.role == "client"), key=first)
    others = sorted((l for l in lines if l.role == "socket"), key=first)
    for line in listeners:
        service = services.get(tuple(line.local[:2]) if line.local else None)
        line.name = f"{service} listener" if service else "listener"
    if len(listeners) > 1 and len({l.name for l in listeners}) < len(listeners):
        for i, line in enumerate(listeners, 1):
            line.name += f" {i}"
    for i, line in enumerate(clients, 1):
        line.name = "client" if len(clients) == 1 else f"client {i}"
    conns = []
    for listener in listeners:
        accepted = [s.new for s in sorted(listener.steps, key=lambda s: s.clock)
                    if s.call == "accept" and s.new is not None]
        base = listener.name.removesuffix("listener").strip() or "server"
        for i, line in enumerate(accepted, 1):
            line.name = f"{base} conn {i}"
        conns += accepted
    orphans = sorted((l for l in lines if l.role == "conn" and l not in conns), key=first)
    for i, line in enumerate(orphans, 1):
        line.name = "conn" if len(orphans) == 1 else f"conn {i}"
    conns += orphans
    for i, line in enumerate(others, 1):
        line.name = "socket" if len(others) == 1 else f"socket {i}"
    for column, line in enumerate(clients + others + listeners + conns):
        line.column = column

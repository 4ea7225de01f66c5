"""A conformance check for chat servers: does the server at this address keep the contract?

    report = check_chat_server(server)      # any address: labkit's, yours, a classmate's
    report                                   # one line per step, ✓ / ✗ / – not run
    report.status                            # "correct", "not yet" or "not attempted"

The steps, in order (the first failure ends the check; later steps are shown as not run):
join, nick, broadcast, leave, long line, bad UTF-8 and slow consumer. Every wait has a
deadline, every socket is closed at the end, and the messages name the first thing that
went wrong in words that are the same on every run. Lines starting with ``* `` that a
step does not ask for (a server may announce joins) are skipped.

The slow consumer step: a client with a small receive buffer never reads while alice
sends ``SLOW_LINES`` lines of about 4 KB (6 MB in all), eight at a time with a short
pause, never more than ``AHEAD`` lines beyond what dave has read: a client that reads
keeps up, even when this process is short of CPU. Dave must get every line, in
order, never waiting ``STALL`` seconds for the next; and the server must give up on the
slow client (close its connection) instead of queueing all 6 MB for it.
"""

from __future__ import annotations

import socket
import threading
import time

from labkit.chat.peer import _PROBE, ChatPeer, StepFailed, _Unreachable, _unreachable
from labkit.serving.clients import to_address

__all__ = ["check_chat_server", "ChatReport", "CHAT_STEPS"]

CHAT_STEPS = ("join", "nick", "broadcast", "leave", "long line", "bad UTF-8", "slow consumer")
SLOW_LINES = 1600
STALL = 1.5  # seconds a reader may wait for the next line before we call it stalled
AHEAD = 32  # lines alice may send beyond what dave has read (a reading client is never slow)
_MARKS = {True: "✓", False: "✗", None: "–"}


class ChatReport:
    """What check_chat_server found: one (step, passed, detail) per step.

    >>> report = ChatReport(("127.0.0.1", 7000))
    >>> report.ok, report.steps
    (False, [])
    """

    def __init__(self, address):
        self.address = address
        self.steps: list[tuple[str, bool | None, str]] = []
        self.refused = False

    @property
    def ok(self) -> bool:
        return len(self.steps) == len(CHAT_STEPS) and all(p for _, p, _ in self.steps)

    @property
    def status(self) -> str:
        """The verdict: "correct", "not yet", or "not attempted" (nothing listens or
        answers at the address)."""
        return "not attempted" if self.refused else "correct" if self.ok else "not yet"

    @property
    def first_failure(self) -> str | None:
        return next((f"{name}: {detail}" for name, p, detail in self.steps if p is False), None)

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        head = {"correct": "✅ every step passed", "not yet": "❌ not yet",
                "not attempted": "○ not attempted"}[self.status]
        width = max(map(len, CHAT_STEPS))
        rows = [f"{_MARKS[p]} {name:<{width}}  {detail}" for name, p, detail in self.steps]
        return "\n".join([f"chat conformance: {head}", *rows])


def check_chat_server(target, *, slow_lines: int = SLOW_LINES, on_failure=None) -> ChatReport:
    """Run every step against the chat server at *target*; never raises for the server's faults.

    *target* is a server, a ``(host, port)`` pair or a port on 127.0.0.1. *on_failure*,
    if given, is called as ``on_failure(step, detail)`` when a step fails, while the
    check's clients are still connected (to look at the server in that state).

    >>> from labkit import serve, ChatRoom
    >>> with serve(ChatRoom()) as server:
    ...     report = check_chat_server(server)
    >>> report.ok, repr(report).splitlines()[0]
    (True, 'chat conformance: ✅ every step passed')
    """
    address = to_address(target)
    report = ChatReport(address)
    peers: list[ChatPeer] = []

    def join(name, **kw) -> ChatPeer:
        try:
            peer = ChatPeer(address, name, **kw)
        except OSError as exc:
            raise _unreachable(address, name, exc) from None
        peers.append(peer)
        return peer

    state: dict = {}
    steps = [("join", _join), ("nick", _nick), ("broadcast", _broadcast), ("leave", _leave),
             ("long line", _long_line), ("bad UTF-8", _bad_utf8),
             ("slow consumer", lambda j, s: _slow_consumer(j, s, slow_lines))]
    try:
        for name, step in steps:
            try:
                detail = step(join, state)
            except StepFailed as exc:
                report.steps.append((name, False, str(exc)))
                if on_failure is not None:
                    on_failure(name, str(exc))
                report.refused = name == "join" and isinstance(exc, _Unreachable)
                break
            report.steps.append((name, True, detail))
    finally:
        for peer in peers:
            peer.close()
    for name in CHAT_STEPS[len(report.steps):]:
        report.steps.append((name, None, "not run"))
    return report


def _join(join, state) -> str:
    alice, bob, carol = (join(n) for n in ("alice", "bob", "carol"))
    state.update(alice=alice, bob=bob, carol=carol)
    # The protocol has no welcome to wait for, and a server puts a client in the room
    # a moment after connect() returns: carol says hello until both have heard it.
    # (Later steps skip the extra hellos.)
    heard = set()
    deadline = time.monotonic() + 3.0
    while len(heard) < 2 and time.monotonic() < deadline:
        carol.send(_PROBE[2:])
        for peer in (alice, bob):
            if peer.name not in heard and peer.heard(_PROBE, 0.2):
                heard.add(peer.name)
    for peer in (alice, bob):
        if peer.name not in heard:
            peer.expect(_PROBE, ending=True, timeout=0.1)  # fails, naming what came instead
    return "three clients connected; the first two got the third's line"


def _nick(join, state) -> str:
    state["alice"].send("/nick alice")  # one at a time: the others' turn comes later
    state["alice"].send("你好，大家好")
    state["bob"].expect("alice: 你好，大家好")
    return "bob got 'alice: 你好，大家好'"


def _broadcast(join, state) -> str:
    alice, bob, carol = state["alice"], state["bob"], state["carol"]
    carol.expect("alice: 你好，大家好")
    bob.send("/nick bob")
    for i in range(1, 21):
        bob.send(f"line {i}")
    for peer in (alice, carol):
        for i in range(1, 21):
            try:
                peer.expect(f"bob: line {i}")
            except StepFailed as exc:
                if "alice: 你好，大家好" in str(exc) and peer is alice:
                    raise StepFailed("alice got her own message back; "
                                  "send it to the others only") from None
                raise
    return "everyone else got each line, in the order it was sent, and the sender none"


def _leave(join, state) -> str:
    alice, bob, carol = state["alice"], state["bob"], state["carol"]
    carol.send("/nick carol")
    carol.send("/quit")
    alice.expect("* carol left")
    bob.expect("* carol left")
    carol.expect_eof("after /quit")
    bob.sock.close()  # EOF without /quit
    alice.expect("* bob left")
    return "/quit and EOF both leave, the others get '* NAME left'"


def _long_line(join, state) -> str:
    alice, dave = state["alice"], join("dave")
    state["dave"] = dave
    dave.send("/nick dave")
    dave.send("hello")
    alice.expect("dave: hello")  # dave has joined before the long line is sent
    alice.send(b"x" * 5000 + b"\n")
    alice.expect("! line too long")
    alice.send("still here")
    try:
        dave.expect("alice: still here")
    except StepFailed as exc:
        if "xxxx" in str(exc):
            raise StepFailed("the 5000-byte line reached dave; drop lines over 4096 bytes") from None
        raise
    return "a 5000-byte line got '! line too long', and the connection stayed open"


def _bad_utf8(join, state) -> str:
    alice, dave = state["alice"], state["dave"]
    alice.send(b"caf\xc3 \xff\xfe oops\n")
    alice.send("after the bad line")
    dave.expect("alice: after the bad line", skip=("* ", "alice: caf"))
    dave.send("welcome back")
    alice.expect("dave: welcome back", skip=("* ", "! "))
    return "bytes that are not UTF-8 harmed nobody, and the sender is still connected"


def _slow_consumer(join, state, lines: int) -> str:
    alice, dave = state["alice"], state["dave"]
    slow = join("slow", rcvbuf=4096)
    slow.send("/nick slow")
    slow.send("ready")
    alice.expect("slow: ready")  # slow has joined; from now on it never reads
    dave.expect("slow: ready")
    body = "x" * 3900
    sent: dict = {}
    progress = {"dave": 0}  # lines dave has read so far (written by this thread only)
    done = threading.Event()

    def send_all():
        try:
            for start in range(0, lines, 8):  # 8 lines, then a pause: at most ~15 MB/s,
                # and never more than AHEAD lines ahead of dave: a client who keeps up
                # must never be counted as slow because this process was starved of CPU
                # (dave reads in this process, on a busy machine too)
                while start - progress["dave"] > AHEAD and not done.is_set():
                    time.sleep(0.001)
                if done.is_set():
                    return
                burst = "".join(f"{i:05d} {body}\n" for i in range(start, min(start + 8, lines)))
                alice.sock.sendall(burst.encode())
                time.sleep(0.002)  # so that a client who does read can keep up
        except OSError as exc:
            sent["error"] = exc

    sender = threading.Thread(target=send_all, name="labkit-conformance-sender", daemon=True)
    i = 0
    sender.start()
    try:
        while i < lines:
            try:
                line = dave.next_line(STALL, "the next line")
            except StepFailed:
                raise StepFailed(f"a client that never reads stalled the others: dave waited "
                              f"{STALL:g} s for the next line. Give each client a bounded "
                              "queue and a writer of its own") from None
            if line is not None and line.startswith("* "):
                continue  # '* slow left'
            if line != f"alice: {i:05d} {body}":
                raise StepFailed(f"dave expected alice's lines, all of them and in order, "
                              f"but got {(line or '(the end of the stream)')[:40]!r}")
            i += 1
            progress["dave"] = i
    finally:
        done.set()
        if sender.is_alive() and i < lines:  # failed early: unblock alice's sendall
            try:
                alice.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        sender.join(5.0)
    if "error" in sent:
        raise StepFailed("the server closed alice's connection while she was sending")
    # now the slow client reads: what was queued for it, and then the end of the stream
    got = 0
    while True:
        try:
            line = slow.next_line(STALL, "the end of the stream")
        except StepFailed:
            raise StepFailed(f"the server queued all {lines} lines for a client that never "
                          "read and kept it connected: bound each client's queue, then "
                          "disconnect it") from None
        if line is None:
            break
        got += 1
        if got > lines + 10:
            raise StepFailed("the server never disconnected the slow client")
    return "a client that never read stalled nobody and was disconnected"

"""The room across real machines: network namespaces joined by a bridge.

As root, the tests make five network namespaces: a hub that holds a bridge, the
instructor's (198.18.0.1) and three learners' (alice .2, bob .3, carol .4, all /24), each
joined to the bridge by a veth pair whose both ends are created inside the namespaces.
The addresses come from 198.18.0.0/15, the benchmarking range, which is never routed.
Nothing is made in the host's own namespace: no interface, address or route. Every
program runs with `ip netns exec NAME python -m labkit ...`; the namespaces are named
after this process (slab<PID>-hub ...) so that parallel runs never meet, and are removed
at the end, also when a test fails.

Without root, Linux or the `ip` command, the tests are skipped with the reason; under
.ci/run that is a failure instead (tools/testpolicy.py).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from testpolicy import skip_or_fail

pytestmark = [pytest.mark.timeout(90), pytest.mark.no_leak_check(
    reason="the namespaces' programs and their pipes belong to the module's Lan, closed at its end")]

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONIOENCODING": "utf-8"}
PREFIX = f"slab{os.getpid()}"
INSTRUCTOR = "198.18.0.1"
LEARNERS = {"alice": "198.18.0.2", "bob": "198.18.0.3", "carol": "198.18.0.4"}
NOBODY = "198.18.0.9"  # on the bridge's network, but no namespace has it
LINES = 20  # each learner's chat lines


def missing_prerequisite() -> str | None:
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    if shutil.which("ip") is None:
        return "the ip command is missing (apt-get install iproute2)"
    return None


def unavailable(reason: str):
    skip_or_fail(reason)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if check and done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


class Proc:
    """`ip netns exec NS python -m labkit ...` (or `python -c CODE`): its stdout is read
    line by line by a thread, so that every wait has a deadline."""

    def __init__(self, lan: Lan, ns: str, *args: str, stdin: bool = False):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, *args],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=ENV, cwd=ROOT)
        lan.procs.append(self)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            with self._cond:
                self.lines.append(raw.decode("utf-8", errors="replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append(None)  # end of output
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "") -> list[str]:
        """Wait until *predicate(lines)* holds; the lines so far (without the end mark)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate([line for line in self.lines if line is not None]):
                left = deadline - time.monotonic()
                if left <= 0 or (self.lines and self.lines[-1] is None):
                    raise AssertionError(f"waited for {what or predicate}: {self.report()}")
                self._cond.wait(left)
            return [line for line in self.lines if line is not None]

    def served(self) -> int:
        """The port of `serve`, from its first line `listening on HOST:PORT`."""
        first = self.wait_for(lambda lines: lines, what="the first line")[0]
        assert re.fullmatch(r"listening on [\d.]+:\d+", first), self.report()
        return int(first.rsplit(":", 1)[1])

    def send(self, text: str) -> None:
        self.proc.stdin.write(text.encode("utf-8"))
        self.proc.stdin.flush()

    def finish(self, timeout: float = 10.0) -> int:
        """Close stdin (end of input) and wait for the exit status."""
        if self.proc.stdin:
            self.proc.stdin.close()
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def interrupt(self, timeout: float = 20.0) -> int:  # generous: the suite may load the CPU
        self.proc.send_signal(signal.SIGINT)
        return self.finish(timeout)

    def output(self) -> list[str]:
        with self._cond:
            return [line for line in self.lines if line is not None]

    def report(self) -> str:
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
        return f"{self.proc.args[3:]}: stdout {self.output()!r} stderr {err!r}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # this process only, by its id
            self.proc.wait(10)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe:
                pipe.close()


class Lan:
    """The namespaces, the bridge and the programs started in them."""

    def __init__(self):
        self.made: list[str] = []
        self.procs: list[Proc] = []

    def ns(self, role: str) -> str:
        return f"{PREFIX}-{role}"

    def _add(self, role: str) -> str:
        name = self.ns(role)
        ip("netns", "add", name)
        self.made.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    def build(self) -> None:
        hub = self._add("hub")
        ip("-n", hub, "link", "add", "br0", "type", "bridge")
        ip("-n", hub, "link", "set", "br0", "up")
        machines = {"instructor": INSTRUCTOR, **LEARNERS}
        for number, (role, address) in enumerate(machines.items(), start=1):
            ns = self._add(role)
            # both ends are made inside namespaces: the host's own never sees them
            ip("-n", hub, "link", "add", f"port{number}", "type", "veth",
               "peer", "name", "eth0", "netns", ns)
            ip("-n", hub, "link", "set", f"port{number}", "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")

    def run(self, role: str, *args: str, stdin: bool = False) -> Proc:
        return Proc(self, self.ns(role), "-m", "labkit", *args, stdin=stdin)

    def python(self, role: str, code: str, *args: str, stdin: bool = False) -> Proc:
        return Proc(self, self.ns(role), "-c", code, *args, stdin=stdin)

    def remove(self) -> None:
        for proc in self.procs:
            proc.kill()
        for name in reversed(self.made):
            ip("netns", "del", name, check=False)
        self.made.clear()


def delete_stale_namespaces() -> None:
    """Remove namespaces an interrupted earlier run of this file left (its process is gone)."""
    listing = ip("netns", "list", check=False).stdout
    for name in re.findall(r"^(slab(\d+)-(?:hub|instructor|alice|bob|carol))\b", listing, re.M):
        if not os.path.exists(f"/proc/{name[1]}"):
            ip("netns", "del", name[0], check=False)


@pytest.fixture(scope="module")
def lan():
    reason = missing_prerequisite()
    if reason:
        unavailable(reason)
    delete_stale_namespaces()
    made = Lan()
    host_before = ip("-br", "addr").stdout  # the host's own interfaces and addresses
    try:
        try:
            made.build()
        except RuntimeError as exc:
            unavailable(f"cannot make network namespaces here ({exc})")
        assert ip("-br", "addr").stdout == host_before, "building the LAN touched the host"
        yield made
    finally:
        made.remove()
    assert not any(name.startswith(PREFIX) for name in ip("netns", "list").stdout.split())


# -- three learners chat in the instructor's room ----------------------------------------------


def test_three_learners_chat_across_the_bridge_and_a_leaver_is_announced(lan):
    server = lan.run("instructor", "serve", "chat", "--host", "0.0.0.0", "-v")
    port = server.served()
    join = f"join at {INSTRUCTOR}:{port} (eth0)"
    lines = server.wait_for(lambda ls: len(ls) >= 2, what="the join line")
    assert lines[1] == join, server.report()  # the only network address there

    learners = {name: lan.run(name, "client", "chat", "--host", INSTRUCTOR, "--port", str(port),
                              "--nick", name, stdin=True) for name in LEARNERS}
    # the room has read each /nick (server -v shows it), so all three are in before anyone speaks
    server.wait_for(lambda ls: all(any(f"'/nick {n}" in line for line in ls) for n in LEARNERS),
                    what="three /nick lines")
    for name, learner in learners.items():
        learner.send("".join(f"你好 from {name} {i}\n" for i in range(1, LINES + 1)))
    for name, learner in learners.items():
        got = learner.wait_for(lambda ls: len(ls) >= 2 * LINES, what=f"{2 * LINES} lines")
        assert len(got) == 2 * LINES, got
        for sender in LEARNERS:
            if sender != name:  # nothing lost, each sender's order kept
                assert [line for line in got if line.startswith(f"{sender}: ")] == [
                    f"{sender}: 你好 from {sender} {i}" for i in range(1, LINES + 1)]

    assert learners["alice"].finish() == 0  # Ctrl-D: the client sends /quit
    for name in ("bob", "carol"):
        learners[name].wait_for(lambda ls: ls[-1:] == ["* alice left"], what="* alice left")
    assert learners["bob"].finish() == 0
    learners["carol"].wait_for(lambda ls: ls[-1:] == ["* bob left"], what="* bob left")
    assert learners["carol"].finish() == 0
    assert server.interrupt() == 0


ROOM = """
import sys, time, labkit
room = labkit.serve_room("chat", host="0.0.0.0")
print(f"listening on {room.host}:{room.port}", flush=True)
print(repr(room), flush=True)
deadline = time.monotonic() + 20
while sorted(room.roster(wait=0).names()) != ["alice", "bob", "carol"] and time.monotonic() < deadline:
    time.sleep(0.02)
print(repr(room.roster()), flush=True)
sys.stdin.read()  # until the test says stop
room.stop()
print(repr(room), flush=True)
"""


def test_a_room_served_from_python_shows_the_bridge_address_and_the_roster(lan):
    instructor = lan.python("instructor", ROOM, stdin=True)
    port = instructor.served()
    head = instructor.wait_for(lambda ls: "nobody connected yet" in ls, what="the room")
    assert head[1:] == [
        "warning: listening on 0.0.0.0: reachable from other machines on the network; "
        "press stop (or run room.stop()) when the demo is over",
        f"chat room on 0.0.0.0:{port}",
        f"join at {INSTRUCTOR}:{port} (eth0)",  # the same line `serve` prints
        "nobody connected yet"]
    learners = {name: lan.run(name, "client", "chat", "--host", INSTRUCTOR, "--port", str(port),
                              "--nick", name, stdin=True) for name in LEARNERS}
    roster = instructor.wait_for(lambda ls: "3 connected" in ls[:-3], what="the roster")
    rows = roster[roster.index("3 connected") + 1:][:3]
    seen = {}
    for row in rows:  # name, address, since when
        found = re.fullmatch(r"(\w+) +([\d.]+):(\d+)  since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row)
        assert found, row
        seen[found[1]] = found[2]
    assert seen == LEARNERS  # each learner, at their own machine's address
    instructor.proc.stdin.close()  # stop the room: every learner is disconnected
    assert instructor.wait_for(lambda ls: ls[-1].endswith(": stopped"))[-1] == \
        f"chat room on 0.0.0.0:{port}: stopped"
    assert instructor.finish() == 0
    for learner in learners.values():
        assert learner.finish() == 0  # the client exits when the server closes


# -- lesson 02's claim: 127.0.0.1 is this machine only -------------------------------------------


def test_loopback_is_unreachable_from_another_machine_and_the_any_address_is_reachable(lan):
    local = lan.run("instructor", "serve", "echo")  # 127.0.0.1, the default
    room = lan.run("instructor", "serve", "echo", "--host", "0.0.0.0")
    port, room_port = local.served(), room.served()

    def client(role, host, port):
        return lan.run(role, "client", "echo", "--host", host, "--port", str(port), "你好")

    here = client("instructor", "127.0.0.1", port)  # the server is up, for its own machine
    refused = {target: client("alice", target, port)  # the instructor's address; alice's own loopback
               for target in (INSTRUCTOR, "127.0.0.1")}
    reached = {name: client(name, INSTRUCTOR, room_port) for name in LEARNERS}
    assert here.finish() == 0 and here.output() == ["欢迎访问>>>>你好"], here.report()
    for target, there in refused.items():
        assert there.finish() == 1 and there.output() == [], there.report()
        assert there.proc.stderr.read().decode() == (
            f"error: nothing is listening on {target}:{port} - is the server cell running?\n")
    for there in reached.values():
        assert there.finish() == 0 and there.output() == ["欢迎访问>>>>你好"], there.report()
    assert local.interrupt() == 0 and room.interrupt() == 0


# -- grading a classmate's server ---------------------------------------------------------------


GRADE = """
import sys, labkit
report = labkit.check_chat_server((sys.argv[1], int(sys.argv[2])))
print(report.status)
print(repr(report))
"""


def test_the_instructor_grades_learners_servers_across_the_bridge(lan):
    servers = {"alice": ("chat", "0.0.0.0"), "bob": ("echo", "0.0.0.0"),
               "carol": ("chat", "127.0.0.1")}
    running = {name: lan.run(name, "serve", protocol, "--host", host)
               for name, (protocol, host) in servers.items()}
    ports = {name: server.served() for name, server in running.items()}
    gradings = {name: lan.python("instructor", GRADE, LEARNERS[name], str(ports[name]))
                for name in servers}
    gradings["nobody"] = lan.python("instructor", GRADE, NOBODY, "7000")
    results = {}
    for name, grading in gradings.items():
        assert grading.finish(30) == 0, grading.report()
        results[name] = grading.output()

    assert results["alice"][0] == "correct", results["alice"]  # labkit's chat server
    assert results["alice"][1] == "chat conformance: ✅ every step passed"
    assert results["bob"][0] == "not yet", results["bob"]  # an echo server is no chat server
    assert results["bob"][2].startswith("✗ join"), results["bob"]
    # a server on 127.0.0.1 cannot be graded from another machine, and the check says why
    assert results["carol"][:3] == [
        "not attempted", "chat conformance: ○ not attempted",
        f"✗ join           nothing is listening on {LEARNERS['carol']}:{ports['carol']}: is the "
        "server running, and bound to 0.0.0.0 (a server on 127.0.0.1 is for its own machine only)?"]
    # nobody has that address: ARP finds no one, and the connect fails or times out
    assert results["nobody"][0] == "not attempted", results["nobody"]
    assert re.match(rf"✗ join +(nothing answered at {NOBODY}:7000 within 2 s|cannot reach "
                    rf"{NOBODY}:7000 \(No route to host\))", results["nobody"][2]), results["nobody"]
    for server in running.values():
        assert server.interrupt() == 0

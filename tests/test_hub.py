"""The course on a real JupyterHub: two learners run a lesson at the same moment.

As root, the test creates two local users, sl-alice-PID and sl-bob-PID (PID: the test's
process, so that two runs on one machine do not meet), hands each a copy of
notebooks/, starts JupyterHub with configurable-http-proxy on free ports of 127.0.0.1,
spawns both users' servers through the REST API (LocalProcessSpawner, so each runs as
its own user, from the shared learner environment built by `.ci/learner-env`), and runs
every code cell of one lesson in both servers at once, over the kernels' websockets.
Then it checks that each kernel ran as its user in its own notebooks folder, and
removes everything it made.

Without root, the shared environment, JupyterHub or configurable-http-proxy, the test
is skipped with the reason; under .ci/run that is a failure instead (tools/testpolicy.py).
Deselect it with `-m "not hub"`.
"""

from __future__ import annotations

import ast
import os
import threading
import time

import psutil
import pytest

import hubsupport
from hubsupport import Hub
from testpolicy import skip_or_fail

pytestmark = [pytest.mark.hub, pytest.mark.timeout(240)]

USERS = tuple(hubsupport.user_names("alice", "bob"))  # sl-alice-PID, sl-bob-PID
LESSON = "00-welcome.ipynb"      # binds sockets and runs labkit servers
CELL_TIMEOUT = 60.0
WHOAMI = "import os, pwd\n(pwd.getpwuid(os.getuid()).pw_name, os.getcwd())"


def require_prerequisites():
    reason = hubsupport.missing_prerequisite()
    if reason is None:
        return
    skip_or_fail(reason)


@pytest.fixture
def hub(tmp_path):
    require_prerequisites()
    running = None
    hubsupport.delete_stale_users()  # left by an interrupted earlier run
    try:
        for name in USERS:
            hubsupport.hand_out_notebooks(hubsupport.create_user(name))
        running = Hub(tmp_path / "hub", list(USERS))
        running.start(timeout=60)
        yield running
    finally:
        errors = []
        if running is not None:
            try:
                running.stop(timeout=30)
            except Exception as exc:  # keep cleaning up; report at the end
                errors.append(f"stopping the hub: {exc!r}")
        for name in USERS:
            try:
                hubsupport.delete_user(name)  # kills the user's leftover processes first
            except Exception as exc:
                errors.append(f"deleting {name}: {exc!r}")
        assert not errors, errors


def test_two_learners_run_a_lesson_at_once(hub):
    began = time.monotonic()

    def phase(text):  # shown with -s, and with the failure report
        print(f"{time.monotonic() - began:6.1f} s  {text}")

    servers = hub.start_servers(USERS, timeout=90)
    phase("both servers ready")

    # each single-user server runs as its own user
    for name, server in servers.items():
        pid = server.get("state", {}).get("pid")
        assert pid, f"the hub reports no pid for {name}'s server: {server}"
        assert psutil.Process(pid).username() == name

    start_together = threading.Barrier(len(USERS), timeout=60)
    outcomes: dict[str, dict] = {}

    def learner(name):
        outcome = outcomes[name] = {"failures": ["did not finish"]}
        kernel = None
        try:
            # cwd of the kernel: the notebooks folder in the learner's home
            kernel = hub.kernel(name, path="notebooks")
            kernel.execute("None", timeout=CELL_TIMEOUT)  # wait until the kernel runs
            start_together.wait()
            outcome["start"] = time.monotonic()
            results, failures = hubsupport.run_notebook(
                kernel, hubsupport.ROOT / "notebooks" / LESSON, cell_timeout=CELL_TIMEOUT)
            outcome["end"] = time.monotonic()
            outcome["cells"] = len(results)
            whoami = kernel.execute(WHOAMI, timeout=CELL_TIMEOUT)
            outcome["whoami"] = ast.literal_eval(whoami.result) if whoami.result else None
            outcome["failures"] = failures + (
                [f"whoami ({name}): {whoami.error}"] if whoami.status != "ok" else [])
        except Exception as exc:
            start_together.abort()  # the other learner must not wait for this one
            outcome["failures"] = [f"{name}: {exc!r}"]
        finally:
            if kernel is not None:
                kernel.shutdown()

    threads = [threading.Thread(target=learner, args=(name,), name=f"learner-{name}")
               for name in USERS]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 180
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a learner's lesson did not finish"
    for name in USERS:
        if "end" in outcomes[name]:
            phase(f"{name}: {LESSON}, {outcomes[name]['cells']} cells in "
                  f"{outcomes[name]['end'] - outcomes[name]['start']:.1f} s")

    failures = [f for name in USERS for f in outcomes[name]["failures"]]
    assert failures == [], "\n".join(failures)

    # the two lessons really ran at the same moment
    a, b = (outcomes[name] for name in USERS)
    assert a["start"] < b["end"] and b["start"] < a["end"], outcomes

    for name in USERS:
        home = hubsupport.local_user(name).pw_dir
        assert outcomes[name]["whoami"] == (name, os.path.join(home, "notebooks"))
        assert outcomes[name]["cells"] == len(
            hubsupport.code_cells(hubsupport.ROOT / "notebooks" / LESSON))

    hub.stop_servers(USERS, timeout=30)
    for name in USERS:
        assert hub.user_model(name).get("servers") == {}
    phase("servers stopped")

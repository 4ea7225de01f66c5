"""Every lesson survives "Run All" pressed twice, by two learners at the same moment.

Two learners share one machine, as on a lab computer or a JupyterHub: each has a copy of
the notebooks folder of their own, and each presses Run All twice in one kernel, both at
the same moment. Nothing in a lesson may need a fixed port to be free, so neither may
disturb the other. Each notebook runs top to bottom twice in each of two kernels with
nbclient, the two kernels started together, each in its own copy. A cell tagged
raises-exception may raise; any other error fails the test. At the end of each pass, each
kernel is asked (with psutil, from inside) which sockets it still has listening, beyond
the kernel's own; any one fails the test, as does a labkit server still in
labkit.running().

The same execution also serves the loopback audit (its rule is in
tests/test_loopback_audit.py): before the first pass, socket.socket.bind is wrapped inside
each kernel to record every address bound, with the cell that was running. run_twice() is
cached, so each notebook executes once for both checks.

A notebook whose metadata says {"labkit": {"requires": ["java", ...]}} is skipped where a
runtime is missing (the root conftest's missing_runtimes_reason), as under nbval.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import importlib.util
import json
import shutil
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from nbtool import kernel_manager  # Unix-socket kernels: no TCP port to race for

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
CELL_TIMEOUT = 60
RAISES, BINDS_NETWORK = "raises-exception", "binds-network"
LEARNERS = 2  # kernels running each lesson at the same moment, each in its own copy

pytestmark = [pytest.mark.timeout(600), pytest.mark.no_leak_check(reason="jupyter_client keeps its event-loop runner threads")]

# Runs once in the kernel, before the first pass: record every bind with the cell running.
# Cells are counted as they start (pre_run_cell, cells run with history only): IPython's
# own execution_count is no help, as IPython 8 and 9 differ on when it goes up.
AUDIT_SETUP = r"""
def _labkit_audit_install():
    import socket
    original = socket.socket.bind
    binds, state = [], {"cell": 0}

    def count(info):
        if getattr(info, "store_history", True):
            state["cell"] += 1

    def bind(self, address):
        binds.append([state["cell"], int(self.family), repr(address)])
        return original(self, address)

    get_ipython().events.register("pre_run_cell", count)
    socket.socket.bind = bind
    return binds

_labkit_audit_binds = _labkit_audit_install()
del _labkit_audit_install
"""

# Runs at the end of each pass: what still listens, and what labkit still runs.
LISTENERS = r"""
def _labkit_audit_listeners():
    import json, socket, sys
    import psutil
    proc = psutil.Process()
    conns = proc.net_connections("all") if hasattr(proc, "net_connections") else proc.connections("all")
    found = [f"TCP {c.laddr.ip}:{c.laddr.port}" for c in conns
             if c.type == socket.SOCK_STREAM and c.status == psutil.CONN_LISTEN]
    found += [f"UDP {c.laddr.ip}:{c.laddr.port}" for c in conns
              if c.type == socket.SOCK_DGRAM and c.laddr and not c.raddr]
    labkit = sys.modules.get("labkit")
    running = [repr(s) for s in labkit.running()] if labkit else []
    print(json.dumps({"sockets": found, "running": running}))

_labkit_audit_listeners()
del _labkit_audit_listeners
"""

BINDS = "print(__import__('json').dumps(_labkit_audit_binds)); _labkit_audit_binds.clear()"


@dataclasses.dataclass
class Run:
    """What two passes of one notebook showed, in every learner's kernel."""

    errors: list[str]  # unexpected errors, "learner L, pass N, cell I (source...): Error: message"
    left_open: list[str]  # sockets or servers still there at the end of a pass
    binds: list[tuple[int, int | None, str, int]]  # (pass, cell index, address repr, family)
    cells: list  # the notebook's cells (for their tags)


def _conftest():
    spec = importlib.util.spec_from_file_location("_labkit_root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def skip_reason(path: Path) -> str | None:
    nb = nbformat.read(path, as_version=4)
    return _conftest().missing_runtimes_reason(nb.metadata)


def _hidden(client, source: str) -> str:
    """Run *source* in the kernel without touching the history; return its stdout."""
    cell = new_code_cell(source)
    cells = client.nb.cells
    cells.append(cell)  # execute_cell stores the cell back at its index: give it its own
    try:
        client.execute_cell(cell, len(cells) - 1, store_history=False)
    finally:
        cells.pop()
    errors = [o for o in cell.outputs if o.output_type == "error"]
    if errors:
        raise RuntimeError(f"audit code failed: {errors[0].ename}: {errors[0].evalue}")
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _excerpt(source: str) -> str:
    first = source.strip().splitlines()[0] if source.strip() else ""
    return first[:50]


@functools.cache
def _copies(source: Path) -> list[Path]:
    """One copy of the folder *source* per learner, as each would have their own."""
    top = Path(tempfile.mkdtemp(prefix="socket-lab-learners-"))
    atexit.register(shutil.rmtree, top, ignore_errors=True)
    copies = []
    for number in range(1, LEARNERS + 1):
        folder = top / f"learner-{number}" / source.name
        shutil.copytree(source, folder,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        copies.append(folder)
    return copies


def _run_in_one_kernel(path: Path, learner: str, start: threading.Barrier, run: Run) -> None:
    """Execute the notebook at *path* twice in one fresh kernel, adding to *run*."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, km=kernel_manager(kernel_name="python3"),
                            timeout=CELL_TIMEOUT, allow_errors=True,
                            record_timing=False, resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        _hidden(client, AUDIT_SETUP)
        before = json.loads(_hidden(client, LISTENERS))["sockets"]  # the kernel's own
        start.wait(timeout=120)  # every learner's kernel is up: press Run All together
        executed = []  # the index of each cell run, in order: the kernel counts them too
        for number in (1, 2):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                cell.outputs = []
                client.execute_cell(cell, index)
                executed.append(index)
                if RAISES not in cell.metadata.get("tags", []):
                    for out in cell.outputs:
                        if out.output_type == "error":
                            run.errors.append(f"{learner}, pass {number}, cell {index} "
                                              f"({_excerpt(cell.source)}): {out.ename}: {out.evalue}")
            state = json.loads(_hidden(client, LISTENERS))
            extra = [s for s in state["sockets"] if s not in before] + state["running"]
            run.left_open += [f"{learner}, after pass {number}: {s}" for s in extra]
            for ordinal, family, address in json.loads(_hidden(client, BINDS)):
                index = executed[ordinal - 1] if 0 < ordinal <= len(executed) else None
                run.binds.append((number, index, address, family))


@functools.cache
def run_twice(path: Path) -> Run:
    """Execute the notebook twice in each learner's kernel, all at once; audit binds and listeners."""
    run = Run(errors=[], left_open=[], binds=[], cells=nbformat.read(path, as_version=4).cells)
    start = threading.Barrier(LEARNERS)
    failures = []

    def learner(number: int, folder: Path) -> None:
        try:
            _run_in_one_kernel(folder / path.name, f"learner {number}", start, run)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            start.abort()
            failures.append(f"learner {number}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=learner, args=(number, folder), daemon=True)
               for number, folder in enumerate(_copies(path.parent), start=1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.errors += failures
    return run


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_two_learners_run_all_twice_at_the_same_moment(path):
    if reason := skip_reason(path):
        pytest.skip(reason)
    run = run_twice(path)
    assert run.errors == []
    assert run.left_open == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_bind_is_loopback_unless_the_cell_says_so(path):
    # The audit's rule is in test_loopback_audit.py (imported here, not at the top: that
    # module imports this one); the test is here, beside the execution it reads.
    from test_loopback_audit import unexpected_binds
    if reason := skip_reason(path):
        pytest.skip(reason)
    assert unexpected_binds(run_twice(path)) == []

"""Every lesson survives "Run All" pressed twice in one kernel, and leaves nothing listening.

Each notebook (notebooks/NN-*.ipynb) runs top to bottom twice in ONE kernel with nbclient,
as a learner who presses Run All a second time. A cell tagged raises-exception may raise;
any other error fails the test. At the end of each pass, the kernel is asked (with psutil,
from inside) which sockets it still has listening, beyond the kernel's own; any one fails
the test, as does a labkit server still in labkit.running().

The same execution also serves tests/test_loopback_audit.py: before the first pass,
socket.socket.bind is wrapped inside the kernel to record every address bound, with the
cell that was running. run_twice() is cached, so when both files run in one session each
notebook executes once for both checks.

A notebook whose metadata says {"labkit": {"requires": ["java", ...]}} is skipped where a
runtime is missing (the root conftest's missing_runtimes_reason), as under nbval.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
CELL_TIMEOUT = 60
RAISES, BINDS_NETWORK = "raises-exception", "binds-network"

pytestmark = pytest.mark.timeout(600)

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
    """What two passes of one notebook in one kernel showed."""

    errors: list[str]  # unexpected errors, "pass N, cell I (source...): Error: message"
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
def run_twice(path: Path) -> Run:
    """Execute the notebook twice in one fresh kernel, auditing binds and listeners."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT, allow_errors=True,
                            record_timing=False, resources={"metadata": {"path": str(path.parent)}})
    run = Run(errors=[], left_open=[], binds=[], cells=nb.cells)
    with client.setup_kernel():
        _hidden(client, AUDIT_SETUP)
        before = json.loads(_hidden(client, LISTENERS))["sockets"]  # the kernel's own
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
                            run.errors.append(f"pass {number}, cell {index} "
                                              f"({_excerpt(cell.source)}): {out.ename}: {out.evalue}")
            state = json.loads(_hidden(client, LISTENERS))
            extra = [s for s in state["sockets"] if s not in before] + state["running"]
            run.left_open += [f"after pass {number}: {s}" for s in extra]
            for ordinal, family, address in json.loads(_hidden(client, BINDS)):
                index = executed[ordinal - 1] if 0 < ordinal <= len(executed) else None
                run.binds.append((number, index, address, family))
    return run


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_run_all_twice_in_one_kernel(path):
    if reason := skip_reason(path):
        pytest.skip(reason)
    run = run_twice(path)
    assert run.errors == []
    assert run.left_open == []

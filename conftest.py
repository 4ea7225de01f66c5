"""Hooks for running the notebooks as tests (nbval); loaded for every pytest run.

It lives at the repository root, not in tests/ or notebooks/, so that it is loaded
whichever paths pytest is given (`pytest notebooks/03-listen-accept.ipynb` included).

- pytest_configure: finds the sanitize file from any working directory, and builds
  matplotlib's font cache before any kernel starts, so that no notebook prints
  "Matplotlib is building the font cache" on stderr (which nbval compares). It also
  has nbval start its kernels with tools/nbtool.py's kernel_manager, on Unix sockets
  where the system has them, so that no kernel races the tests' servers for a port.
- pytest_collection_modifyitems / pytest_runtest_setup: a notebook whose metadata says
  `"labkit": {"requires": ["java", "php"]}` is skipped, cell by cell, with the reason,
  where a runtime is missing. Under .ci/run the same cells fail instead (see
  tools/testpolicy.py): it installs every runtime, so a missing one there is a broken
  setup, not a skip. Whether a runtime is usable is labkit.programs.langs.find_runtime's answer
  (Java 11 or newer, PHP with sockets), the same one doctor and lesson 09 give.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools"))
from testpolicy import skip_or_fail  # noqa: E402 - tools/ is on the path from here on

_missing_key = pytest.StashKey[str]()


def pytest_configure(config):
    _resolve_sanitize_file(config)
    if getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False):
        _warm_matplotlib_font_cache()
        _start_nbval_kernels_on_unix_sockets()


def _start_nbval_kernels_on_unix_sockets():
    try:
        import nbval.kernel
    except ImportError:
        return
    from nbtool import kernel_manager

    nbval.kernel.KernelManager = kernel_manager  # nbval's start_new_kernel calls this name


def _resolve_sanitize_file(config):
    # addopts names the file relative to the repository root; nbval opens it relative
    # to the working directory, so running pytest from a subfolder would not find it.
    name = getattr(config.option, "nbval_sanitize_with", None)
    if name and not os.path.isabs(name) and not os.path.exists(name):
        candidate = config.rootpath / name
        if candidate.exists():
            config.option.nbval_sanitize_with = str(candidate)


def _warm_matplotlib_font_cache():
    # Kernels started later share the cache folder, so they find it built.
    try:
        import matplotlib.font_manager  # noqa: F401
    except ImportError:
        pass


LABKIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "labkit")
# the examples in these modules run Java or PHP
NEEDS_RUNTIMES = {os.path.join(LABKIT, "programs", "langs.py"): {"labkit": {"requires": ["java", "php"]}}}


def pytest_collect_file(file_path, parent):
    """labkit's docstring examples are tests too (doctest), and only labkit's: the seed's
    programs in notebooks/ would run if imported, and tests/ has no examples to run."""
    if (file_path.suffix == ".py" and str(file_path).startswith(LABKIT + os.sep)
            and not parent.config.option.doctestmodules):
        from _pytest.doctest import DoctestModule

        return DoctestModule.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config, items):
    reasons = {}  # one answer per notebook, not per cell
    for item in items:
        collector = item.parent
        nb = getattr(collector, "nb", None)  # only nbval's notebook collectors have .nb
        if nb is None:
            needs = NEEDS_RUNTIMES.get(str(getattr(item, "path", "")))
            if needs and (reason := missing_runtimes_reason(needs)):
                item.stash[_missing_key] = reason
            continue
        if collector not in reasons:
            reasons[collector] = missing_runtimes_reason(nb.metadata)
        if reasons[collector]:
            item.stash[_missing_key] = reasons[collector]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # tryfirst: decide before nbval's collector setup starts a kernel for nothing
    reason = item.stash.get(_missing_key, None)
    if reason is None:
        return
    skip_or_fail(reason)


def missing_runtimes_reason(metadata):
    """Return why a notebook cannot run here ("needs java: ..."), or None if it can."""
    labkit = metadata.get("labkit", {}) if hasattr(metadata, "get") else {}
    wanted = labkit.get("requires", []) if hasattr(labkit, "get") else []
    reasons = [f"needs {name}: {why}" for name in wanted if (why := runtime_problem(name))]
    return "; ".join(reasons) or None


def runtime_problem(name):
    """Return what is wrong with runtime `name` (with how to install it), or None."""
    from labkit.programs.langs import find_runtime  # one detector: doctor and lesson 09 use it too
    from labkit.errors import RuntimeMissingError

    try:
        find_runtime(name)
    except RuntimeMissingError as exc:
        return str(exc)
    return None

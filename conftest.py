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
  where a runtime is missing. Under CI (CI=true) the same cells fail instead: CI
  installs every runtime, so a missing one there is a broken setup, not a skip.
"""

import functools
import os
import shutil
import subprocess
import sys

import pytest

INSTALL_HINTS = {
    "java": "apt-get install default-jdk-headless",
    "php": "apt-get install php-cli",
}

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
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "tools"))
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


def pytest_collection_modifyitems(config, items):
    reasons = {}  # one answer per notebook, not per cell
    for item in items:
        collector = item.parent
        nb = getattr(collector, "nb", None)  # only nbval's notebook collectors have .nb
        if nb is None:
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
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI must install it (see .ci/run)", pytrace=False)
    pytest.skip(reason)


def missing_runtimes_reason(metadata):
    """Return why a notebook cannot run here ("needs java: ..."), or None if it can."""
    labkit = metadata.get("labkit", {}) if hasattr(metadata, "get") else {}
    wanted = labkit.get("requires", []) if hasattr(labkit, "get") else []
    reasons = [f"needs {name}: {why}" for name in wanted if (why := runtime_problem(name))]
    return "; ".join(reasons) or None


@functools.cache
def runtime_problem(name):
    """Return what is wrong with runtime `name` ("not installed (...)"), or None."""
    hint = INSTALL_HINTS.get(name, f"install {name}")
    if shutil.which(name) is None:
        return f"not installed ({hint})"
    if name == "php" and "sockets" not in _php_modules():
        return "the sockets extension is missing (php -m does not list sockets)"
    return None


def _php_modules():
    try:
        done = subprocess.run(["php", "-m"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.strip().lower() for line in done.stdout.splitlines()}

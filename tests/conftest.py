"""Shared setup for tests/: makes tools/nbtool.py importable as `nbtool`.

The notebook hooks (runtime requirements, matplotlib font cache, sanitize file) live in
the root conftest.py, so that they also apply when pytest is given only notebooks.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _leak_check(request):
    """Every test in tests/ leaves no thread or file descriptor behind: the threads and
    descriptors before it are taken, and after it (servers still registered stopped
    first, so that a failing test does not leak a server into the next one) they must
    come back. A test or module that leaves something running on purpose says so, with
    the reason, as `pytest.mark.no_leak_check(reason="...")`.
    """
    if request.node.get_closest_marker("no_leak_check"):
        yield None
        return
    from support import Baseline

    base = Baseline()
    yield base
    import labkit

    labkit.stop_all()
    base.assert_restored()


@pytest.fixture
def baseline(_leak_check):
    """The autouse leak check's Baseline, for tests that want to look at it."""
    assert _leak_check is not None, "baseline used in a test marked no_leak_check"
    return _leak_check

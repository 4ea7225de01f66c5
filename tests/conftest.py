"""Shared setup for tests/: makes tools/nbtool.py importable as `nbtool`.

The notebook hooks (runtime requirements, matplotlib font cache, sanitize file) live in
the root conftest.py, so that they also apply when pytest is given only notebooks.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import pytest  # noqa: E402


@pytest.fixture
def baseline():
    """Threads and file descriptors before the test; asserts they come back after it.

    Servers still registered at the end are stopped first, so a failing test does not
    leak a server into the next one.
    """
    import labkit
    from support import Baseline

    base = Baseline()
    yield base
    labkit.stop_all()
    base.assert_restored()

"""When something the tests need is missing: a skip on a learner's machine, a failure in CI.

`.ci/run` sets SOCKET_LAB_REQUIRE_ALL=1 itself, so under it a missing Java, PHP, Chromium,
JupyterHub or network namespace fails the run whatever the machine's environment says;
a CI service's CI=true counts too. Everywhere else, such tests are skipped with the reason.
"""

from __future__ import annotations

import os

import pytest

_TRUE = ("1", "true", "yes")


def strict() -> bool:
    """True when a missing requirement must fail the run instead of skipping."""
    return (os.environ.get("SOCKET_LAB_REQUIRE_ALL", "").lower() in _TRUE
            or os.environ.get("CI", "").lower() in _TRUE)


def skip_or_fail(reason: str) -> None:
    """Skip with *reason*, or fail with it (and where to fix it) when strict()."""
    if strict():
        pytest.fail(f"{reason}; .ci/run installs it, so here it must be present", pytrace=False)
    pytest.skip(reason)

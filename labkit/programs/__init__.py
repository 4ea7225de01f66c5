"""Programs in other languages: one runner for every subprocess, one detector for Java
and PHP, and the pre-flight ``doctor``.
"""

from __future__ import annotations

from labkit.programs.process import *  # noqa: F403
from labkit.programs.runner import *  # noqa: F403
from labkit.programs.langs import *  # noqa: F403
from labkit.programs.preflight import *  # noqa: F403
from labkit.programs import process, runner, langs, preflight

__all__ = [name for module in (process, runner, langs, preflight,) for name in module.__all__]

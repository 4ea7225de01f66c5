"""Small helpers the lessons' notebooks import, one module per lesson that needs them.
"""

from __future__ import annotations

from labkit.course.bind import *  # noqa: F403
from labkit.course.close import *  # noqa: F403
from labkit.course import bind, close

__all__ = [name for module in (bind, close,) for name in module.__all__]

"""Lesson 10's chat: the room (a server handler), its conformance check, and the
notebook panel (kept apart, so a server never imports widgets).
"""

from __future__ import annotations

from labkit.chat.room import *  # noqa: F403
from labkit.chat.peer import *  # noqa: F403
from labkit.chat.conformance import *  # noqa: F403
from labkit.chat.panel import *  # noqa: F403
from labkit.chat import room, peer, conformance, panel

__all__ = [name for module in (room, peer, conformance, panel,) for name in module.__all__]

"""The instructor's room: serve a lesson protocol to the room, the addresses learners
join by, and the names of every protocol a server can be started with.
"""

from __future__ import annotations

from labkit.classroom.handlers import *  # noqa: F403
from labkit.classroom.addresses import *  # noqa: F403
from labkit.classroom.room import *  # noqa: F403
from labkit.classroom import handlers, addresses, room

__all__ = [name for module in (handlers, addresses, room,) for name in module.__all__]

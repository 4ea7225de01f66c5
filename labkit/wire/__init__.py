"""What travels on the wire: framing (lines, length prefixes, Java's UTF), the lesson
protocols, and adversarial peers that cut bytes into pieces.

Imports only :mod:`labkit.errors`; everything else in labkit may import it.
"""

from __future__ import annotations

from labkit.wire.framing import *  # noqa: F403
from labkit.wire.javautf import *  # noqa: F403
from labkit.wire.protocols import *  # noqa: F403
from labkit.wire.peers import *  # noqa: F403
from labkit.wire import framing, javautf, protocols, peers

__all__ = [name for module in (framing, javautf, protocols, peers,) for name in module.__all__]

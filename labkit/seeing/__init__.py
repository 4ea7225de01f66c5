"""Seeing what sockets do: traces and their diagrams, the kernel's socket table,
widgets, the console and figures.

Imports :mod:`labkit.serving` and :mod:`labkit.wire`; they never import it.
"""

from __future__ import annotations

from labkit.seeing.tracesteps import *  # noqa: F403
from labkit.seeing.tracing import *  # noqa: F403
from labkit.seeing.sockettable import *  # noqa: F403
from labkit.seeing.kernelview import *  # noqa: F403
from labkit.seeing.widgets import *  # noqa: F403
from labkit.seeing.console import *  # noqa: F403
from labkit.seeing.wiretap import *  # noqa: F403
from labkit.seeing import tracesteps, tracing, sockettable, kernelview, widgets, console, wiretap

__all__ = [name for module in (tracesteps, tracing, sockettable, kernelview, widgets, console, wiretap,) for name in module.__all__]

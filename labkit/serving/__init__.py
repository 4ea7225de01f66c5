"""Servers in background threads and the clients that talk to them: the base and the
TCP server, UDP, select and asyncio servers, the relay, the event log, load tests.

Imports :mod:`labkit.wire` and :mod:`labkit.errors`, nothing else of labkit.
"""

from __future__ import annotations

from labkit.serving.events import *  # noqa: F403
from labkit.serving.base import *  # noqa: F403
from labkit.serving.servers import *  # noqa: F403
from labkit.serving.udp import *  # noqa: F403
from labkit.serving.selectserver import *  # noqa: F403
from labkit.serving.aioserver import *  # noqa: F403
from labkit.serving.relay import *  # noqa: F403
from labkit.serving.clients import *  # noqa: F403
from labkit.serving.loadgen import *  # noqa: F403
from labkit.serving.httpserve import *  # noqa: F403
from labkit.serving.tls import *  # noqa: F403
from labkit.serving import events, base, servers, udp, selectserver, aioserver, relay, clients, loadgen, httpserve, tls

__all__ = [name for module in (events, base, servers, udp, selectserver, aioserver, relay, clients, loadgen, httpserve, tls,) for name in module.__all__]

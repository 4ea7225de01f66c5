"""labkit: the helper package of Socket Lab.

It runs servers in background threads so that one notebook can play both
sides of a connection, frames messages on byte streams, checks exercises
against real sockets, and runs the command line (``python -m labkit``).

    import labkit
    server = labkit.serve(labkit.echo)             # 127.0.0.1, a free port
    labkit.echo_client(server.address, "你好")      # '欢迎访问>>>>你好\\r\\n'
    server.log()                                    # what the server saw
    labkit.stop_all()
"""

from . import (
    aioserver, causal, chat, clients, conformance, console, errors, events, exercises, figures,
    framing, interpose, kernelview, langs, loadgen, peers, preflight, programs,
    protocols, relay, selectserver, seqdiagram, servers, tracesteps, tracing, udp, widgets,
    addresses, room,  # the instructor's room
    tlslab, wiretap,  # lesson 12
)
# the public names of every module (internal modules such as causal and seqdiagram export none)
from .addresses import *  # noqa: F403
from .aioserver import *  # noqa: F403
from .chat import *  # noqa: F403
from .clients import *  # noqa: F403
from .conformance import *  # noqa: F403
from .console import *  # noqa: F403
from .errors import *  # noqa: F403
from .events import *  # noqa: F403
from .exercises import *  # noqa: F403
from .framing import *  # noqa: F403
from .kernelview import *  # noqa: F403
from .langs import *  # noqa: F403
from .loadgen import *  # noqa: F403
from .peers import *  # noqa: F403
from .preflight import *  # noqa: F403
from .programs import *  # noqa: F403
from .protocols import *  # noqa: F403
from .relay import *  # noqa: F403
from .room import *  # noqa: F403
from .selectserver import *  # noqa: F403
from .servers import *  # noqa: F403
from .tracesteps import *  # noqa: F403
from .tlslab import *  # noqa: F403
from .tracing import *  # noqa: F403
from .udp import *  # noqa: F403
from .widgets import *  # noqa: F403
from .wiretap import *  # noqa: F403

__version__ = "0.1.0"

_MODULES = (
    aioserver, causal, chat, clients, conformance, console, errors, events, exercises, figures,
    framing, interpose, kernelview, langs, loadgen, peers, preflight, programs,
    protocols, relay, selectserver, seqdiagram, servers, tracesteps, tracing, udp, widgets,
    addresses, room,  # the instructor's room
    tlslab, wiretap,  # lesson 12
)
__all__ = [name for module in _MODULES for name in module.__all__]

"""Lesson 06's helpers: both ends of a new connection, and their states in the system's table."""

from __future__ import annotations

import os
import socket

from labkit.seeing.sockettable import net_connections

__all__ = ["pair", "states"]

# listener port -> the client ports of the connection pair() made to it. A new listener on
# a port number starts afresh: connections to an earlier listener that had the same number
# (still in TIME_WAIT) are not this one's, although their addresses look the same.
_clients: dict[int, set[int]] = {}


def pair():
    """Both ends of one new TCP connection on 127.0.0.1: ``(listener, client, server_side)``.

    >>> listener, client, server_side = pair()
    >>> client.getpeername() == server_side.getsockname() == listener.getsockname()
    True
    >>> for end in (client, server_side, listener):
    ...     end.close()
    """
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname(), timeout=5)
    _clients[listener.getsockname()[1]] = {client.getsockname()[1]}
    server_side, _ = listener.accept()
    server_side.settimeout(5)
    return listener, client, server_side


def states(port: int) -> list[tuple[str, str]]:
    """The state of each end of this kernel's connections to *port*, from the system's table.

    >>> listener, client, server_side = pair()
    >>> states(listener.getsockname()[1])
    [('client', 'ESTABLISHED'), ('server', 'ESTABLISHED'), ('server', 'LISTEN')]
    >>> for end in (client, server_side, listener):
    ...     end.close()

    Only our own connections count: the listener, and connections whose client end
    pair() made to this listener or this kernel still holds. The table also holds
    connections that closed a moment ago (in TIME_WAIT) to an earlier listener that had
    the same port number, ours or another program's; those are left out.
    """
    table = net_connections("tcp")
    me = os.getpid()
    clients = _clients.get(port, set()) | {
        c.laddr.port for c in table  # no pid field: our own (the fallback's table)
        if getattr(c, "pid", me) == me and c.raddr and c.raddr.port == port}
    rows = []
    for c in table:
        if c.laddr.port == port and (not c.raddr or c.raddr.port in clients):
            rows.append(("server", c.status))
        elif c.raddr and c.raddr.port == port and c.laddr.port in clients:
            rows.append(("client", c.status))
    return sorted(rows)

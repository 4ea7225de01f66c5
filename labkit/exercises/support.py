"""What several lessons' checks share.

An answer's value in words that are the same on every run (``_value``, ``_described``,
``_plain``: no port, no object id); whether an answer's code names something
(``_mentions``, used only to choose a message); and the server's side of a learner's
client (``_watched``, ``_Client``, ``_stuck``), which reads the learner's socket's timeout
the moment its first bytes arrive. The checks of lessons 00-04 use them.
"""

from __future__ import annotations

import enum
import re
import socket

from labkit.exercises.watch import describe_socket, learner_sockets

__all__: list[str] = []  # everything here is the checks' own


# -- helpers shared by the checks of lessons 00-02 ------------------------------------

def _kind(sock: socket.socket) -> str:
    return {socket.SOCK_STREAM: "TCP", socket.SOCK_DGRAM: "UDP"}.get(sock.type, "other")


def _described(sock: socket.socket) -> str:
    """A socket in words (see describe_socket); any family, open or closed."""
    if sock.fileno() == -1:
        return f"a closed {_kind(sock)} socket"
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return f"an {_name(sock.family)} socket"  # e.g. AF_UNIX: its address is no (host, port)
    return describe_socket(sock)


def _name(value) -> str:
    return getattr(value, "name", str(value))


def _value(value) -> str:
    """What an answer returned, in words that are the same on every run (no port, no fd)."""
    if isinstance(value, socket.socket):
        return _described(value)
    if isinstance(value, (tuple, list)):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return f"a {kind} ({', '.join(_value(v) for v in value)})"
    if isinstance(value, enum.Enum):
        return f"socket.{value.name}"
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return "a number"  # a port, perhaps: it changes from run to run
    if isinstance(value, (str, bytes)) and len(value) <= 200:
        return repr(value)
    return f"a {type(value).__name__}"


def _mentions(fn, name: str) -> bool:
    """True if the code of *fn* (or a function defined inside it) uses *name*, e.g. a
    method such as "bind" or a constant such as "SO_REUSEADDR". Only used to choose
    which message fits; never to decide whether an answer is right."""
    codes = [getattr(fn, "__code__", None)]
    while codes:
        code = codes.pop()
        if code is None:
            continue
        if name in code.co_names:
            return True
        codes.extend(c for c in code.co_consts if hasattr(c, "co_names"))
    return False


_UNSEEN = object()


def _learner_timeout(peer):
    """``gettimeout()`` of the learner's open socket whose address is *peer*, else _UNSEEN."""
    for sock in learner_sockets():
        try:
            if sock.fileno() != -1 and sock.getsockname() == peer:
                return sock.gettimeout()
        except OSError:
            continue
    return _UNSEEN


class _Client:
    """What a check's server saw of one connection from the learner's code."""

    def __init__(self):
        self.timeout = _UNSEEN  # the learner's socket's timeout when its first bytes came
        self.received = b""
        self.replied = False


class _Watched:
    """The server's Connection as a handler sees it, noting what the client did."""

    def __init__(self, conn, client: _Client):
        self._conn, self._client = conn, client

    def recv(self, bufsize: int) -> bytes:
        data = self._conn.recv(bufsize)
        if data and not self._client.received:
            # the client has connected and sent: it is about to wait in recv()
            self._client.timeout = _learner_timeout(self._conn.peer)
        self._client.received += data
        return data

    def sendall(self, data: bytes) -> None:
        self._conn.sendall(data)
        self._client.replied = True

    def __getattr__(self, name):
        return getattr(self._conn, name)


def _watched(handler, clients: list):
    """A handler that runs *handler* and appends a :class:`_Client` per connection."""
    def run(conn):
        client = _Client()
        clients.append(client)
        handler(_Watched(conn, client))
    return run


def _stuck(what: str, client: _Client | None, thing: str, send: str) -> str | None:
    """Why the learner's function is still waiting, if the server's side tells; else None."""
    if client is None:
        return None
    if client.replied:
        return (f"{what} got the server's reply but kept waiting for more. This server keeps "
                "the connection open until you close it, so a loop until recv() returns b'' "
                "(or a second recv()) waits for nothing. One recv(1024) is enough for a reply "
                "this short.")
    if not client.received:
        return (f"{what} connected, then waited for a reply without sending anything: the "
                f"server answers only once it has {thing}. Send it first, {send}, then recv().")
    return None


_MAX_TIMEOUT = 30.0  # "a few seconds"; an hour is no protection against a silent server


# -- values in words, the same on every run (lessons 03-04) ---------------------------

_EPHEMERAL = re.compile(r"(?<!\d)(?:3276[89]|327[7-9]\d|32[89]\d\d|3[3-9]\d{3}|[45]\d{4}"
                        r"|6[0-4]\d{3}|65[0-4]\d\d|655[0-2]\d|6553[0-5])(?!\d)")


def _plain(value) -> str:
    """*value* as a learner would read it, without what changes from run to run.

    Sockets are described in words, ports the system picked read PORT, object ids
    are left out and a long repr is cut: a "not yet" message must be the same on
    every run.
    """
    if isinstance(value, socket.socket):
        return f"<{describe_socket(value)}>"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_plain(item) for item in value[:4]) + (", ..." if len(value) > 4 else "")
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return _cut(repr(value))


def _plain_error(exc: BaseException) -> str:
    """An exception as a traceback's last line shows it, told like :func:`_plain`."""
    return _cut(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def _cut(text: str) -> str:
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", _EPHEMERAL.sub("PORT", text))
    return text if len(text) <= 80 else text[:77] + "..."

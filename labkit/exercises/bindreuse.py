"""Exercise 02-reuse of lesson 02-bind: listen again while TIME_WAIT holds the port.

The check first leaves a real connection in TIME_WAIT on a port
(``labkit.course.bind.leave_time_wait``), then asks the answer to listen there. When that
bind fails, a second call on port 0 (where nothing is in the way) shows whether the answer
sets SO_REUSEADDR at all, or only after bind(); an answer that waits for the port instead
is told that TIME_WAIT lasts about a minute. The listener is judged as in
:mod:`labkit.exercises.bind`.
"""

from __future__ import annotations

import contextlib
import socket

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, _is_listening, call, learner_binds, learner_sockets
from labkit.exercises.support import _mentions
from labkit.exercises.bind import _accepts, _listener, _not_bound, _port_of
from labkit.course.bind import leave_time_wait, try_connect

__all__: list[str] = []  # its check registers itself; exercise() finds it by name


_LISTEN_AGAIN = '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # before bind!
    s.bind(("127.0.0.1", port))
    s.listen()
    return s
'''


def _why_in_use(listen_again) -> str:
    """Why a bind over TIME_WAIT failed, from a second call on port 0 (where nothing is in
    the way): the socket it returns shows which options the answer sets, and when."""
    said = "Nothing listens on that port; a closed connection waits there in TIME_WAIT."
    reuse = reuse_port = False
    try:
        sock = call(listen_again, 0, what="listen_again(0)")
    except NotYet:
        sock = None
    if isinstance(sock, socket.socket) and sock.fileno() != -1:
        with sock:
            reuse = bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR))
            if hasattr(socket, "SO_REUSEPORT"):
                reuse_port = bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT))
    if reuse:
        return (f"{said} Your socket does get SO_REUSEADDR, but only after bind(), and bind() "
                "looks at the option when it runs: move the setsockopt line above bind().")
    if reuse_port:
        return (f"{said} SO_REUSEPORT is another option (it lets live listeners share a "
                "port); the one that lets you bind over TIME_WAIT is SO_REUSEADDR, set "
                "before bind().")
    if _mentions(listen_again, "SO_REUSEADDR"):
        return (f"{said} Your code names SO_REUSEADDR, but the socket that binds does not "
                "have it on: set it on that very socket, to 1, before bind(): "
                "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1).")
    return (f"{said} Set SO_REUSEADDR before bind(): "
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1).")


def _why_late(what: str, port: int, binds: list) -> NotYet | None:
    """Why listen_again(port) did not return in time, if the sockets show it: it waited
    (or retried) for the port, or it made its listener and then waited for a client."""
    mine = []
    for sock in learner_sockets():
        with contextlib.suppress(OSError):
            if sock.fileno() != -1 and sock.getsockname()[1] == port:
                mine.append(sock)
    if any(_is_listening(sock) for sock in mine):
        try_connect("127.0.0.1", port)  # wakes an accept() that has no timeout, so it ends
        return NotYet(f"{what} made its listener, but did not return it within 3 s: is it "
                      "waiting in accept() for a client? Return the socket right after "
                      "listen(); whoever calls listen_again() accepts the connections.")
    if not mine and port in [_port_of(address) for address in binds]:
        return NotYet(f"{what} did not return within 3 s: its bind() on the port failed, and "
                      "it was still waiting or trying again. Waiting does not help: a connection "
                      "stays in TIME_WAIT for about 60 s on Linux. With SO_REUSEADDR set before "
                      "bind(), the first bind() succeeds: "
                      "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1).")
    return None


@register("02-reuse", title="Listen again while TIME_WAIT holds the port",
          solution=_LISTEN_AGAIN, hints=[
              "Without help, bind fails with EADDRINUSE: the old connection in TIME_WAIT "
              "still holds the port, although nothing listens there.",
              "The socket option SO_REUSEADDR (level SOL_SOCKET, value 1) allows the bind.",
              "setsockopt must come before bind(): the option is checked by bind itself.",
          ])
def _check_reuse(listen_again) -> str:
    port = leave_time_wait()
    what = "listen_again(port)"
    binds_before = len(learner_binds())
    try:
        sock = call(listen_again, port, what=what)
    except NotYet as exc:
        said = str(exc).rstrip(". ")
        if "did not return within" in said:
            raise (_why_late(what, port, learner_binds()[binds_before:]) or exc) from None
        if "Address already in use" in said:
            raise NotYet(f"{said}. {_why_in_use(listen_again)}") from None
        if "Invalid argument" in said and _mentions(listen_again, "IPPROTO_TCP"):
            raise NotYet(f"{said}. setsockopt takes (level, option, value), and SO_REUSEADDR "
                         "belongs to the level socket.SOL_SOCKET, not IPPROTO_TCP.") from None
        raise
    with _listener(sock, what):
        host, got = sock.getsockname()[:2]
        if got == 0:
            raise _not_bound(what, "('127.0.0.1', port)")
        if got != port:
            raise NotYet(f"{what} bound another port, not the one it was given: bind "
                         "('127.0.0.1', port).")
        if host != "127.0.0.1":
            raise NotYet(f"{what} bound {host!r}; bind ('127.0.0.1', port), the address the "
                         "task asks for.")
        _accepts(sock, what)
    return "your listener bound the port while its previous connection sat in TIME_WAIT."

"""Exercises of lesson 02-bind (its helpers are in labkit.course.bind).

The checks bind and connect for real: a listener must accept a connection on
the port it claims. Every address the learner's code gives to bind() is seen
(learner_binds), so a port the code chose itself (a number, a random one, one
counted upwards, one shared with SO_REUSEPORT) is refused even when it happens to
be free; the check also asks again while the first listener is still open. A
labkit server returned in place of a socket is named as one. Messages name no
port number: ports change every run. The TIME_WAIT exercise, 02-reuse, is in
:mod:`labkit.exercises.bindreuse`.
"""

from __future__ import annotations

import ipaddress
import socket
import sys

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, call, learner_binds, learner_sockets
from labkit.serving.base import BaseServer
from labkit.serving.servers import running
from labkit.exercises.support import _described, _mentions, _name, _value
from labkit.course.bind import try_connect

def _accepts(sock: socket.socket, what: str) -> None:
    """Raise NotYet unless a client can connect to *sock* and be accepted."""
    host, port = sock.getsockname()[:2]
    target = "127.0.0.1" if host in ("0.0.0.0", "") else host
    try:
        with socket.create_connection((target, port), timeout=2):
            sock.settimeout(2)
            conn, _ = sock.accept()
        conn.close()  # after the client: TIME_WAIT stays on the client's side, not this port
    except ConnectionRefusedError:
        raise NotYet(f"{what} returned a socket that is bound but refuses connections: call "
                     "s.listen() after bind(), or nobody can connect.") from None
    except OSError as exc:
        raise NotYet(f"{what} returned a socket that a client could not connect to "
                     f"({type(exc).__name__}: {exc}).") from None


def _no_server(value, what: str, returns: str = "s") -> None:
    """NotYet if *value* is a labkit server, or the listening socket of a running one."""
    if isinstance(value, BaseServer):
        server, said = value, "a labkit server (what labkit.serve() gives), not a socket"
    else:
        server = next((s for s in running() if getattr(s, "sock", None) is value), None)
        if server is None:
            return
        said = ("the socket of a labkit server (labkit.serve(...).sock). That server's "
                "own thread accepts every connection on it, so it is not yours to return")
    mine = any(getattr(server, "sock", None) is s for s in learner_sockets())
    stopped = " The check stopped that server." if mine else ""
    raise NotYet(f"{what} returned {said}. This exercise is about the socket itself: make it "
                 "with socket.socket(socket.AF_INET, socket.SOCK_STREAM), then bind() and "
                 f"listen(), and end with return {returns}.{stopped}")


def _listener(value, what: str, *, returns: str = "s") -> socket.socket:
    """*value* if it is an open IPv4 TCP socket, else NotYet naming what it is instead."""
    _no_server(value, what, returns)
    if value is None:
        raise NotYet(f"{what} returned None: end with return {returns}.")
    if not isinstance(value, socket.socket):
        if isinstance(value, tuple) and value and isinstance(value[0], socket.socket):
            raise NotYet(f"{what} returned a pair, {_value(value)}; return only the socket.")
        raise NotYet(f"{what} returned {_value(value)}, not a socket.socket.")
    if value.fileno() == -1:
        raise NotYet(f"{what} returned a closed socket: return it open (no `with` inside the "
                     "function); the caller closes it.")
    if value.type != socket.SOCK_STREAM:
        raise NotYet(f"{what} returned a socket of type {_name(value.type)}; a listener is "
                     "TCP, SOCK_STREAM.")
    if value.family != socket.AF_INET:
        raise NotYet(f"{what} returned a socket of family {_name(value.family)}; this lesson "
                     "uses IPv4, AF_INET.")
    return value


def _not_bound(what: str, address: str = "('127.0.0.1', 0)") -> NotYet:
    return NotYet(f"{what} returned a socket that is not bound to any port: call "
                  f"s.bind({address}) before listen().")


def _port_of(address) -> int | None:
    """The port in an address given to bind(), or None (an AF_UNIX path has none)."""
    if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[1], int):
        return address[1]
    return None


def _reuses_port(sock: socket.socket) -> bool:
    if not hasattr(socket, "SO_REUSEPORT"):  # Windows has no such option
        return False
    try:
        return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT))
    except OSError:
        return False


def _found_first(what: str) -> NotYet:
    return NotYet(f"{what} opened another socket before its listener. If that one found the "
                  "port: bind port 0 on the listener itself and ask it with getsockname(). A "
                  "port found by one socket and then closed is free only for a moment; another "
                  "program may take it before your listener binds it.")


def _chosen_port(binds: list, sock: socket.socket, what: str, bind: str,
                 read_back: str) -> None:
    """NotYet if the code, in this call, gave bind() a port other than 0: the learner chose
    it (a number, a random one, one counted upwards), not the system. *binds* are the
    addresses this call gave to bind(), in order; *bind* is the call to show instead."""
    ports = [_port_of(address) for address in binds]
    chosen = [i for i, port in enumerate(ports) if port]
    if not chosen:
        return
    if 0 in ports[:chosen[0]]:  # a port the system chose for one socket, then bound by another
        raise _found_first(what)
    if _reuses_port(sock):
        raise NotYet(f"{what} bound a port your code chose, with SO_REUSEPORT on. That option "
                     "lets several sockets bind one port, so every call would get the same "
                     "port, and the system would share the connections out between the "
                     "listeners: a client of one may be accepted by another. Drop "
                     f"SO_REUSEPORT and bind port 0, {bind}, so that the system chooses a "
                     f"free port for each listener{read_back}.")
    raise NotYet(f"{what} bound a port your code chose: bind() was given a port number other "
                 "than 0. A port you choose may be taken already, by another program or by "
                 "your own first listener, and then bind() fails. Bind port 0, "
                 f"{bind}, so that the system chooses a free port{read_back}.")


def _in_use(exc: NotYet, first: bool) -> NotYet | None:
    """A fixed port's failure, explained; None for any other failure."""
    if "Address already in use" not in str(exc):
        return None
    held = ("Another program holds that port already: a fixed port works only while nobody "
            "else uses it." if first else
            "The first listener still holds that port: a fixed port works once.")
    return NotYet(f"{str(exc).rstrip('. ')}. {held} Bind port 0 and let the system choose.")


_OPEN_LISTENER = '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))       # port 0: the system picks a free port
    s.listen()
    return s, s.getsockname()[1]   # the port it picked
'''


def _pair(result, what: str) -> tuple[socket.socket, object]:
    """The (socket, port) an answer returned, or NotYet naming what it returned instead."""
    _no_server(result, what, "s, s.getsockname()[1]")
    if isinstance(result, socket.socket):
        raise NotYet(f"{what} returned only the socket; return a pair, (s, port), with the "
                     "port from s.getsockname()[1].")
    if isinstance(result, int) and not isinstance(result, bool):
        raise NotYet(f"{what} returned only a number; return a pair, (s, port): the socket "
                     "first, then its port.")
    if result is None:
        raise NotYet(f"{what} returned None: end with return s, s.getsockname()[1].")
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise NotYet(f"{what} returned {_value(result)}; return a pair: (socket, port).")
    sock, port = result
    if isinstance(sock, str) and isinstance(port, int):
        raise NotYet(f"{what} returned the address that getsockname() gives, (host, port); "
                     "return the socket and its port: (s, s.getsockname()[1]).")
    if isinstance(sock, int) and isinstance(port, socket.socket):
        raise NotYet(f"{what} returned (port, socket): put the socket first, (s, port).")
    return _listener(sock, what, returns="s, s.getsockname()[1]"), port


def _check_port(port, real: int, what: str) -> None:
    if isinstance(port, tuple):
        raise NotYet(f"{what} returned the whole address, (host, port), as the port: "
                     "getsockname() gives (host, port); return only the port, "
                     "getsockname()[1].")
    if isinstance(port, str):
        raise NotYet(f"{what} returned the port as a str; return the number itself, "
                     "s.getsockname()[1].")
    if isinstance(port, bool) or not isinstance(port, int):
        raise NotYet(f"{what} returned {_value(port)} as the port; return the number "
                     "s.getsockname()[1].")
    if port == 0:
        raise NotYet(f"{what} returned port 0: that is the number you asked for, not the "
                     "one you got; ask the socket with getsockname()[1].")
    if port != real:
        raise NotYet(f"{what} returned a port number that is not its socket's port; ask the "
                     "socket which port it got, s.getsockname()[1].")


@register("02-free-port", title="A listener on a port the system picks",
          solution=_OPEN_LISTENER, hints=[
              "Bind to port 0: the system then chooses a free port for you.",
              "After bind(('127.0.0.1', 0)) the 0 you wrote is still 0: ask the socket which "
              "port it got. s.getsockname() returns (host, port).",
              "Call s.listen() after bind, or nobody can connect.",
          ])
def _check_free_port(open_listener) -> str:
    given: list[socket.socket] = []
    try:
        for attempt in ("first", "second"):
            what = f"The {attempt} call of open_listener()"
            before, binds_before = len(learner_sockets()), len(learner_binds())
            try:
                result = call(open_listener, what=what)
            except NotYet as exc:
                raise (_in_use(exc, attempt == "first") or exc) from None
            made = learner_sockets()[before:]
            sock, port = _pair(result, what)
            if any(sock is earlier for earlier in given):
                raise NotYet("Both calls of open_listener() returned the same socket: make a "
                             "new listener in every call, inside the function.")
            given.append(sock)
            _chosen_port(learner_binds()[binds_before:], sock, what, "s.bind(('127.0.0.1', 0))",
                         ", and read it back with s.getsockname()[1]")
            others = [s for s in made if s is not sock]
            still = [s for s in others if s.fileno() != -1]
            if still:
                also = " and ".join(_described(s) for s in still)
                raise NotYet(f"{what} made {len(others) + 1} sockets and returned one; it also "
                             f"left {also} open, which nobody will ever close. Make only "
                             "the listener.")
            if sock in made and made.index(sock) > 0:
                raise _found_first(what)
            host, real = sock.getsockname()[:2]
            if real == 0:
                raise _not_bound(what)
            if host != "127.0.0.1":
                if host == "0.0.0.0" and not _mentions(open_listener, "bind"):
                    raise NotYet(f"{what} listens without bind(): listen() then binds the "
                                 "any-address 0.0.0.0 for you, reachable from other machines. "
                                 "Call s.bind(('127.0.0.1', 0)) first.")
                raise NotYet(f"{what} bound {host!r}; this listener is for this machine only: "
                             "bind '127.0.0.1'.")
            _check_port(port, real, what)
            _accepts(sock, what)
    finally:
        for sock in given:
            sock.close()
    return ("two listeners open at the same time, each on a free port the system chose, and "
            "each accepted a real connection.")


_LISTENER_FOR = '''
def listener_for(audience):
    host = "127.0.0.1" if audience == "this machine" else "0.0.0.0"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen()
    return s
'''

_AUDIENCES = {
    "this machine": ("127.0.0.1", "Bind loopback, 127.0.0.1: only programs on this machine "
                                  "can reach it."),
    "the network": ("0.0.0.0", "Bind the any-address, 0.0.0.0: it accepts connections "
                               "arriving on every interface of this machine."),
}


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _wrong_host(what: str, audience: str, host: str) -> NotYet:
    """The host bound, in words (a host other than 127.0.0.1 and 0.0.0.0 is named by its
    kind only: which address a name resolves to differs from machine to machine)."""
    if audience == "this machine":
        if host == "0.0.0.0":
            said = "bound '0.0.0.0', the any-address: other machines can reach it too"
        elif _is_loopback(host):
            said = ("bound a loopback address other than 127.0.0.1; programs on this machine "
                    "connect to 127.0.0.1")
        else:
            said = "bound one of this machine's network addresses: other machines can reach it"
    elif host == "127.0.0.1":
        said = "bound '127.0.0.1', a loopback address: other machines cannot reach it"
    elif _is_loopback(host):
        said = "bound a loopback address: other machines cannot reach it"
    else:
        said = ("bound one address of this machine, not every one (a name such as "
                "socket.gethostname() stands for one address)")
    return NotYet(f"{what} {said}. {_AUDIENCES[audience][1]}")


@register("02-which-address", title="Which address to bind", solution=_LISTENER_FOR, hints=[
    "Only two host strings are needed, one per audience.",
    "127.0.0.1 (loopback) is reachable only from this machine; 0.0.0.0 means every "
    "address this machine has, so other machines can reach it too.",
    "socket.gethostname() and 'localhost' name one address (often a loopback one), not "
    "all of them.",
])
def _check_which_address(listener_for) -> str:
    for audience, (want, _) in _AUDIENCES.items():
        what = f"listener_for({audience!r})"
        binds_before = len(learner_binds())
        with _listener(call(listener_for, audience, what=what), what) as sock:
            _chosen_port(learner_binds()[binds_before:], sock, what, "s.bind((host, 0))", "")
            host, port = sock.getsockname()[:2]
            if port == 0:
                raise _not_bound(what, "(host, 0)")
            if host != want:
                raise _wrong_host(what, audience, host)
            _accepts(sock, what)
            if sys.platform.startswith("linux"):
                # on Linux 127.0.0.2 is this machine too, but a different address
                other = try_connect("127.0.0.2", port)
                if (other == "connected") != (want == "0.0.0.0"):
                    raise NotYet(f"{what}: connecting to 127.0.0.2 gave {other}.")
            # ask again while the first listener still listens: a fixed port works once
            again = f"The second call of {what}"
            try:
                second = call(listener_for, audience, what=again)
            except NotYet as exc:
                if "Address already in use" in str(exc):
                    raise NotYet(f"{str(exc).rstrip('. ')}, while the listener from the first "
                                 "call was still open: a fixed port works once. Bind port 0, "
                                 "and the system picks a free port every time.") from None
                raise
            with _listener(second, again):
                if second is sock:
                    raise NotYet(f"Two calls of {what} returned the same socket: make a new "
                                 "listener in every call, inside the function.")
    return ("the loopback listener took connections on 127.0.0.1 only; the 0.0.0.0 one took "
            "them on every address of this machine.")

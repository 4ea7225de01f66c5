"""Exercises of lesson 02-bind, and two small facts the lesson shows.

The checks bind and connect for real: a listener must accept a connection on
the port it claims, a fixed port is caught by asking twice, and the TIME_WAIT
exercise leaves a real connection in TIME_WAIT on the port first.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys

from ..exercises import NotYet, call, register

__all__ = ["may_bind_low_ports", "leave_time_wait", "try_connect"]


def may_bind_low_ports() -> bool:
    """Whether this process may bind ports below 1024 (root, or a lowered Linux limit)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return True
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
                return int(f.read()) <= 80
        except (OSError, ValueError):
            return False
    # macOS dropped the rule in 10.14 (Mojave); Windows never had it
    return sys.platform in ("darwin", "win32")


def try_connect(host: str, port: int, timeout: float = 1.0) -> str:
    """Connect and close at once; return ``"connected"`` or the error's class name."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "connected"
    except OSError as exc:
        return type(exc).__name__


def leave_time_wait(host: str = "127.0.0.1") -> int:
    """Make a connection whose server side ends in TIME_WAIT; return the server's port.

    The listener sets SO_REUSEADDR (as every server should), the server closes
    first, the client closes second: the server's end of the connection then
    waits in TIME_WAIT (60 s on Linux) on that port, although nothing listens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, 0))
        listener.listen(1)
        listener.settimeout(3)
        port = listener.getsockname()[1]
        with socket.create_connection((host, port), timeout=3) as client:
            conn, _ = listener.accept()
            conn.close()                  # the side that closes first gets TIME_WAIT
            assert client.recv(1) == b""  # the client saw the end ...
        # ... and closed too: the server's end is now in TIME_WAIT
    return port


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
        raise NotYet(f"{what} is bound but refuses connections: did you call listen()?") from None
    except OSError as exc:
        raise NotYet(f"connecting to the socket from {what} failed "
                     f"({type(exc).__name__}: {exc}).") from None


def _listener(value, what: str) -> socket.socket:
    if not isinstance(value, socket.socket):
        raise NotYet(f"{what} returned {value!r}, not a socket.socket.")
    if value.fileno() == -1:
        raise NotYet(f"{what} returned a closed socket: return it open, the caller closes it.")
    if value.type != socket.SOCK_STREAM:
        raise NotYet(f"{what} returned a {value.type.name} socket; a listener is SOCK_STREAM.")
    return value


_OPEN_LISTENER = '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))       # port 0: the system picks a free port
    s.listen()
    return s, s.getsockname()[1]   # the port it picked
'''


@register("02-free-port", title="A listener on a port the system picks",
          solution=_OPEN_LISTENER, hints=[
              "Bind to port 0: the system then chooses a free port for you.",
              "After bind(('127.0.0.1', 0)) the 0 you wrote is still 0: ask the socket which "
              "port it got. s.getsockname() returns (host, port).",
              "Call s.listen() after bind, or nobody can connect.",
          ])
def _check_free_port(open_listener) -> str:
    opened = []
    try:
        for attempt in ("first", "second"):
            what = f"the {attempt} call of open_listener()"
            result = call(open_listener, what=what)
            if not (isinstance(result, tuple) and len(result) == 2):
                if isinstance(result, socket.socket):
                    opened.append(result)
                raise NotYet(f"{what} returned {result!r}; return a pair: (socket, port).")
            sock, port = result
            sock = _listener(sock, what)
            opened.append(sock)
            host, real = sock.getsockname()[:2]
            if host != "127.0.0.1":
                raise NotYet(f"{what} bound {host!r}; this listener is for this machine only: "
                             "bind '127.0.0.1'.")
            if port == 0:
                raise NotYet(f"{what} returned port 0: that is the number you asked for, not the "
                             f"one you got (it is {real}); ask the socket with getsockname().")
            if isinstance(port, tuple):
                raise NotYet(f"{what} returned {port!r} as the port: getsockname() gives "
                             "(host, port); return only the port, getsockname()[1].")
            if port != real:
                raise NotYet(f"{what} returned port {port!r}, but its socket is bound to "
                             f"port {real}.")
            _accepts(sock, what)
        if opened[0].getsockname() == opened[1].getsockname():
            raise NotYet("both calls returned the same address.")
    except NotYet as exc:
        text = str(exc).rstrip(". ")
        if "second call" in text and "Address already in use" in text:
            raise NotYet(f"{text}. The first listener still holds that port: a fixed port "
                         "works once. Bind port 0 and let the system choose.") from None
        raise
    finally:
        for sock in opened:
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
    "this machine": ("127.0.0.1", "loopback, 127.0.0.1: only programs on this machine can "
                                  "reach it"),
    "the network": ("0.0.0.0", "the any-address, 0.0.0.0: it accepts connections arriving "
                               "on every interface of this machine"),
}


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@register("02-which-address", title="Which address to bind", solution=_LISTENER_FOR, hints=[
    "Only two host strings are needed, one per audience.",
    "127.0.0.1 (loopback) is reachable only from this machine; 0.0.0.0 means every "
    "address this machine has, so other machines can reach it too.",
    "socket.gethostname() and 'localhost' name one address (often a loopback one), not "
    "all of them.",
])
def _check_which_address(listener_for) -> str:
    for audience, (want, why) in _AUDIENCES.items():
        what = f"listener_for({audience!r})"
        sock = _listener(call(listener_for, audience, what=what), what)
        with sock:
            host = sock.getsockname()[0]
            if host != want:
                if audience == "the network" and _is_loopback(host):
                    detail = "a loopback address: other machines cannot reach it"
                elif audience == "the network":
                    detail = "one address of this machine, not every one"
                else:
                    detail = "reachable from other machines too"
                raise NotYet(f"{what} bound {host!r}, {detail}. Bind {why}.")
            _accepts(sock, what)
            if sys.platform.startswith("linux"):
                # on Linux 127.0.0.2 is this machine too, but a different address
                other = try_connect("127.0.0.2", sock.getsockname()[1])
                if (other == "connected") != (want == "0.0.0.0"):
                    raise NotYet(f"{what}: connecting to 127.0.0.2 gave {other}.")
    return ("the loopback listener took connections on 127.0.0.1 only; the 0.0.0.0 one took "
            "them on every address of this machine.")


_LISTEN_AGAIN = '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # before bind!
    s.bind(("127.0.0.1", port))
    s.listen()
    return s
'''


@register("02-reuse", title="Listen again while TIME_WAIT holds the port",
          solution=_LISTEN_AGAIN, hints=[
              "Without help, bind fails with EADDRINUSE: the old connection in TIME_WAIT "
              "still holds the port, although nothing listens there.",
              "The socket option SO_REUSEADDR (level SOL_SOCKET, value 1) allows the bind.",
              "setsockopt must come before bind(): the option is checked by bind itself.",
          ])
def _check_reuse(listen_again) -> str:
    port = leave_time_wait()
    what = f"listen_again({port})"
    try:
        sock = call(listen_again, port, what=what)
    except NotYet as exc:
        if "Address already in use" in str(exc):
            raise NotYet(f"{exc}. Nothing listens on that port; a closed connection waits "
                         "there in TIME_WAIT. Set SO_REUSEADDR before bind().") from None
        raise
    sock = _listener(sock, what)
    with sock:
        got = sock.getsockname()[:2]
        if got != ("127.0.0.1", port):
            raise NotYet(f"{what} listens on {got}, not on ('127.0.0.1', {port}).")
        _accepts(sock, what)
    return "your listener bound the port while its previous connection sat in TIME_WAIT."

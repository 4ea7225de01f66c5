"""Where learners join a server: this machine's network addresses, from psutil.

    labkit.classroom.join_addresses(41234)               # a server on 0.0.0.0, port 41234
    [join at 192.168.1.20:41234 (eth0)]

One place for what a room says, so that a notebook's room (labkit.classroom.room) and the command
line (``python -m labkit serve --host 0.0.0.0``) print the same join lines and the same
warning that other machines can now connect.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket

import psutil

from labkit.serving.base import is_loopback

__all__ = ["join_addresses", "JoinAddress", "join_lines", "network_warning"]

_WILDCARDS = {"0.0.0.0": socket.AF_INET, "": socket.AF_INET, "::": socket.AF_INET6}
CLI_STOP = "stop with Ctrl-C when the demo is over"


def network_warning(host: str, stop_hint: str = CLI_STOP) -> str | None:
    """The warning for a server that other machines can reach; None on loopback.

    >>> network_warning("127.0.0.1") is None
    True
    >>> print(network_warning("0.0.0.0", "stop it with stop()"))
    warning: listening on 0.0.0.0: reachable from other machines on the network; stop it with stop()
    """
    if is_loopback(host):
        return None
    return (f"warning: listening on {host}: reachable from other machines on the network; "
            f"{stop_hint}")


@dataclasses.dataclass(frozen=True)
class JoinAddress:
    """Where a learner connects: an address, a port, and the interface it belongs to.

    >>> JoinAddress("192.168.1.20", 41234, "eth0")
    join at 192.168.1.20:41234 (eth0)
    >>> JoinAddress("fd00::20", 41234)
    join at [fd00::20]:41234
    """

    host: str
    port: int
    interface: str = ""

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        where = f" ({self.interface})" if self.interface else ""
        return f"join at {host}:{self.port}{where}"

    __repr__ = __str__


# interfaces that containers, virtual machines and VPNs add: listed after the real ones,
# so that the first join line is the one a classroom most likely shares
_VIRTUAL = ("docker", "br-", "virbr", "veth", "vmnet", "vboxnet", "tun", "tap", "utun", "wg",
            "tailscale", "zt", "lxc", "lxd", "cni", "flannel", "podman")


def _interface_addresses(family: int) -> list[tuple[str, str]]:
    """(address, interface) of every interface that is up, loopback and link-local left out;
    real interfaces first."""
    stats = psutil.net_if_stats()
    found = []
    for name, addrs in sorted(psutil.net_if_addrs().items(),
                              key=lambda item: (item[0].lower().startswith(_VIRTUAL), item[0])):
        if name in stats and not stats[name].isup:
            continue
        for addr in addrs:
            if addr.family != family:
                continue
            text = addr.address.split("%")[0]  # fe80::1%eth0: the scope is not part of it
            try:
                ip = ipaddress.ip_address(text)
            except ValueError:
                continue
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                found.append((text, name))
    return found


def join_addresses(port: int, host: str = "0.0.0.0") -> list[JoinAddress]:
    """The addresses learners use to reach a server bound to *host* on *port*.

    >>> join_addresses(41234, "127.0.0.1")    # loopback: this machine only
    [join at 127.0.0.1:41234 (this machine only)]
    >>> join_addresses(41234)                 # doctest: +ELLIPSIS
    [...]

    The default, ``"0.0.0.0"``, lists every IPv4 address of this machine, which vary
    from machine to machine: ``[join at 192.168.1.20:41234 (eth0)]``, say. ``"::"``
    lists the IPv6 addresses; a specific address is listed as itself. Loopback
    and link-local addresses are never listed for the network (nobody else can use them).
    """
    if is_loopback(host):
        return [JoinAddress(host, port, "this machine only")]
    if host in _WILDCARDS:
        return [JoinAddress(a, port, name) for a, name in _interface_addresses(_WILDCARDS[host])]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    names = [name for a, name in _interface_addresses(family) if a == host]
    return [JoinAddress(host, port, names[0] if names else "")]


def join_lines(port: int, host: str) -> list[str]:
    """``join at ...`` lines for *host*, or one line saying that none was found.

    >>> join_lines(7000, "127.0.0.1")
    ['join at 127.0.0.1:7000 (this machine only)']
    """
    found = join_addresses(port, host)
    if not found:
        return ["join at: no network address found on this machine - is it connected "
                "to the network?"]
    return [str(a) for a in found]

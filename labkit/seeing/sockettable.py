"""Reading the kernel's socket table: this process's sockets (psutil), the ones the
kernel still keeps after they were closed (from ``/proc/net/tcp`` on Linux, a
system-wide scan elsewhere), and ``net_connections``, psutil's list of every socket.

The kernel's own sockets (to JupyterLab, and its output thread's) are left out. :mod:`labkit.seeing.kernelview` names the rows and shows them.
"""

from __future__ import annotations

import os
import socket
import time

import psutil

__all__ = ["net_connections"]

_PASSING = {"SYN_SENT", "SYN_RECV", "FIN_WAIT1", "CLOSING", "LAST_ACK"}
OWN_ONLY = "(only this kernel's own sockets: the system refused a system-wide scan)"


def _endpoint(addr) -> tuple | None:
    if not addr:
        return None
    return (addr[0], addr[1])


def _kernel_ports() -> set[int]:
    """The ports the Jupyter kernel itself uses, if we run in one: the five of its connection
    file (to JupyterLab), and the one its output thread listens on for the output of
    subprocesses (ipykernel's IOPub pipe). Asked each time: nothing is scanned at import."""
    ports: set[int] = set()
    try:
        from ipykernel.connect import get_connection_info

        info = get_connection_info(unpack=True)
        ports |= {v for k, v in info.items() if k.endswith("_port") and isinstance(v, int)}
    except Exception:  # not in a kernel, or an ipykernel without it
        return ports
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        pipe = getattr(getattr(kernel, "iopub_thread", None), "_pipe_port", None)
    except Exception:  # an IPython or ipykernel without these
        pipe = None
    if isinstance(pipe, int):
        ports.add(pipe)
    return ports


def _read_table() -> tuple[list[tuple], bool]:
    """(local, remote, state, owned, kind) for this process's sockets and the orphans, and
    whether the orphans could be looked for (False: this process's sockets only)."""
    exclude = _kernel_ports()
    rows = []
    for c in psutil.Process().net_connections("inet"):
        local, remote = _endpoint(c.laddr), _endpoint(c.raddr)
        if (local and local[1] in exclude) or (remote and remote[1] in exclude):
            continue
        kind = "udp" if c.type == socket.SOCK_DGRAM else "tcp"
        state = c.status if kind == "tcp" else "(udp)"
        rows.append((local, remote, state, True, kind))
    orphans = _orphans()
    if orphans is None:  # the system said no: what this process holds is all we know
        return rows, False
    return rows + [(local, remote, state, False, "tcp") for local, remote, state in orphans], True


_PROC_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
                6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 11: "CLOSING"}


def _everyone(kind: str):
    """Every socket of *kind* on this machine (psutil's list), or None if the system
    refuses to show them (macOS without root: AccessDenied)."""
    try:
        return psutil.net_connections(kind)
    except (psutil.AccessDenied, OSError):
        return None


def net_connections(kind: str = "inet") -> list:
    """Every socket of *kind* on this machine: ``psutil.net_connections(kind)``.

    >>> with socket.create_server(("127.0.0.1", 0)) as listener:
    ...     port = listener.getsockname()[1]
    ...     [c.status for c in net_connections("tcp4") if c.laddr.port == port]
    ['LISTEN']

    Where the system refuses a look at them all (macOS without root), it returns this
    process's own sockets, ``psutil.Process().net_connections(kind)``, and prints a line
    saying so: call it from a cell (it is the cell that shows that line). (On macOS psutil
    gathers the list process by process, so even as root it holds no socket that only the
    kernel keeps, such as one in TIME_WAIT.)
    """
    everyone = _everyone(kind)
    if everyone is not None:
        return everyone
    print(OWN_ONLY)
    return psutil.Process().net_connections(kind)


_PROC_NET = "/proc/net"  # Linux: the kernel's socket tables, orphans included


def _orphans() -> list[tuple] | None:
    """TCP sockets no process holds any more (closed, but the kernel keeps them).

    None when the system refuses to show every socket (macOS without root): then the
    table falls back to this process's own, ``psutil.Process().net_connections()``.
    """
    if not os.path.exists(os.path.join(_PROC_NET, "tcp")):
        everyone = _everyone("tcp")
        if everyone is None:  # macOS without root: own sockets only
            return None
        # no process: pid None (Linux, BSD), or 0 (Windows lists TIME_WAIT under pid 0)
        return [(_endpoint(c.laddr), _endpoint(c.raddr), c.status) for c in everyone
                if not c.pid and c.raddr and c.status not in ("LISTEN", "NONE")]
    found = []
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            with open(os.path.join(_PROC_NET, name), encoding="ascii") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:  # sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            fields = line.split()
            state = _PROC_STATES.get(int(fields[3], 16))
            if state and fields[9] == "0":  # inode 0: no file, no process
                found.append((_proc_address(fields[1], family), _proc_address(fields[2], family),
                              state))
    return found


def _proc_address(text: str, family) -> tuple:
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # per-word byte order
    ip = socket.inet_ntop(family, raw)
    if ip.startswith("::ffff:") and "." in ip:
        ip = ip[7:]
    return (ip, int(port, 16))


def _settled_table(keep, timeout: float = 0.5) -> tuple[list[tuple], bool]:
    """Read the rows *keep* accepts until they stop changing and none is passing; and
    whether the table is complete (False: this process's own sockets only)."""
    deadline = time.monotonic() + timeout
    previous = None
    while True:
        table, complete = _read_table()
        rows = sorted(keep(table), key=repr)
        calm = rows == previous and not any(r[2] in _PASSING for r in rows)
        if calm or time.monotonic() >= deadline:
            return rows, complete
        previous = rows
        time.sleep(0.005)

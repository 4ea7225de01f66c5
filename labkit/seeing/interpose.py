"""Route every call on ``socket.socket`` through the recording trace, and back.

While a trace records, the methods of ``socket.socket`` are replaced *on the
class*, so the notebook's thread and labkit's server threads all go through
them. Each wrapper hands an IPv4/IPv6 socket's call to the active tracer
(``tracer._created``, ``tracer._call``, ``tracer._closing``), which runs the
original method and records what it did. Only one trace records at a time.
"""

from __future__ import annotations

import socket
import threading
import weakref

from labkit.errors import LabkitError

__all__: list[str] = []

_INET = (socket.AF_INET, socket.AF_INET6)
_C_METHODS = ("bind", "listen", "connect", "send", "sendall", "recv", "recv_into",
              "shutdown", "sendto", "recvfrom")
_PY_METHODS = ("__init__", "accept", "close")

_active = None  # the Tracer recording now
_install_lock = threading.Lock()
_saved: dict[str, object] = {}
_ignored: "weakref.WeakSet[socket.socket]" = weakref.WeakSet()


def _ignore(sock) -> None:
    """Leave *sock* out of every trace (a widget's socket polled by its own thread)."""
    _ignored.add(sock)


def _traced(sock) -> bool:
    try:
        return sock.family in _INET and sock not in _ignored
    except (OSError, AttributeError, TypeError):
        return False


def _wrapper(name, original):
    if name == "__init__":
        def method(self, family=-1, type=-1, proto=-1, fileno=None):
            original(self, family, type, proto, fileno)
            tracer = _active
            if tracer is not None and fileno is None and _traced(self):
                tracer._created(self)
    elif name == "close":
        def method(self):
            tracer = _active
            if tracer is None or not _traced(self):
                return original(self)
            return tracer._closing(self, original)
    else:
        def method(self, *args, **kwargs):
            tracer = _active
            if tracer is None or not _traced(self):
                return original(self, *args, **kwargs)
            return tracer._call(self, name, original, args, kwargs)
    method.__name__ = name
    method.__qualname__ = f"socket.{name}"
    method.__doc__ = getattr(original, "__doc__", None)
    return method


def _install(tracer) -> None:
    global _active
    with _install_lock:
        if _active is not None:
            raise LabkitError("a trace is already recording; traces cannot be nested")
        cls = socket.socket
        for name in _C_METHODS + _PY_METHODS:
            own = cls.__dict__.get(name)
            _saved[name] = own
            setattr(cls, name, _wrapper(name, own if own is not None else getattr(cls, name)))
        _active = tracer


def _uninstall(tracer) -> None:
    global _active
    with _install_lock:
        if _active is not tracer:
            return
        _active = None
        cls = socket.socket
        for name, own in _saved.items():
            if own is None:
                delattr(cls, name)
            else:
                setattr(cls, name, own)
        _saved.clear()


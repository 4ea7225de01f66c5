"""Every protocol a server can be started with, by name: the CLI's ``serve`` and the room use it.

This is the one place that knows the chat room is a protocol too, so the wire
protocols (:mod:`labkit.wire.protocols`) need not import the chat package.
"""

from __future__ import annotations

from labkit.chat.room import ChatRoom
from labkit.wire.protocols import clock, echo, greeting

__all__ = ["PROTOCOLS", "handler_for"]

PROTOCOLS = ("echo", "greeting", "clock", "chat")


def handler_for(name: str):
    """A fresh handler for the protocol called *name* (each chat server gets its own room).

    >>> PROTOCOLS
    ('echo', 'greeting', 'clock', 'chat')
    >>> handler_for("echo") is echo
    True
    >>> handler_for("telnet")
    Traceback (most recent call last):
    ValueError: unknown protocol 'telnet'; expected one of echo, greeting, clock, chat
    """
    if name == "chat":
        return ChatRoom()
    try:
        return {"echo": echo, "greeting": greeting, "clock": clock}[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; expected one of {', '.join(PROTOCOLS)}") from None

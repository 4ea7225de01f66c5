"""Exercises of lesson 00-welcome.

The check asks a real echo server two questions through the learner's ``ask``.
After each call the learner's socket must be closed (``left_open()``), and while
it waited for the reply it must have had a timeout of a few seconds: the server
reads ``gettimeout()`` of the learner's socket when the question arrives. An
answer with no timeout is then asked once more, by a server that never answers:
only if it is still waiting after a moment does the check say so (an answer that
guards its wait another way passes).
"""

from __future__ import annotations

import socket

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, call, learner_sockets, left_open
from labkit.wire.protocols import echo
from labkit.serving.servers import TCPServer
from labkit.exercises.support import _MAX_TIMEOUT, _UNSEEN, _Client, _stuck, _value, _watched

_SOLUTION = '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode("utf-8"))
        return s.recv(1024).decode("utf-8")
'''

_SILENT_WAIT = 2.0  # how long the silent server lets ask() wait before it counts as stuck


def _silent(conn) -> None:
    """A server that reads what it is sent and never answers, until it is stopped."""
    while conn.recv(1024):
        pass


def _ask(ask, address, text: str, clients: list) -> str:
    """Call ask(); turn what can go wrong into a precise NotYet; return its reply."""
    what = f"ask(address, {text!r})"
    seen = len(clients)
    try:
        reply = call(ask, address, text, what=what)
    except NotYet as exc:
        said = str(exc).rstrip(". ")
        client = clients[seen] if len(clients) > seen else None
        if any(sock.type == socket.SOCK_DGRAM for sock in learner_sockets()):
            raise NotYet(f"{what} used a UDP socket (SOCK_DGRAM), but the echo server speaks "
                         "TCP. Connect with socket.create_connection(address, timeout=5): it "
                         "makes a TCP connection.") from None
        if "did not return within" in said or "TimeoutError" in said:
            stuck = _stuck(what, client, "your text", "s.sendall(text.encode('utf-8'))")
            raise NotYet(stuck or said) from None
        if "bytes-like object is required" in said:
            raise NotYet(f"{said}. A socket sends bytes: encode the text first, "
                         "text.encode('utf-8').") from None
        if "UnicodeDecodeError: 'utf-8'" in said:
            raise NotYet(f"{said}. The bytes you decoded stop in the middle of a character: "
                         "decode the whole reply, s.recv(1024).decode('utf-8').") from None
        if "UnicodeEncodeError" in said or "UnicodeDecodeError" in said:
            raise NotYet(f"{said}. The text is in Chinese: encode it and decode the reply with "
                         "UTF-8, text.encode('utf-8') and .decode('utf-8').") from None
        if "ConnectionRefusedError" in said:
            raise NotYet(f"{said}. Nothing listens where ask() connected: connect to the "
                         "address ask() is given, its first argument.") from None
        if "BlockingIOError" in said:
            raise NotYet(f"{said}. A timeout of 0 makes the socket non-blocking: calls fail "
                         "at once instead of waiting. Give it a few seconds, "
                         "timeout=5.") from None
        raise
    want = f"欢迎访问>>>>{text}\r\n"
    if reply is None:
        raise NotYet(f"{what} returned None. Did you print the reply instead of returning "
                     "it? End with return s.recv(1024).decode('utf-8').")
    if isinstance(reply, bytes):
        raise NotYet(f"{what} returned bytes {reply!r}; return a str: decode the reply.")
    if reply == str(want.encode("utf-8")):
        raise NotYet(f"{what} returned the text \"b'...'\": str() of bytes shows them, it "
                     "does not decode them. Use .decode('utf-8').")
    if reply == want.rstrip():
        raise NotYet(f"{what} returned {reply!r}, without the line end '\\r\\n': return the "
                     "whole reply, as it came (no strip()).")
    if reply != want:
        raise NotYet(f"{what} returned {_value(reply)}; expected {want!r}.")
    if left_open():
        raise NotYet(f"{what} returned, but its socket is still open: a socket stays open "
                     "until you close it, even after the function has returned. Connect "
                     "inside a `with` block, with socket.create_connection(address, timeout=5) "
                     "as s:, so that it is closed when the block ends.")
    return reply


def _waits_for_ever(ask) -> bool:
    """True if ask() is still waiting when a server that never answers has kept it
    waiting for a while: its socket had no useful timeout, and nothing else guards it."""
    with TCPServer(_silent, name="exercise-silent", timeout=5) as server:
        try:
            call(ask, server.address, "你好", timeout=_SILENT_WAIT)
        except NotYet as exc:
            return "did not return within" in str(exc)
    return False  # it gave up in time, some other way: fine


@register("00-ask", title="Ask the echo server a question", solution=_SOLUTION, hints=[
    "Connect with socket.create_connection(address, timeout=5), inside a `with` block.",
    "A socket sends bytes, not str: text.encode('utf-8') turns one into the other.",
    "Read the reply with s.recv(1024) and turn it back into str with .decode('utf-8').",
])
def _check_ask(ask) -> str:
    clients: list[_Client] = []
    with TCPServer(_watched(echo, clients), name="exercise-echo", timeout=5) as server:
        for text in ("你好", "hello"):
            _ask(ask, server.address, text, clients)
        if server.accepted < 2:
            raise NotYet("ask() returned the right replies without asking the server: connect "
                         "to the address it is given, send the text, and return what the "
                         "server answers.")
    timeouts = [c.timeout for c in clients if c.timeout is not _UNSEEN]
    if not timeouts:
        raise NotYet("The check could not find the socket ask() used, to read its timeout: "
                     "create it inside ask(), with socket.create_connection(address, "
                     "timeout=5).")
    longest = max(timeouts, key=lambda t: float("inf") if t is None else t)
    if longest is not None and longest <= _MAX_TIMEOUT:
        return "Your function asked the real echo server twice and got both replies."
    if _waits_for_ever(ask):
        if longest is None:
            raise NotYet(f"ask() got both replies, but its socket had no timeout. A server "
                         f"that never answers kept ask() waiting ({_SILENT_WAIT:g} s so far, "
                         "and it would wait for ever). Every blocking call needs a timeout: "
                         "socket.create_connection(address, timeout=5).")
        raise NotYet(f"ask() got both replies, but its socket had a timeout of {longest:g} s: "
                     "a server that never answers would keep it waiting that long. A few "
                     "seconds is enough: socket.create_connection(address, timeout=5).")
    return "Your function asked the real echo server twice and got both replies."

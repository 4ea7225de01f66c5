"""Exercises of lesson 00-welcome."""

from __future__ import annotations

from ..exercises import NotYet, call, register
from ..protocols import echo
from ..servers import TCPServer
from .create import unclosed_warnings

_SOLUTION = '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode("utf-8"))
        return s.recv(1024).decode("utf-8")
'''


@register("00-ask", title="Ask the echo server a question", solution=_SOLUTION, hints=[
    "Connect with socket.create_connection(address, timeout=5), inside a `with` block.",
    "A socket sends bytes, not str: text.encode('utf-8') turns one into the other.",
    "Read the reply with s.recv(1024) and turn it back into str with .decode('utf-8').",
])
def _check_ask(ask) -> str:
    with TCPServer(echo, name="exercise-echo", timeout=5) as server:
        for text in ("你好", "hello"):
            what = f"ask(address, {text!r})"
            try:
                reply, leaks = unclosed_warnings(call, ask, server.address, text, what=what)
            except NotYet as exc:
                if "bytes-like object is required" in str(exc):
                    raise NotYet(f"{exc}. A socket sends bytes: encode the text first, "
                                 "text.encode('utf-8').") from None
                raise
            if leaks:
                raise NotYet(f"{what} left its socket open for Python to clean up: "
                             "connect inside a `with` block so it is closed when you are done.")
            want = f"欢迎访问>>>>{text}\r\n"
            if isinstance(reply, bytes):
                raise NotYet(f"ask(address, {text!r}) returned bytes {reply!r}; "
                             "return a str: decode the reply.")
            if reply != want:
                raise NotYet(f"ask(address, {text!r}) returned {reply!r}; expected {want!r}.")
        if server.accepted < 2:
            raise NotYet("ask() must connect to the address it is given.")
    return "Your function asked the real echo server twice and got both replies."

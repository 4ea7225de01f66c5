"""The lesson protocols, as handlers for :class:`labkit.serving.servers.TCPServer`.

- ``echo``: the seed's ``server.py``, fixed. For each piece of text received it
  replies ``欢迎访问>>>>`` + text + ``\\r\\n``. It decodes UTF-8 incrementally,
  so a character split across two reads is held back, never an error.
- ``greeting``: the seed's Java ``GreetingServer``: reads one ``writeUTF``
  string, replies ``writeUTF("谢谢连接我:/127.0.0.1:6666\\nGoodbye!")``, closes.
- ``clock``: the seed's ``server.php``: writes ``服务端消息: <date>`` and closes.
- ``chat``: UTF-8 lines; ``/nick NAME``, ``/quit``; every other line goes to
  everyone else as ``NAME: text`` (:class:`labkit.chat.room.ChatRoom`).

The text each reply starts with (the names to serve them by are in
:mod:`labkit.classroom.handlers`):

>>> ECHO_PREFIX, GREETING_PREFIX, CLOCK_PREFIX
('欢迎访问>>>>', '谢谢连接我:', '服务端消息: ')
"""

from __future__ import annotations

import datetime

from labkit.wire.framing import TextDecoder
from labkit.wire.javautf import encode_utf, read_utf

__all__ = ["echo", "greeting", "clock", "java_address",
           "ECHO_PREFIX", "GREETING_PREFIX", "CLOCK_PREFIX"]

ECHO_PREFIX = "欢迎访问>>>>"
GREETING_PREFIX = "谢谢连接我:"
CLOCK_PREFIX = "服务端消息: "


def echo(conn) -> None:
    """Reply ``欢迎访问>>>>`` + text + ``\\r\\n`` to every piece of text, until EOF.

    >>> from labkit import serve, echo_client
    >>> with serve(echo) as server:
    ...     echo_client(server, "你好")
    '欢迎访问>>>>你好\\r\\n'
    """
    decoder = TextDecoder()
    while True:
        data = conn.recv(1024)  # the seed's buffer size: a character can straddle two reads
        if not data:
            break
        text = decoder.feed(data)
        if text:  # empty when the chunk held only the first bytes of a character
            conn.sendall(f"{ECHO_PREFIX}{text}\r\n".encode("utf-8"))
    rest = decoder.finish()  # an incomplete last character becomes U+FFFD
    if rest:
        conn.sendall(f"{ECHO_PREFIX}{rest}\r\n".encode("utf-8"))


def java_address(address) -> str:
    """How Java prints a socket address.

    >>> java_address(("127.0.0.1", 6666))
    '/127.0.0.1:6666'
    """
    return f"/{address[0]}:{address[1]}"


def greeting(conn) -> None:
    """Read one Java ``writeUTF`` string and answer as the seed's GreetingServer does.

    >>> from labkit import serve, greeting_client
    >>> with serve(greeting) as server:
    ...     greeting_client(server, "你好")            # doctest: +ELLIPSIS
    '谢谢连接我:/127.0.0.1:...\\nGoodbye!'
    """
    text = read_utf(conn, timeout=conn.server.timeout)
    conn.log("read", f"readUTF() -> {text!r}")
    reply = f"{GREETING_PREFIX}{java_address(conn.local)}\nGoodbye!"
    conn.sendall(encode_utf(reply))


def clock(conn, *, now=datetime.datetime.now) -> None:
    """Push ``服务端消息: YYYY-MM-DD HH:MM:SS`` and close, as the seed's server.php does.

    >>> from labkit import serve, clock_client
    >>> with serve(clock) as server:
    ...     clock_client(server)                       # doctest: +ELLIPSIS
    '服务端消息: ...'
    """
    stamp = now().strftime("%Y-%m-%d %H:%M:%S")
    conn.sendall(f"{CLOCK_PREFIX}{stamp}".encode("utf-8"))

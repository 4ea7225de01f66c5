"""An asyncio streams echo server, in a thread of its own, for tests and the benchmark.

In a notebook, asyncio needs no thread: the kernel already runs an event loop,
so a cell can ``await asyncio.start_server(...)`` at top level and the server
keeps serving between cells (``asyncio.run()`` fails there: a loop is already
running). Outside a notebook, ``AsyncioServer`` runs ``asyncio.run()`` in a
daemon thread and has the same lifecycle as the other labkit servers: it binds
in the caller's thread (127.0.0.1, port 0), ``stop()`` is quick, idempotent and
joins the thread, and it is a context manager.

    with AsyncioServer() as server:
        labkit.echo_client(server, "你好")     # '欢迎访问>>>>你好\\r\\n'
"""

from __future__ import annotations

import asyncio
import socket
import threading

from labkit.wire.framing import TextDecoder
from labkit.wire.protocols import ECHO_PREFIX
from labkit.serving.base import LOOPBACK, BaseServer

__all__ = ["echo_stream", "AsyncioServer"]

_PREFIX = ECHO_PREFIX.encode("utf-8")


async def echo_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The echo protocol on asyncio streams: one reply per piece of text, until EOF.

    >>> from labkit import echo_client
    >>> with AsyncioServer(echo_stream) as server:
    ...     echo_client(server, "你好")
    '欢迎访问>>>>你好\\r\\n'

    In a notebook, ``await asyncio.start_server(echo_stream, "127.0.0.1", 0)`` serves
    it from the kernel's own event loop.
    """
    decoder = TextDecoder()
    try:
        while data := await reader.read(65536):
            text = decoder.feed(data)
            if text:
                writer.write(_PREFIX + text.encode("utf-8") + b"\r\n")
                await writer.drain()
        rest = decoder.finish()
        if rest:
            writer.write(_PREFIX + rest.encode("utf-8") + b"\r\n")
            await writer.drain()
    except OSError:
        pass  # the client vanished: nothing to answer
    finally:
        writer.close()


class AsyncioServer(BaseServer):
    """``asyncio.start_server(handler)`` served from an event loop in a daemon thread.

    >>> from labkit import echo_client
    >>> with AsyncioServer() as server:
    ...     echo_client(server, "hi")
    '欢迎访问>>>>hi\\r\\n'

    *handler(reader, writer)* is a coroutine function (``echo_stream`` by default).
    Unlike ``TCPServer``, silent connections are not dropped after *timeout*
    (it is accepted so that the servers can be swapped); ``stop()`` ends them.
    """

    def __init__(self, handler=echo_stream, *, host: str = LOOPBACK, port: int = 0,
                 timeout: float = 60.0, name: str | None = None, backlog: int = 1024):
        super().__init__(name or "asyncio-echo", host, port, timeout)
        self.handler = handler
        self.backlog = backlog
        self._writers: dict[int, asyncio.StreamWriter] = {}  # open connections, by number
        self.accepted = 0
        self._loop = None
        self._done = None
        self.sock = self._open(socket.SOCK_STREAM, host, port, backlog)
        self._ready = threading.Event()
        with self._starting():
            self._note_address(host)
            self._start_thread(self._run, f"labkit-{self.name}-asyncio")
        self._ready.wait(5.0)  # the loop is serving when the constructor returns

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # a bug: keep it for the owner
            self._record_error(0, exc)
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()

        async def handle(reader, writer):
            with self._lock:
                self.accepted += 1
                number = self.accepted
                self._writers[number] = writer
            try:
                await self.handler(reader, writer)
            finally:
                with self._lock:
                    self._writers.pop(number, None)

        server = await asyncio.start_server(handle, sock=self.sock, backlog=self.backlog)
        self._ready.set()
        await self._done.wait()
        server.close()
        for _ in range(3):  # handlers of connections accepted just now start and register
            await asyncio.sleep(0)
        with self._lock:
            writers = list(self._writers.values())
        for writer in writers:
            writer.transport.abort()  # their handlers see the end of the stream and return
        await asyncio.sleep(0)

    @property
    def connections(self) -> dict[int, asyncio.StreamWriter]:
        """The open connections by number (from 1, in the order they were accepted), as
        every labkit server has them; here each is the connection's StreamWriter."""
        with self._lock:
            return dict(self._writers)

    # wait_quiet() (from BaseServer) waits until no connection waits to be accepted

    def _interrupt(self) -> None:
        if self._loop is not None and self._done is not None:
            try:
                self._loop.call_soon_threadsafe(self._done.set)
            except RuntimeError:  # the loop has already closed
                pass

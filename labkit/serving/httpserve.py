"""HTTP/1.1 by hand: the standard library's server in a thread, and a client's small tools.

Theory of operation
-------------------
``serve_http()`` runs ``http.server`` (a ``ThreadingHTTPServer`` with a
``BaseHTTPRequestHandler``) the way every labkit server runs: it binds 127.0.0.1,
port 0, in the caller's thread, serves from a daemon thread, one thread per
connection, and ``stop()`` (or ``labkit.stop_all()``) shuts every connection down
and joins every thread it started. The handler never prints: each request is
recorded in ``server.requests`` and the event log.

The server answers GET with a page, framed the way it is told: ``framing="length"``
(``Content-Length``), ``"chunked"`` (``Transfer-Encoding: chunked``) or ``"close"``
(no length: the body ends when the server closes). ``keep_alive=False`` adds
``Connection: close`` to every reply. A request may choose its own framing with a
query, ``/hello?framing=chunked``. With ``split=SEED`` every reply goes out in seeded
random pieces, a few milliseconds apart, as a slow network delivers it.

Two changes to http.server, both for deterministic output: the reply has no
``Date`` header (it changes every second), and ``Server`` is ``labkit``. And one
rule it does not enforce itself: an HTTP/1.1 request without ``Host`` gets
``400 Bad Request``, as RFC 9112 requires.

For the client side, ``encode_chunked``/``decode_chunked`` are the chunked coding,
and ``split_head`` cuts the head (start line and headers) from what follows.

    server = serve_http()
    with socket.create_connection(server.address, timeout=5) as s:
        s.sendall(b"GET /hello HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
        labkit.recv_until_eof(s)        # b'HTTP/1.1 200 OK\\r\\n...'
"""

from __future__ import annotations

import http.server
import random
import socket
import time
from urllib.parse import parse_qs, urlsplit

from labkit.serving.base import LOOPBACK, SERVERS, BaseServer

__all__ = ["HttpServer", "serve_http", "encode_chunked", "decode_chunked", "split_head",
           "IncompleteMessage", "PAGES", "FRAMINGS", "ipv6_loopback_missing"]

FRAMINGS = ("length", "chunked", "close")
PAGES = {
    "/": ("text/html; charset=utf-8",
          "<!doctype html>\n<title>Socket Lab</title>\n<h1>你好, HTTP!</h1>\n"),
    "/hello": ("text/plain; charset=utf-8", "你好, HTTP!\n"),
}
_NOT_FOUND = "not found\n"


class IncompleteMessage(ValueError):
    """More bytes are needed: the head or the chunked body has not all arrived.

    >>> split_head(b"HTTP/1.1 200 OK\\r\\nContent-Le")
    Traceback (most recent call last):
    labkit.serving.httpserve.IncompleteMessage: no blank line (\\r\\n\\r\\n) yet: the head is not complete
    """


# -- the client's tools ---------------------------------------------------------------


def split_head(data: bytes) -> tuple[str, dict[str, str], bytes]:
    """Cut an HTTP message's head from what follows it.

    >>> split_head(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi")
    ('HTTP/1.1 200 OK', {'content-length': '2'}, b'hi')

    Returns (the start line, the headers with lower-case names, the bytes after the
    blank line). Raises IncompleteMessage while the blank line has not arrived.
    """
    head, blank, rest = bytes(data).partition(b"\r\n\r\n")
    if not blank:
        raise IncompleteMessage("no blank line (\\r\\n\\r\\n) yet: the head is not complete")
    start, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"a header line without a colon: {line!r}")
        headers[name.strip().lower()] = value.strip()
    return start, headers, rest


def encode_chunked(body: bytes, sizes=(16,)) -> bytes:
    """*body* in the chunked coding: chunks of the *sizes* given (the last one repeats),
    each as its size in hex, CRLF, the bytes, CRLF; then the last chunk, ``0``.

    >>> encode_chunked(b"hello, world", sizes=(5,))
    b'5\\r\\nhello\\r\\n5\\r\\n, wor\\r\\n2\\r\\nld\\r\\n0\\r\\n\\r\\n'
    """
    body, out, at, i = bytes(body), bytearray(), 0, 0
    sizes = list(sizes)
    if not sizes or any(size < 1 for size in sizes):
        raise ValueError(f"chunk sizes must be positive, not {sizes!r}")
    while at < len(body):
        size = sizes[min(i, len(sizes) - 1)]
        chunk = body[at:at + size]
        out += b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        at, i = at + size, i + 1
    return bytes(out + b"0\r\n\r\n")


def decode_chunked(data: bytes) -> tuple[bytes, bytes]:
    """Decode a chunked body from the start of *data*: (the body, the bytes after it).

    >>> decode_chunked(b"5\\r\\nhello\\r\\n1a\\r\\n" + b"x" * 26 + b"\\r\\n0\\r\\n\\r\\nNEXT")
    (b'helloxxxxxxxxxxxxxxxxxxxxxxxxxx', b'NEXT')

    Sizes are hexadecimal (``1a`` is 26); extensions after ``;`` and trailer fields are
    skipped. Raises IncompleteMessage while the last chunk (``0``) and the empty line
    after it have not all arrived, ValueError if the bytes are not chunked.
    """
    data, body, at = bytes(data), bytearray(), 0
    while True:
        end = data.find(b"\r\n", at)
        if end < 0:
            raise IncompleteMessage("a chunk's size line has not all arrived")
        text = data[at:end].split(b";", 1)[0].strip()
        try:
            size = int(text, 16)
        except ValueError:
            raise ValueError(f"not a chunk size: {text!r}") from None
        at = end + 2
        if size == 0:
            break
        if len(data) < at + size + 2:
            raise IncompleteMessage(f"a chunk of {size} bytes has not all arrived")
        if data[at + size:at + size + 2] != b"\r\n":
            raise ValueError(f"a chunk of {size} bytes is not followed by \\r\\n")
        body += data[at:at + size]
        at += size + 2
    while True:  # trailer fields, if any, then the empty line
        end = data.find(b"\r\n", at)
        if end < 0:
            raise IncompleteMessage("the end of the chunked body has not all arrived")
        line, at = data[at:end], end + 2
        if not line:
            return bytes(body), data[at:]


def ipv6_loopback_missing() -> str | None:
    """None if this host can bind IPv6's loopback ``::1``; otherwise why not, in words.

    >>> reason = ipv6_loopback_missing()
    >>> reason is None or isinstance(reason, str)
    True
    """
    if not socket.has_ipv6:
        return "this Python was built without IPv6"
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError as exc:
        return f"this host cannot bind ::1 ({exc.strerror or exc})"
    return None


# -- the server -------------------------------------------------------------------------


class _Pieces:
    """A reply writer that sends each write in seeded random pieces, a little apart."""

    def __init__(self, sock: socket.socket, rng: random.Random, pause: float):
        self._sock, self._rng, self._pause = sock, rng, pause
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one piece, one segment

    def write(self, data) -> int:
        data = bytes(data)
        at = 0
        while at < len(data):
            size = self._rng.randint(1, 12)
            self._sock.sendall(data[at:at + size])
            at += size
            if at < len(data):
                time.sleep(self._pause)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Recording:
    """The handler's reader, keeping every byte it reads in *into* (what the client sent)."""

    def __init__(self, reader, into: bytearray):
        self._reader, self._into = reader, into

    def readline(self, limit=-1):
        line = self._reader.readline(limit)
        self._into += line
        return line

    def read(self, size=-1):
        data = self._reader.read(size)
        self._into += data
        return data

    def close(self):
        self._reader.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless told otherwise
    wbufsize = 1 << 16  # a reply leaves in one write (http.server flushes after each)
    server_version = "labkit"

    def version_string(self):  # the Server header: no Python version (it varies)
        return self.server_version

    def setup(self):
        super().setup()
        owner = self.server.owner
        with owner._lock:
            owner.accepted += 1
            self.number = owner.accepted
            owner._open[self.number] = self.connection
            owner.received[self.number] = bytearray()
        self.rfile = _Recording(self.rfile, owner.received[self.number])
        if owner.split is not None:
            rng = random.Random(f"{owner.split}-{self.number}")
            self.wfile.close()  # the buffered file: it holds a reference to the socket
            self.wfile = _Pieces(self.connection, rng, owner.pause)

    def finish(self):
        try:
            super().finish()
        finally:
            owner = self.server.owner
            with owner._lock:
                owner._open.pop(self.number, None)

    def send_response(self, code, message=None):  # as http.server's, without Date
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())

    def log_message(self, format, *args):  # noqa: A002 - http.server's name
        self.server.owner.events.add(self.number, "note", format % args)

    def do_GET(self):  # noqa: N802 - http.server's name
        owner = self.server.owner
        url = urlsplit(self.path)
        framing = parse_qs(url.query).get("framing", [owner.framing])[0]
        owner._note(self.number, self.requestline, dict(self.headers.items()))
        if self.request_version == "HTTP/1.1" and "Host" not in self.headers:
            self.send_error(400, "Bad Request", "an HTTP/1.1 request needs a Host header")
            return
        if framing not in FRAMINGS:
            self.send_error(400, "Bad Request", f"framing must be one of {', '.join(FRAMINGS)}")
            return
        if url.path in owner.pages:
            status, (kind, body) = 200, owner.pages[url.path]
        else:
            status, kind, body = 404, "text/plain; charset=utf-8", _NOT_FOUND
        body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        name = str.lower if owner.lower_headers else str
        self.send_response(status)
        self.send_header(name("Content-Type"), kind)
        if framing == "chunked" and self.request_version == "HTTP/1.1":
            self.send_header(name("Transfer-Encoding"), "chunked")
            body = encode_chunked(body, owner.chunk_sizes) if body else b"0\r\n\r\n"
        elif framing == "length":
            self.send_header(name("Content-Length"), str(len(body)))
        if framing == "close" or not owner.keep_alive:
            self.send_header(name("Connection"), "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        owner.events.add(self.number, "note", f"replied {status} ({framing})")
        with owner._lock:
            owner.replies += 1


class _Httpd(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner, address):
        self.owner = owner
        super().__init__(address, _Handler)

    def server_bind(self):  # no getfqdn(): it may ask a name server
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):  # a thread that stop() joins
        request.settimeout(self.owner.timeout)  # a silent client cannot hold a thread
        self.owner._start_thread(self.process_request_thread, "labkit-http-conn",
                                 request, client_address)

    def handle_error(self, request, client_address):  # never print from a thread
        pass


class HttpServer(BaseServer):
    """``http.server`` in a background thread, on 127.0.0.1 and a port the system picks.

    >>> import http.client
    >>> with HttpServer() as server:
    ...     client = http.client.HTTPConnection(*server.address, timeout=5)
    ...     client.request("GET", "/hello")
    ...     reply = client.getresponse()
    ...     reply.status, reply.read().decode(), reply.getheader("Content-Length")
    ...     client.close()
    (200, '你好, HTTP!\\n', '14')

    Settings may be changed while it runs: ``framing``, ``keep_alive``, ``split``.
    """

    def __init__(self, pages=None, *, framing: str = "length", keep_alive: bool = True,
                 split=None, pause: float = 0.002, chunk_sizes=(5, 16, 26),
                 lower_headers: bool = False, host: str = LOOPBACK, port: int = 0,
                 timeout: float = 5.0, name: str | None = None):
        super().__init__(name or "http", host, port, timeout)
        if framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, not {framing!r}")
        self.pages = dict(PAGES if pages is None else pages)
        self.framing, self.keep_alive, self.split, self.pause = framing, keep_alive, split, pause
        self.chunk_sizes, self.lower_headers = tuple(chunk_sizes), lower_headers
        self.accepted = self.replies = 0
        self.requests: list[tuple[int, str, dict]] = []  # (connection, request line, headers)
        self.received: dict[int, bytearray] = {}  # what each connection's client sent
        self._open: dict[int, socket.socket] = {}
        try:
            self._httpd = _Httpd(self, (host, port))
        except BaseException:
            self._wake_r.close()
            self._wake_w.close()
            raise
        self.sock = self._httpd.socket
        with self._starting():
            self._note_address(host)
            self._start_thread(self._httpd.serve_forever, "labkit-http-serve", 0.02)

    def _note(self, number: int, line: str, headers: dict) -> None:
        with self._lock:
            self.requests.append((number, line, headers))

    @property
    def open_connections(self) -> int:
        """How many connections are open now."""
        with self._lock:
            return len(self._open)

    def url(self, path: str = "/") -> str:
        """The address of *path* on this server, for a browser or urllib."""
        return f"http://{self.host}:{self.port}{path}"

    def _interrupt(self) -> None:
        with self._lock:
            conns = list(self._open.values())
        for conn in conns:  # a handler waiting for the next request gets EOF at once
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self, timeout: float = 1.0) -> None:
        """Stop serving and join every thread this server started. Safe to call twice."""
        with self._lock:
            first = not self._stopped
        if first:
            self._httpd.shutdown()  # waits (a poll, 20 ms at most) until serve_forever ends
        super().stop(timeout)
        self._httpd.server_close()

    def _quiet(self) -> bool:
        return super()._quiet() and self.open_connections == 0

    def __repr__(self) -> str:
        state = f"listening on {self.host}:{self.port}" if self.running else "stopped"
        return f"<HttpServer {self.name!r} {state}, framing={self.framing!r}>"


def serve_http(pages=None, *, name: str = "http", **options) -> HttpServer:
    """Start an :class:`HttpServer`, replacing a running one of the same *name*.

    >>> server = serve_http(framing="chunked")     # re-running this cell is safe
    >>> server.url("/hello")                       # doctest: +ELLIPSIS
    'http://127.0.0.1:.../hello'
    >>> server.stop()
    """
    return SERVERS.replace(name, lambda: HttpServer(pages, name=name, **options))

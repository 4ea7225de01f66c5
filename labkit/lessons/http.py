"""Exercises of lesson 11-http-by-hand: a GET by hand, and a small HTTP server.

How the checks work
-------------------
``11-get`` runs the learner's ``get(address, path)`` against four of labkit's HTTP
servers (``labkit.httpserve``), each a new one, each sending its reply in seeded random
pieces a few milliseconds apart and keeping the connection open afterwards (HTTP/1.1
keep-alive): a page by ``Content-Length``, a page in the chunked coding (chunk sizes
5, 16 and 26, so ``10`` and ``1a`` appear in hex), a 404 whose header names are in
lower case, and a page framed by the close of the connection. What the server read is
recorded, so a request without ``Host`` or without its empty line is named; a call that
is still reading after the whole reply went out is told that keep-alive never sends
``b''``.

``11-server`` serves the learner's ``handle(conn)`` with a labkit ``TCPServer`` (a
thread per connection, as ``labkit.serve`` does) and plays, in turn: a plain GET; a real
``http.client`` asking twice on one connection; a request sent a byte at a time, each
byte only when the handler waits for it (so an answer before the empty line is seen on
every run); two requests back to back in seeded random pieces; garbage; a request
without ``Host``; ``Connection: close``; a client that stalls mid-request while
another is served, then vanishes with a reset; and one more GET after it. An answer that
hands 11-get's work to ``http.client`` or ``urllib`` is told so. A handler that calls ``recv`` again and
again after ``b''`` is stopped and named.
"""

from __future__ import annotations

import http
import http.client
import random
import socket
import struct
import time

from ..exercises import NotYet, _refers_to, register
from ..httpserve import HttpServer, IncompleteMessage, encode_chunked, split_head
from ..servers import TCPServer, _any_readable
from .checksockets import SPIN, Stopped, cut
from .connect import outcome

# -- 11-get ------------------------------------------------------------------------------

_GET = '''
def get(address, path):
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\\r\\nHost: {address[0]}\\r\\n\\r\\n".encode())
        data = b""
        while b"\\r\\n\\r\\n" not in data:           # the head ends with an empty line
            data += recv_some(sock)
        head, body = data.split(b"\\r\\n\\r\\n", 1)
        status_line, *lines = head.decode("latin-1").split("\\r\\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()    # names ignore case
        status = int(status_line.split()[1])
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                try:
                    return status, labkit.decode_chunked(body)[0]
                except labkit.IncompleteMessage:             # not all there yet
                    body += recv_some(sock)
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(body) < length:
                body += recv_some(sock)
            return status, body[:length]
        while chunk := sock.recv(4096):                      # no length: until close
            body += chunk
        return status, body

def recv_some(sock):
    chunk = sock.recv(4096)
    if not chunk:
        raise ConnectionError("the server closed in the middle of its reply")
    return chunk
'''

POEM = ("床前明月光,\n疑是地上霜.\n举头望明月,\n低头思故乡.\n"
        "Before my bed the moonlight gleams, like frost upon the ground.\n")
HELLO = "你好, HTTP!\n"
_PAGES = {"/hello": ("text/plain; charset=utf-8", HELLO),
          "/poem": ("text/plain; charset=utf-8", POEM)}

# (path, what the server does, its settings, the status and body get() must return)
_ROUNDS = [
    ("/hello", "a reply framed by Content-Length", dict(framing="length", split=11),
     200, HELLO.encode()),
    ("/poem", "a chunked reply (Transfer-Encoding: chunked)", dict(framing="chunked", split=12),
     200, POEM.encode()),
    ("/missing", "a 404 reply whose header names are in lower case",
     dict(framing="length", split=13, lower_headers=True), 404, b"not found\n"),
    ("/hello", "a reply with no length, ended by the server's close",
     dict(framing="close", split=14), 200, HELLO.encode()),
]


@register("11-get", title="GET a page by hand", solution=_GET, hints=[
    "Send the request line, a Host header, and an empty line, every line ending in \\r\\n: "
    "f\"GET {path} HTTP/1.1\\r\\nHost: {address[0]}\\r\\n\\r\\n\". Then read until the "
    "head's end, b\"\\r\\n\\r\\n\", has arrived; keep what came after it, the start of the "
    "body.",
    "Split the head on \\r\\n: the first line is the status line (the status is its second "
    "word), the others are headers. Header names ignore case: keep them in lower case.",
    "The body's end: Content-Length bytes after the head; or, for Transfer-Encoding: "
    "chunked, the chunk of size 0 (labkit.decode_chunked raises labkit.IncompleteMessage "
    "until it is there); or, with neither, the server's close. Never wait for the close "
    "otherwise: a keep-alive server does not close.",
])
def _check_get(get) -> str:
    import urllib
    import urllib.request

    if _refers_to(get, [http, http.client, http.client.HTTPConnection, urllib, urllib.request,
                        urllib.request.urlopen]):
        raise NotYet("Your get() uses http.client or urllib, which do the work for you. The "
                     "point is to do it yourself: write the request on a socket, and read "
                     "the reply's head and body with recv().")
    for path, how, settings, status, body in _ROUNDS:
        with HttpServer(_PAGES, name="exercise-http", **settings) as server:
            what = f"get(address, {path!r})"
            try:
                value, error = outcome(get, server.address, path, timeout=3, what=what)
            except NotYet:
                raise NotYet(_stuck(server, what, how)) from None
            _judge_request(server, what)
            _judge_reply(value, error, what, how, status, body)
    return ("four replies in pieces came back right: by Content-Length, chunked, a 404 with "
            "lower-case header names, and one ended by the close.")


def _request_of(server: HttpServer) -> bytes:
    return bytes(server.received.get(1, b""))


def _stuck(server: HttpServer, what: str, how: str) -> str:
    sent = _request_of(server)
    if server.accepted == 0:
        return f"{what} did not return within 3 s, and never connected to the server."
    if not server.requests:
        if not sent:
            return (f"{what} connected but did not return within 3 s, and the server never "
                    "got a whole request line: send it, ending with \\r\\n.")
        return (f"{what} did not return within 3 s: the server got {sent!r} and still "
                "waits for the end of the request, an empty line. End the headers with "
                "\\r\\n\\r\\n: the last header's line end, then an empty line.")
    if server.replies:
        end = ("the chunk of size 0 and the empty line after it" if "chunked" in how
               else "Content-Length bytes after the head")
        return (f"{what} was still reading 3 s after the server had sent {how}, whole. The "
                "server keeps the connection open for the next request (HTTP/1.1 "
                "keep-alive), so recv() does not return b'' and reading until the close "
                "waits for ever. Find the end of the head (b'\\r\\n\\r\\n': every line ends "
                f"with \\r\\n), then stop at the end of the body: {end}.")
    return f"{what} did not return within 3 s."


def _judge_request(server: HttpServer, what: str) -> None:
    sent = _request_of(server)
    if not server.requests:
        return
    _, line, headers = server.requests[0]
    if b"\n" in sent.replace(b"\r\n", b""):
        raise NotYet(f"{what} sent {sent!r}: its lines end with \\n alone. HTTP's lines end "
                     "with \\r\\n (http.server lets it pass; many servers answer 400).")
    if not line.endswith(" HTTP/1.1"):
        raise NotYet(f"{what} sent the request line {line!r}; send HTTP/1.1, as in "
                     "'GET /hello HTTP/1.1'.")
    if "Host" not in headers:
        raise NotYet(f"{what} sent {sent!r}, with no Host header, and the server answered 400 "
                     "Bad Request: HTTP/1.1 requires Host. Add a line 'Host: 127.0.0.1' "
                     "(the server's host).")


def _judge_reply(value, error, what: str, how: str, status: int, body: bytes) -> None:
    said = f"Given {how}, {what}"
    if isinstance(error, KeyError) and str(error.args[0]).lower() != str(error.args[0]):
        raise NotYet(f"{said} raised KeyError: {error}. Header names ignore case, and this "
                     f"server sent {str(error.args[0]).lower()!r}: keep the names in lower "
                     "case, name.strip().lower(), and look them up that way.")
    if isinstance(error, KeyError) and "no length" in how:
        raise NotYet(f"{said} raised KeyError: {error}. With neither Content-Length nor "
                     "chunked, the body ends when the server closes (it said Connection: "
                     "close): read until recv() returns b''.")
    if (isinstance(error, ValueError) and "chunked" in how
            and not isinstance(error, IncompleteMessage)):
        raise NotYet(f"{said} raised ValueError: {error}. Chunk sizes are hexadecimal: "
                     "int(size, 16), so '1a' is 26.")
    if error is not None:
        raise NotYet(f"{said} raised {type(error).__name__}: {error}. The reply came in "
                     "pieces of a few bytes: one recv() returns only what has arrived so far, "
                     "maybe part of the head. Read until b'\\r\\n\\r\\n' is there, then "
                     "until the body is complete.")
    if not (isinstance(value, tuple) and len(value) == 2):
        raise NotYet(f"{said} returned {value!r}; return a pair (status, body), such as "
                     "(200, b'...').")
    got_status, got_body = value
    if isinstance(got_status, str) and got_status.strip() == str(status):
        raise NotYet(f"{said} returned the status {got_status!r}; return it as an int: "
                     f"{status}.")
    if isinstance(got_body, str):
        raise NotYet(f"{said} returned the body as a str; return bytes. (Content-Length "
                     "counts bytes, not characters: decoding first miscounts 你好.)")
    if got_status != status:
        raise NotYet(f"{said} returned the status {got_status!r}; the server sent {status}.")
    if not isinstance(got_body, (bytes, bytearray)):
        raise NotYet(f"{said} returned the body {got_body!r}; return bytes.")
    got_body = bytes(got_body)
    if got_body == body:
        return
    chunked = encode_chunked(body, (5, 16, 26))
    if "chunked" in how and got_body and chunked.startswith(got_body):
        raise NotYet(f"{said} returned {got_body[:24]!r}...: the body still in its chunked coding, "
                     "sizes and all. Decode it: each chunk is its size in hex, \\r\\n, the "
                     "bytes, \\r\\n; a chunk of size 0 ends the body.")
    if b"\r\n\r\n" in got_body or got_body.startswith(b"HTTP/"):
        raise NotYet(f"{said} returned a body with the head in it: {got_body[:40]!r}... The "
                     "body starts after the empty line, b'\\r\\n\\r\\n'.")
    if body.startswith(got_body):
        raise NotYet(f"{said} returned only the first {len(got_body)} of the body's "
                     f"{len(body)} bytes: the reply came in pieces, and one recv() returns "
                     "what has arrived so far. Keep reading until the body is complete.")
    if "chunked" in how:
        raise NotYet(f"{said} returned {got_body!r}; the body was {body!r}. Chunk sizes are "
                     "hexadecimal: int(size, 16), so '10' is 16 and '1a' is 26.")
    raise NotYet(f"{said} returned {got_body!r}; the body was {body!r}.")


# -- 11-server ---------------------------------------------------------------------------

_SERVER = '''
PAGE = "<!doctype html>\\n<title>Socket Lab</title>\\n<h1>你好, HTTP!</h1>\\n".encode()

def handle(conn):
    data = b""
    while True:                                  # one request after another (keep-alive)
        while b"\\r\\n\\r\\n" not in data:         # until the empty line
            chunk = conn.recv(4096)
            if not chunk:
                return                           # the client has gone
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)  # keep the rest: the next request
        request_line, *lines = head.decode("latin-1").split("\\r\\n")
        headers = {}
        for line in lines:
            name, colon, value = line.partition(":")
            headers[name.strip().lower()] = value.strip() if colon else None
        parts = request_line.split(" ")
        if (len(parts) != 3 or not parts[2].startswith("HTTP/") or None in headers.values()
                or "host" not in headers):
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        close = headers.get("connection", "").lower() == "close"
        if parts[1] == "/":
            reply(conn, "200 OK", PAGE, close)
        else:
            reply(conn, "404 Not Found", b"not found\\n", close)
        if close:
            return

def reply(conn, status, body, close=False):
    head = f"HTTP/1.1 {status}\\r\\nContent-Type: text/html; charset=utf-8\\r\\n"
    head += f"Content-Length: {len(body)}\\r\\n"            # bytes, not characters
    if close:
        head += "Connection: close\\r\\n"
    conn.sendall(head.encode() + b"\\r\\n" + body)
'''

_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class _Spun(Stopped):
    """Raised into the handler: recv() called again and again after b''."""


class _CheckedConn:
    """The Connection handed to the learner's handler; stops a loop that recv()s for ever
    after b''."""

    def __init__(self, conn):
        self._conn, self._after_eof = conn, 0
        self.eof = False

    def recv(self, bufsize: int = 65536) -> bytes:
        if self.eof:
            self._after_eof += 1
            if self._after_eof > SPIN:
                raise _Spun(f"the check stopped a loop that called recv() {SPIN} times after "
                            "it had returned b''")
        data = self._conn.recv(bufsize)
        self.eof = self.eof or not data
        return data

    def __getattr__(self, name):
        return getattr(self._conn, name)


class _Client:
    """The check's client: a socket, and the bytes it has read but not used yet."""

    def __init__(self, address):
        self.sock = socket.create_connection(address, timeout=3)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.sock.close()


def _read_reply(client: _Client, wait: float = 2.0):
    """The next reply on *client*: (start line, headers, body, closed); start line and
    headers are None if no whole head came within *wait* s (body: what came). The body is
    read by Content-Length, or until the close; what follows stays in client.buffer."""
    data, client.buffer = client.buffer, b""
    deadline = time.monotonic() + wait
    while True:
        try:
            start, headers, rest = split_head(data)
            break
        except IncompleteMessage:
            pass
        except ValueError:  # a head line without a colon: judge it by its start line
            start, rest = data.partition(b"\r\n\r\n")[0].decode("latin-1"), b""
            return start.split("\r\n")[0], {}, rest, False
        chunk = _recv_until(client.sock, deadline)
        if not chunk:
            return (None, None, data, chunk == b"")
        data += chunk
    length = headers.get("content-length")
    want = int(length) if length is not None and length.isdigit() else None
    closed = False
    while want is None or len(rest) < want:
        chunk = _recv_until(client.sock, deadline)
        if not chunk:
            closed = chunk == b""
            break
        rest += chunk
    if want is not None and len(rest) > want and not _looks_like_reply(rest[want:]):
        return start, headers, rest, closed  # more than it said: the check names it
    if want is not None:
        rest, client.buffer = rest[:want], rest[want:]
    return start, headers, rest, closed


def _looks_like_reply(data: bytes) -> bool:
    return data.startswith(b"HTTP/")


def _recv_until(sock: socket.socket, deadline: float):
    """The next bytes, b'' at the close, None if nothing came before *deadline*."""
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        return sock.recv(65536)
    except socket.timeout:
        return None
    except ConnectionError:
        return b""


def _closes(client: _Client, wait: float = 2.0) -> bool:
    deadline = time.monotonic() + wait
    while True:
        chunk = _recv_until(client.sock, deadline)
        if chunk is None:
            return False
        if not chunk:
            return True


@register("11-server", title="A small HTTP server", solution=_SERVER, hints=[
    "Keep a buffer. recv() and add to it until it holds b'\\r\\n\\r\\n', the empty line that "
    "ends a request's head; split there, and keep what follows: it is the start of the next "
    "request. If recv() returns b'', the client has gone: return.",
    "The head is the request line, 'GET / HTTP/1.1', then headers 'Name: value', lines "
    "ending with \\r\\n. A request line that is not three words, a header line without a "
    "colon, or an HTTP/1.1 request without Host: answer 400 Bad Request with Connection: "
    "close, and return.",
    "The reply: 'HTTP/1.1 200 OK\\r\\n', 'Content-Length: N\\r\\n' with N = len(body) in "
    "bytes, an empty line, the body. 404 for any path but /. Then loop for the next request, "
    "unless the request said Connection: close.",
])
def _check_server(handle) -> str:
    conns: list[_CheckedConn] = []

    def serve(conn):
        checked = _CheckedConn(conn)
        conns.append(checked)
        return handle(checked)

    with TCPServer(serve, name="exercise-http-server", timeout=3) as server:
        for step in (_plain, _two_on_one, _byte_by_byte, _pipelined, _garbage, _no_host,
                     _close_asked, _slow_and_vanishing):
            before = len(server.errors)
            try:
                step(server)
            except OSError as exc:
                _errors(server, before, step.__doc__)
                raise NotYet(f"{step.__doc__}: the check's client got {type(exc).__name__}: "
                             f"{exc}") from None
            except NotYet:
                _errors(server, before, step.__doc__)
                raise
            _errors(server, before, step.__doc__)
    return ("the page came back to http.client twice on one connection, and the server survived a "
            "byte at a time, pipelining, garbage, a missing Host, a stalled client and a "
            "vanished one.")


def _errors(server: TCPServer, before: int, when: str) -> None:
    """NotYet if the learner's handler raised since the step began."""
    deadline = time.monotonic() + 0.3
    while len(server.errors) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    if len(server.errors) > before:
        exc = server.errors[before]
        if isinstance(exc, _Spun):
            raise NotYet("When a client closed, handle(conn) kept calling conn.recv() after "
                         "it had returned b''. b'' means the client has gone, and recv() then "
                         "returns it at once, for ever: return when it does.")
        detail = f": {exc}" if str(exc) else ""
        text = f"handle(conn) raised {type(exc).__name__}{detail}, given {when}."
        if "Host" in when:
            text += (" HTTP/1.1 requires Host (RFC 9112): check for it, and answer 400 Bad "
                     "Request when it is missing.")
        elif "garbage" in when:
            text += (" A request line is three words, such as 'GET / HTTP/1.1': answer "
                     "anything else with 400 Bad Request, Connection: close, and return.")
        raise NotYet(text)


def _client(server: TCPServer) -> _Client:
    return _Client(server.address)


def _expect_reply(sock, what: str, status: int, *, wait: float = 2.0):
    start, headers, body, closed = _read_reply(sock, wait)
    if start is None:
        if b"\n\n" in body and b"\r\n\r\n" not in body:
            raise NotYet(f"To {what}, the server sent {body[:60]!r}...: the lines of its head "
                         "end with \\n alone. HTTP's lines end with \\r\\n, and an empty line "
                         "(\\r\\n\\r\\n) ends the head.")
        if body:
            raise NotYet(f"To {what}, the server sent {body[:60]!r} and no empty line "
                         "(\\r\\n\\r\\n) to end the head of its reply.")
        if closed:
            raise NotYet(f"To {what}, the server closed the connection without a reply.")
        raise NotYet(f"To {what}, no reply came within {wait:g} s.")
    parts = start.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise NotYet(f"To {what}, the server's reply began {start!r}; a reply begins with a "
                     f"status line such as 'HTTP/1.1 {status} ...'.")
    if int(parts[1]) != status:
        raise NotYet(f"To {what}, the server answered {start!r}; the answer is {status}.")
    if "content-length" not in headers and "transfer-encoding" not in headers:
        if headers.get("connection", "").lower() != "close" or not closed:
            raise NotYet(f"To {what}, the server answered {start!r} with no Content-Length: "
                         "the client cannot tell where the body ends, and waits for more. "
                         "Send 'Content-Length: N' with N = len(body) in bytes.")
    length = headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) != len(body)):
        raise NotYet(f"To {what}, the server said Content-Length: {length}, and "
                     f"{len(body)} bytes followed. Content-Length counts the body's bytes "
                     "(len(body) of the encoded bytes), not its characters.")
    return start, headers, body, closed


def _plain(server: TCPServer) -> None:
    """a plain GET /"""
    with _client(server) as sock:
        sock.sendall(_REQUEST)
        _, _, body, _ = _expect_reply(sock, "a plain 'GET / HTTP/1.1' with a Host header", 200)
        if not body:
            raise NotYet("To a plain 'GET /', the server sent an empty page: send a page, "
                         "with some text in it.")


def _two_on_one(server: TCPServer) -> None:
    """http.client asking GET / and GET /nope on one connection"""
    accepted = server.accepted
    client = http.client.HTTPConnection(*server.address, timeout=3)
    try:
        client.request("GET", "/")
        first = client.getresponse()
        first.read()
        if first.status != 200:
            raise NotYet(f"http.client asked GET / and got {first.status}; the answer is 200.")
        try:
            client.request("GET", "/nope")
            second = client.getresponse()
            second.read()
        except (http.client.RemoteDisconnected, ConnectionError):
            raise NotYet("http.client asked GET / and then GET /nope on the same connection, "
                         "and the second failed: the server had closed the "
                         "connection after one request without saying Connection: close. In "
                         "HTTP/1.1 a connection stays open for more requests (keep-alive): "
                         "loop, and serve requests until the client closes.") from None
        if second.status != 404:
            raise NotYet(f"http.client asked GET /nope and got {second.status}; for a path "
                         "you do not have, the answer is 404 Not Found.")
    except socket.timeout:
        raise NotYet("http.client asked GET / and waited 3 s for the end of the reply: send "
                     "Content-Length, so it knows where the body ends.") from None
    finally:
        client.close()
    if server.accepted != accepted + 1:
        raise NotYet("http.client had to connect again for its second request: the server "
                     "closed the connection after the first. Keep it open and loop.")


def _byte_by_byte(server: TCPServer) -> None:
    """a request sent one byte at a time"""
    with _client(server) as sock:
        for i in range(len(_REQUEST)):
            _wait_reading(server)
            early = _early(sock) if i else None
            if early is not None:
                got = (f"answered {early[:30]!r}..." if early
                       else "closed the connection")
                raise NotYet(f"With a request sent a byte at a time, the server {got} when "
                             f"only {_count(i)} of it had arrived ({_REQUEST[:i]!r}), before "
                             "its empty line. A recv() returns what has arrived so far: keep "
                             "reading until b'\\r\\n\\r\\n' is in what you have, however "
                             "many recv() calls that takes.")
            try:
                sock.sendall(_REQUEST[i:i + 1])
            except ConnectionError:
                raise NotYet(f"With a request sent a byte at a time, the server dropped the "
                             f"connection when only {_count(i)} of it had arrived "
                             f"({_REQUEST[:i]!r}). Keep reading until b'\\r\\n\\r\\n' is "
                             "in what you have.") from None
        _expect_reply(sock, "a request sent one byte at a time", 200)


def _count(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


def _early(client: _Client):
    """What the server has sent already: bytes, b'' if it closed, or None (nothing)."""
    sock = client.sock
    sock.settimeout(0.005)
    try:
        return sock.recv(65536)
    except socket.timeout:
        return None
    except ConnectionError:
        return b""
    finally:
        sock.settimeout(3)


def _wait_reading(server: TCPServer, wait: float = 1.0) -> None:
    """Until the handler waits in recv() with nothing left to read (or *wait* s)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with server._lock:
            conns = [c for c in server.connections.values() if not c.done]
        if conns and all(c.waiting and not _any_readable([c.sock]) for c in conns):
            return
        time.sleep(0.001)


def _pipelined(server: TCPServer) -> None:
    """two requests back to back, in random pieces"""
    data = _REQUEST + b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    rng = random.Random(11)
    end = len(_REQUEST)  # one piece carries the first's end and the second's start
    offsets = (rng.sample(range(1, end - 4), 4) + [end - 4, end + 12]
               + rng.sample(range(end + 13, len(data)), 4))
    with _client(server) as sock:
        for piece in cut(data, offsets):
            _wait_reading(server, 0.2)
            sock.sendall(piece)
        what = "two requests sent back to back"
        _expect_reply(sock, f"the first of {what}, GET /", 200)
        start, _, _, _ = _read_reply(sock)
        if start is None:
            raise NotYet(f"To {what} (GET / and GET /nope, the second's start in the same "
                         "recv() as the first's end), the server answered only the first. "
                         "What follows the empty line is the next request: keep it in your "
                         "buffer, and serve it.")
        status = start.split(" ")[1] if " " in start else start
        if status != "404":
            raise NotYet(f"To the second of {what}, GET /nope, the server answered {start!r}: "
                         "keep the bytes after the first request's empty line, they are "
                         "the start of the next request.")


def _garbage(server: TCPServer) -> None:
    """garbage instead of a request"""
    with _client(server) as sock:
        sock.sendall(b"HELLO THERE\r\n\r\n")
        start, _, _, closed = _read_reply(sock)
        if start is None or start.split(" ")[1:2] != ["400"]:
            got = "no reply" if start is None else repr(start)
            raise NotYet(f"To garbage ('HELLO THERE', then an empty line), the server "
                         f"answered {got}: a request line is three words, such as 'GET / "
                         "HTTP/1.1'. Answer anything else with 400 Bad Request, Connection: "
                         "close, and close.")
        if not closed and not _closes(sock):
            raise NotYet("After its 400 Bad Request to garbage, the server kept the "
                         "connection open: after garbage nothing on it can be trusted. Say "
                         "Connection: close, and return from handle().")


def _no_host(server: TCPServer) -> None:
    """a request without Host"""
    with _client(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
        start, _, _, _ = _read_reply(sock)
        if start is None or start.split(" ")[1:2] != ["400"]:
            got = "no reply" if start is None else repr(start)
            raise NotYet(f"To 'GET / HTTP/1.1' with no Host header, the server answered "
                         f"{got}. HTTP/1.1 requires Host (RFC 9112): answer 400 Bad Request, "
                         "as real servers do.")


def _close_asked(server: TCPServer) -> None:
    """a request with Connection: close"""
    with _client(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        _, _, _, closed = _expect_reply(sock, "a request with 'Connection: close'", 200)
        if not closed and not _closes(sock):
            raise NotYet("A request said 'Connection: close', and after the reply the server "
                         "kept the connection open: a client that reads until the close waits "
                         "for ever. After the reply to such a request, return from handle().")


def _slow_and_vanishing(server: TCPServer) -> None:
    """a stalled client, then one that vanishes"""
    slow = _client(server)
    try:
        slow.sendall(b"GET / HT")
        other = http.client.HTTPConnection(*server.address, timeout=3)
        try:
            other.request("GET", "/")
            answer = other.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException) as exc:
            raise NotYet(f"While one client stalled in the middle of its request, another "
                         f"asked GET / and got {type(exc).__name__}: serve each connection "
                         "on its own.") from None
        finally:
            other.close()
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        slow.sock.close()  # with SO_LINGER 0: a reset, mid-request
    with _client(server) as sock:  # and the server goes on serving
        sock.sendall(_REQUEST)
        _expect_reply(sock, "a GET / after a client had vanished mid-request", 200)

"""Lesson 11-http-by-hand's second exercise, 11-server: a small HTTP server, played by a real
``http.client``, a byte-at-a-time client, pipelined requests, garbage, a missing ``Host``,
header names in other cases and a client that stalls and vanishes; its page must say that
it is HTML in UTF-8 (see :mod:`labkit.exercises.http` for the whole story)."""

import http
import http.client
import random
import socket
import struct
import time

from labkit.exercises.checksockets import cut
from labkit.exercises.core import register
from labkit.exercises.watch import NotYet
from labkit.serving.servers import TCPServer
from labkit.exercises.httpclients import (_CheckedConn, _Client, _closes, _count, _early,
                                          _read_reply, _REQUEST, _Spun, _wait_reading)


_SERVER = '''
PAGE = ('<!doctype html>\\n<meta charset="utf-8">\\n<title>Socket Lab</title>\\n'
        '<h1>你好, HTTP!</h1>\\n').encode()

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

@register("11-server", title="A small HTTP server", solution=_SERVER, hints=[
    "Keep a buffer. recv() and add to it until it holds b'\\r\\n\\r\\n', the empty line that "
    "ends a request's head; split there, and keep what follows: it is the start of the next "
    "request. If recv() returns b'', the client has gone: return.",
    "The head is the request line, 'GET / HTTP/1.1', then headers 'Name: value', lines "
    "ending with \\r\\n. Header names ignore case (Host, host, HOST): keep them in lower "
    "case, and look them up that way. A request line that is not three words, a header "
    "line without a colon, or an HTTP/1.1 request without Host: answer 400 Bad Request "
    "with Connection: close, and return.",
    "The reply: 'HTTP/1.1 200 OK\\r\\n', 'Content-Type: text/html; charset=utf-8\\r\\n' "
    "(without it a browser guesses, and may show 你好 as ä½ å¥½), "
    "'Content-Length: N\\r\\n' with N = len(body) in bytes, an empty line, the body. 404 "
    "for any path but /. Then loop for the next request, unless the request said "
    "Connection: close (in any case).",
])
def _check_server(handle) -> str:
    conns: list[_CheckedConn] = []

    def serve(conn):
        checked = _CheckedConn(conn)
        conns.append(checked)
        return handle(checked)

    with TCPServer(serve, name="exercise-http-server", timeout=3) as server:
        for step in (_plain, _two_on_one, _byte_by_byte, _pipelined, _garbage, _no_colon,
                     _no_host, _host_in_lower_case, _close_asked, _slow_and_vanishing):
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
    return ("the page came back, as HTML in UTF-8, to http.client twice on one connection, "
            "and the server survived a byte at a time, pipelining, garbage, a missing Host, "
            "header names in any case, a stalled client and a vanished one.")


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
        elif "case" in when:
            text += (" Header names ignore case: keep them in lower case, "
                     "name.strip().lower(), and look them up that way.")
        elif "colon" in when:
            text += (" Every header line is 'Name: value': line.partition(':') tells you "
                     "when the colon is missing. Answer 400 Bad Request, Connection: close, "
                     "and return.")
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
        start, headers, body, _ = _expect_reply(sock, "a plain 'GET / HTTP/1.1' with a Host "
                                                "header", 200)
        if not body:
            raise NotYet("To a plain 'GET /', the server sent an empty page: send a page, "
                         "with some text in it.")
        _judge_type(start, headers.get("content-type"))


def _judge_type(start: str, kind) -> None:
    """NotYet unless *kind* (the page's Content-Type) says HTML in UTF-8."""
    said = f"To a plain 'GET /', the server answered {start!r}"
    fix = ("Send 'Content-Type: text/html; charset=utf-8': a browser must be told that the "
           "page is HTML, and that its bytes are UTF-8 (what str.encode() makes).")
    if kind is None:
        raise NotYet(f"{said} with no Content-Type. A browser then guesses what the bytes "
                     f"are, and may show 你好 as 'ä½ å¥½'. {fix}")
    media, *params = kind.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if media.strip().lower() != "text/html":
        raise NotYet(f"{said} with 'Content-Type: {kind}': a browser does not show that "
                     f"as a web page. {fix}")
    if charset is None:
        raise NotYet(f"{said} with 'Content-Type: {kind}', which names no charset. A "
                     "browser then looks for one in the page, or guesses, and may show 你好 "
                     f"as 'ä½ å¥½'. {fix}")
    if charset not in ("utf-8", "utf8"):
        raise NotYet(f"{said} with 'Content-Type: {kind}', but the bytes of a str.encode() "
                     f"are UTF-8, and a browser reads them as {charset}. {fix}")


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


def _no_colon(server: TCPServer) -> None:
    """a header line without a colon"""
    with _client(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n")
        start, _, _, closed = _read_reply(sock)
        if start is None or start.split(" ")[1:2] != ["400"]:
            got = "no reply" if start is None else repr(start)
            raise NotYet(f"To a request with the header line 'no colon here', the server "
                         f"answered {got}: a header line is 'Name: value'. Answer a request "
                         "with any other line with 400 Bad Request, Connection: close, and close.")
        if not closed and not _closes(sock):
            raise NotYet("After its 400 Bad Request to a header line without a colon, the "
                         "server kept the connection open. Say Connection: close, and return "
                         "from handle().")


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


def _host_in_lower_case(server: TCPServer) -> None:
    """a request whose header names are in another case ('host:')"""
    with _client(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        start, _, _, _ = _read_reply(sock)
        if start is None or start.split(" ")[1:2] != ["200"]:
            got = "no reply" if start is None else repr(start)
            raise NotYet(f"To 'GET / HTTP/1.1' with 'host: 127.0.0.1', its name in lower "
                         f"case, the server answered {got}. Header names ignore case: host, "
                         "Host and HOST are the same header. Keep the names in lower case, "
                         "name.strip().lower(), and look them up that way.")


_CLOSE_CASES = {  # how a request says Connection: close, and what is wrong if it is missed
    "Connection: close": (", and after the reply the server kept the connection open: a "
                          "client that reads until the close waits for ever. After the reply "
                          "to such a request, return from handle()."),
    "CONNECTION: close": (", and the server kept the connection open after the reply, though "
                          "it closes after 'Connection: close'. Header names ignore case: "
                          "CONNECTION, Connection and connection are the same header. Keep "
                          "the names in lower case, name.strip().lower(), and look them up "
                          "that way."),
    "connection: Close": (", and the server kept the connection open after the reply, though "
                          "it closes after 'Connection: close'. In this header the word close "
                          "ignores case too, as header names do: compare "
                          "value.strip().lower() with 'close'."),
}


def _close_asked(server: TCPServer) -> None:
    """a request with Connection: close"""
    for line, why in _CLOSE_CASES.items():
        with _client(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n\r\n" % line.encode())
            _, _, _, closed = _expect_reply(sock, f"a request with {line!r}", 200)
            if not closed and not _closes(sock):
                raise NotYet(f"A request said {line!r}{why}")


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

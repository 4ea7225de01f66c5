"""Exercises of lesson 11-http-by-hand: a GET by hand (the small server is in
:mod:`labkit.exercises.httpserver`).

How the checks work
-------------------
``11-get`` runs the learner's ``get(address, path)`` against four of labkit's HTTP
servers (``labkit.serving.httpserve``), each a new one, each sending its reply in seeded random
pieces a few milliseconds apart: a page by ``Content-Length``, a page in the chunked coding
(chunk sizes 5, 16 and 26, so ``10`` and ``1a`` appear in hex), a 404 whose header names
are in lower case, and a page framed by the close of the connection. All but the last keep
the connection open afterwards (HTTP/1.1 keep-alive). What the server read is recorded, so
a request without ``Host`` or without its empty line is named. A call that is still
reading after the whole reply went out is told what that reply was and where its end could
be seen: so many bytes after the head (bytes, not characters; and keep-alive never sends
``b''``), the chunk of size 0, a length in a lower-case header, or the close. A
``KeyError`` is told which header this reply lacks (a chunked reply has no
``Content-Length``) or that header names ignore case.

``11-server`` serves the learner's ``handle(conn)`` with a labkit ``TCPServer`` (a
thread per connection, as ``labkit.serve`` does) and plays, in turn: a plain GET, whose
reply must say ``Content-Type: text/html; charset=utf-8`` (without it a browser guesses,
and shows 你好 as ``ä½ å¥½``); a real ``http.client`` asking twice on one connection; a
request sent a byte at a time, each byte only when the handler waits for it (so an
answer before the empty line is seen on every run); two requests back to back in seeded
random pieces; garbage; a request without ``Host``; one with ``host:`` in lower case;
``Connection: close``, then ``CONNECTION: close`` and ``connection: Close`` (names and
that value ignore case); a client that stalls mid-request while another is served, then
vanishes with a reset; and one more GET after it. An answer that hands 11-get's work to
``http.client`` or ``urllib`` is told so. A handler that calls ``recv`` again and again
after ``b''`` is stopped and named.
"""

import http
import http.client

from labkit.exercises.connect import outcome
from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, _refers_to
from labkit.serving.httpserve import HttpServer, IncompleteMessage, encode_chunked


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
    "labkit.split_head(data) cuts the head for you: it returns the status line, the headers "
    "(a dict, names in lower case) and the bytes after the empty line; the status is the "
    "status line's second word, as an int. Or parse it yourself: split the head on \\r\\n; "
    "the first line is the status line, the others are headers, 'Name: value'. Header names "
    "ignore case: keep them in lower case.",
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
                raise NotYet(_stuck(server, what, how, len(body))) from None
            _judge_request(server, what)
            _judge_reply(value, error, what, how, status, body)
    return ("four replies in pieces came back right: by Content-Length, chunked, a 404 with "
            "lower-case header names, and one ended by the close.")


def _request_of(server: HttpServer) -> bytes:
    return bytes(server.received.get(1, b""))


def _stuck(server: HttpServer, what: str, how: str, size: int) -> str:
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
        return (f"{what} was still reading 3 s after the server had sent {how}"
                + _after(how, size))
    return f"{what} did not return within 3 s."


_KEEP_ALIVE = ("The server keeps the connection open for the next request (HTTP/1.1 "
               "keep-alive), so recv() does not return b'' and reading until the close waits "
               "for ever.")


def _after(how: str, size: int) -> str:
    """The rest of the message for a get() still reading after the whole reply went out:
    what the reply was, and where its end was to be seen."""
    if "no length" in how:
        return (": all of it, then the close. With neither Content-Length nor chunked, the "
                "body is all that comes before the close: read until recv() returns b'', "
                "then stop (after the close, recv() returns b'' at once, every time).")
    if "chunked" in how:
        return (", whole. " + _KEEP_ALIVE + " Find the end of the head (b'\\r\\n\\r\\n': "
                "every line ends with \\r\\n), then stop at the end of the body: the chunk "
                "of size 0 and the empty line after it.")
    if "lower case" in how:
        return (f", whole: its head said 'content-length: {size}', in lower case, and all "
                f"{size} bytes of its body had arrived. Header names ignore case: keep them "
                "in lower case (name.strip().lower()), look them up that way, and stop after "
                "Content-Length bytes. " + _KEEP_ALIVE)
    return (f", whole: its head, up to the empty line (b'\\r\\n\\r\\n': every line ends "
            f"with \\r\\n), said Content-Length: {size}, and all {size} bytes of the body had "
            f"arrived. Stop when you hold {size} bytes after the head: count bytes, not "
            "characters (decoded, 你好 is 2 characters, but 6 bytes). " + _KEEP_ALIVE)


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


def _judge_key_error(error: KeyError, said: str, how: str) -> None:
    """NotYet for a KeyError from get(): a header looked up that this reply does not have,
    or looked up with its case."""
    key = str(error.args[0]) if error.args else ""
    if key.lower() == "content-length" and "chunked" in how:
        raise NotYet(f"{said} raised KeyError: {error}. This reply has no Content-Length: "
                     "it is chunked (its head says Transfer-Encoding: chunked), and its "
                     "body comes in chunks, each its size in hex, \\r\\n, the bytes, "
                     "\\r\\n, up to a chunk of size 0. Look for transfer-encoding before "
                     "content-length; labkit.decode_chunked decodes the body.")
    if key.lower() == "transfer-encoding" and ("Content-Length" in how or "lower" in how):
        raise NotYet(f"{said} raised KeyError: {error}. This reply has no Transfer-Encoding: "
                     "its body is framed by Content-Length. A header may be missing: look "
                     "it up with headers.get('transfer-encoding'), None when it is not "
                     "there.")
    if key.lower() != key and key.lower() == "content-length" and "lower case" in how:
        raise NotYet(f"{said} raised KeyError: {error}. Header names ignore case, and this "
                     f"server sent {key.lower()!r}: keep the names in lower case, "
                     "name.strip().lower(), and look them up that way.")
    if "no length" in how:
        raise NotYet(f"{said} raised KeyError: {error}. With neither Content-Length nor "
                     "chunked, the body ends when the server closes (it said Connection: "
                     "close): read until recv() returns b''.")
    if key.lower() != key:
        raise NotYet(f"{said} raised KeyError: {error}. Header names ignore case: keep them "
                     "in lower case when you read them, name.strip().lower(), and look them "
                     "up in lower case too.")


def _judge_reply(value, error, what: str, how: str, status: int, body: bytes) -> None:
    said = f"Given {how}, {what}"
    if isinstance(error, KeyError):
        _judge_key_error(error, said, how)
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

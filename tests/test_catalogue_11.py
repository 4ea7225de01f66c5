"""Wrong answers a learner writes for lesson 11's exercises (11-get, 11-server), and the
exact "not yet" each gets; the shown solution and other right answers pass.

A source is the learner's exercise cell. Helpers the wrong answers share (_GET_PARTS,
_SERVER_PARTS) are right in themselves; each wrong answer's mistake is in the function
the exercise asks for.
"""

import pytest

from catalogue import Wrong, assert_correct, assert_not_yet

pytestmark = pytest.mark.timeout(120)

HINT = " ex.hint() gives a hint."

_GET_PARTS = '''
def request(address, path):
    sock = socket.create_connection(address, timeout=5)
    sock.sendall(f"GET {path} HTTP/1.1\\r\\nHost: {address[0]}\\r\\n\\r\\n".encode())
    return sock

def head_of(data):
    head, body = data.split(b"\\r\\n\\r\\n", 1)
    status_line, *lines = head.decode("latin-1").split("\\r\\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body
'''

_SERVER_PARTS = '''
PAGE = "<!doctype html>\\n<title>Socket Lab</title>\\n<h1>你好, HTTP!</h1>\\n".encode()

def reply(conn, status, body, close=False):
    head = f"HTTP/1.1 {status}\\r\\nContent-Type: text/html; charset=utf-8\\r\\n"
    head += f"Content-Length: {len(body)}\\r\\n"
    if close:
        head += "Connection: close\\r\\n"
    conn.sendall(head.encode() + b"\\r\\n" + body)

def parse(head):
    request_line, *lines = head.decode("latin-1").split("\\r\\n")
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        headers[name.strip().lower()] = value.strip() if colon else None
    return request_line.split(" "), headers
'''

WRONG = [
Wrong('11-get', 'one recv', _GET_PARTS + '''
def get(address, path):
    with request(address, path) as sock:
        status, headers, body = head_of(sock.recv(65536))
        return status, body
''',
      ("Given a reply framed by Content-Length, get(address, '/hello') raised "
      'ValueError: not enough values to unpack (expected 2, got 1). The reply '
      'came in pieces of a few bytes: one recv() returns only what has arrived so '
      "far, maybe part of the head. Read until b'\\r\\n\\r\\n' is there, then until "
      'the body is complete.' + HINT)),
Wrong('11-get', 'until close always', _GET_PARTS + '''
def get(address, path):
    with request(address, path) as sock:
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        status, headers, body = head_of(data)
        return status, body
''',
      ("get(address, '/hello') was still reading 3 s after the server had sent a"
      ' reply framed by Content-Length, whole: its head, up to the empty line '
      "(b'\\r\\n\\r\\n': every line ends with \\r\\n), said Content-Length: 14, and "
      'all 14 bytes of the body had arrived. Stop when you hold 14 bytes after '
      'the head: count bytes, not characters (decoded, 你好 is 2 characters, but '
      '6 bytes). The server keeps the connection open for the next request '
      "(HTTP/1.1 keep-alive), so recv() does not return b'' and reading until "
      'the close waits for ever.' + HINT)),
Wrong('11-get', 'ignores chunked', _GET_PARTS + '''
def get(address, path):
    with request(address, path) as sock:
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(4096)
        status, headers, body = head_of(data)
        if "content-length" in headers:
            while len(body) < int(headers["content-length"]):
                body += sock.recv(4096)
            return status, body
        while chunk := sock.recv(4096):
            body += chunk
        return status, body
''',
      ("get(address, '/poem') was still reading 3 s after the server had sent a "
      'chunked reply (Transfer-Encoding: chunked), whole. The server keeps the '
      'connection open for the next request (HTTP/1.1 keep-alive), so recv() does '
      "not return b'' and reading until the close waits for ever. Find the end of "
      "the head (b'\\r\\n\\r\\n': every line ends with \\r\\n), then stop at the end of "
      'the body: the chunk of size 0 and the empty line after it.' + HINT)),
Wrong('11-get', 'raw chunks returned', _GET_PARTS + '''
def get(address, path):
    with request(address, path) as sock:
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(4096)
        status, headers, body = head_of(data)
        if "content-length" in headers:
            while len(body) < int(headers["content-length"]):
                body += sock.recv(4096)
            return status, body
        while not body.endswith(b"0\\r\\n\\r\\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
        return status, body
''',
      ("Given a chunked reply (Transfer-Encoding: chunked), get(address, '/poem') "
       "returned b'5\\r\\n\\xe5\\xba\\x8a\\xe5\\x89\\r\\n10\\r\\n\\x8d\\xe6\\x98\\x8e"
       "\\xe6\\x9c\\x88\\xe5\\x85\\x89'...: the body still in its chunked coding, sizes "
       "and all. Decode it: each chunk is its size in hex, \\r\\n, the bytes, \\r\\n; a "
       "chunk of size 0 ends the body." + HINT)),
Wrong('11-get', 'head on \\n\\n', _GET_PARTS + '''
def get(address, path):
    with request(address, path) as sock:
        data = b""
        while b"\\n\\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        status, headers, body = head_of(data)
        return status, body
''',
      ("get(address, '/hello') was still reading 3 s after the server had sent a"
      ' reply framed by Content-Length, whole: its head, up to the empty line '
      "(b'\\r\\n\\r\\n': every line ends with \\r\\n), said Content-Length: 14, and "
      'all 14 bytes of the body had arrived. Stop when you hold 14 bytes after '
      'the head: count bytes, not characters (decoded, 你好 is 2 characters, but '
      '6 bytes). The server keeps the connection open for the next request '
      "(HTTP/1.1 keep-alive), so recv() does not return b'' and reading until "
      'the close waits for ever.' + HINT)),
Wrong('11-get', 'case-sensitive names', _GET_PARTS + '''
def get(address, path):
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\\r\\nHost: {address[0]}\\r\\n\\r\\n".encode())
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(4096)
        head, body = data.split(b"\\r\\n\\r\\n", 1)
        status_line, *lines = head.decode().split("\\r\\n")
        headers = dict(line.split(": ", 1) for line in lines)
        if headers.get("Transfer-Encoding") == "chunked":
            while True:
                try:
                    return int(status_line.split()[1]), labkit.decode_chunked(body)[0]
                except labkit.IncompleteMessage:
                    body += sock.recv(4096)
        length = int(headers["Content-Length"])
        while len(body) < length:
            body += sock.recv(4096)
        return int(status_line.split()[1]), body
''',
      ('Given a 404 reply whose header names are in lower case, get(address, '
      "'/missing') raised KeyError: 'Content-Length'. Header names ignore case, "
      "and this server sent 'content-length': keep the names in lower case, "
      'name.strip().lower(), and look them up that way.' + HINT)),
Wrong('11-get', 'decimal chunk sizes', _GET_PARTS + '''
def get(address, path):
    with request(address, path) as sock:
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(4096)
        status, headers, rest = head_of(data)
        if headers.get("transfer-encoding") != "chunked":
            while len(rest) < int(headers.get("content-length", 10**9)):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                rest += chunk
            return status, rest
        while not rest.endswith(b"\\r\\n0\\r\\n\\r\\n"):
            rest += sock.recv(4096)
        body = b""
        while True:
            size_line, rest = rest.split(b"\\r\\n", 1)
            size = int(size_line)
            if size == 0:
                return status, body
            body, rest = body + rest[:size], rest[size + 2:]
''',
      ("Given a chunked reply (Transfer-Encoding: chunked), get(address, '/poem') "
      'raised ValueError: invalid literal for int() with base 10: '
      "b'\\xe7\\x96\\x91\\xe6'. Chunk sizes are hexadecimal: int(size, 16), so '1a' "
      'is 26.' + HINT)),
Wrong('11-get', 'decodes before counting', _GET_PARTS + '''
def get(address, path):
    with request(address, path) as sock:
        text = ""
        while "\\r\\n\\r\\n" not in text:
            text += sock.recv(4096).decode("utf-8", errors="replace")
        head, body = text.split("\\r\\n\\r\\n", 1)
        lines = head.split("\\r\\n")
        headers = {k.lower(): v for k, v in (l.split(": ", 1) for l in lines[1:])}
        length = int(headers.get("content-length", 0))
        while len(body) < length:
            body += sock.recv(4096).decode("utf-8", errors="replace")
        return int(lines[0].split()[1]), body
''',
      ("get(address, '/hello') was still reading 3 s after the server had sent a"
      ' reply framed by Content-Length, whole: its head, up to the empty line '
      "(b'\\r\\n\\r\\n': every line ends with \\r\\n), said Content-Length: 14, and "
      'all 14 bytes of the body had arrived. Stop when you hold 14 bytes after '
      'the head: count bytes, not characters (decoded, 你好 is 2 characters, but '
      '6 bytes). The server keeps the connection open for the next request '
      "(HTTP/1.1 keep-alive), so recv() does not return b'' and reading until "
      'the close waits for ever.' + HINT)),
Wrong('11-get', 'no Host', _GET_PARTS + '''
def get(address, path):
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\\r\\n\\r\\n".encode())
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(4096)
        status, headers, body = head_of(data)
        while len(body) < int(headers.get("content-length", 0)):
            body += sock.recv(4096)
        return status, body
''',
      ("get(address, '/hello') sent b'GET /hello HTTP/1.1\\r\\n\\r\\n', with no Host "
      'header, and the server answered 400 Bad Request: HTTP/1.1 requires Host. '
      "Add a line 'Host: 127.0.0.1' (the server's host)." + HINT)),
Wrong('11-get', 'no empty line', _GET_PARTS + '''
def get(address, path):
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\\r\\nHost: {address[0]}\\r\\n".encode())
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(4096)
        status, headers, body = head_of(data)
        return status, body
''',
      ("get(address, '/hello') did not return within 3 s: the server got b'GET "
      "/hello HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n' and still waits for the end of the "
      "request, an empty line. End the headers with \\r\\n\\r\\n: the last header's "
      'line end, then an empty line.' + HINT)),
Wrong('11-get', 'bare newlines', _GET_PARTS + '''
def get(address, path):
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\\nHost: {address[0]}\\n\\n".encode())
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(4096)
        status, headers, body = head_of(data)
        while len(body) < int(headers.get("content-length", 0)):
            body += sock.recv(4096)
        return status, body
''',
      ("get(address, '/hello') sent b'GET /hello HTTP/1.1\\nHost: 127.0.0.1\\n\\n': "
      "its lines end with \\n alone. HTTP's lines end with \\r\\n (http.server lets "
      'it pass; many servers answer 400).' + HINT)),
Wrong('11-get', 'never closes its socket', _GET_PARTS + '''
def get(address, path):
    sock = request(address, path)
    data = b""
    while b"\\r\\n\\r\\n" not in data:
        data += sock.recv(4096)
    status, headers, body = head_of(data)
    if headers.get("transfer-encoding") == "chunked":
        while True:
            try:
                return status, labkit.decode_chunked(body)[0]
            except labkit.IncompleteMessage:
                body += sock.recv(4096)
    if "content-length" in headers:
        while len(body) < int(headers["content-length"]):
            body += sock.recv(4096)
        return status, body
    while chunk := sock.recv(4096):
        body += chunk
    return status, body
''',
      ('When the check ended, your code still had 4 sockets (a TCP socket connected '
       'to a peer, a TCP socket connected to a peer, a TCP socket connected to a '
       'peer, a TCP socket connected to a peer) open. Close every socket you open: '
       'use `with`, or call close() in a `finally:` block; a socket kept in a list '
       'or a variable stays open until you close it.' + HINT)),
Wrong('11-get', 'chunked read by Content-Length', _GET_PARTS + '''
def get(address, path):
    with request(address, path) as sock:
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(4096)
        status, headers, body = head_of(data)
        length = int(headers["content-length"])
        while len(body) < length:
            body += sock.recv(4096)
        return status, body
''',
      ('Given a chunked reply (Transfer-Encoding: chunked), get(address, '
      "'/poem') raised KeyError: 'content-length'. This reply has no "
      'Content-Length: it is chunked (its head says Transfer-Encoding: '
      'chunked), and its body comes in chunks, each its size in hex, \\r\\n, the '
      'bytes, \\r\\n, up to a chunk of size 0. Look for transfer-encoding before '
      'content-length; labkit.decode_chunked decodes the body.' + HINT)),
Wrong('11-get', 'framing looked up with its case', _GET_PARTS + '''
def get(address, path):
    with request(address, path) as sock:
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(4096)
        head, body = data.split(b"\\r\\n\\r\\n", 1)
        status_line, *lines = head.decode("latin-1").split("\\r\\n")
        headers = dict(line.split(": ", 1) for line in lines)
        status = int(status_line.split()[1])
        if headers.get("Transfer-Encoding") == "chunked":
            while True:
                try:
                    return status, labkit.decode_chunked(body)[0]
                except labkit.IncompleteMessage:
                    body += sock.recv(4096)
        if "Content-Length" in headers:
            while len(body) < int(headers["Content-Length"]):
                body += sock.recv(4096)
            return status, body
        while chunk := sock.recv(4096):
            body += chunk
        return status, body
''',
      ("get(address, '/missing') was still reading 3 s after the server had sent"
      ' a 404 reply whose header names are in lower case, whole: its head said '
      "'content-length: 10', in lower case, and all 10 bytes of its body had "
      'arrived. Header names ignore case: keep them in lower case '
      '(name.strip().lower()), look them up that way, and stop after '
      'Content-Length bytes. The server keeps the connection open for the next '
      "request (HTTP/1.1 keep-alive), so recv() does not return b'' and reading"
      ' until the close waits for ever.' + HINT)),
Wrong('11-get', 'Transfer-Encoding looked up always', _GET_PARTS + '''
def get(address, path):
    with request(address, path) as sock:
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(4096)
        status, headers, body = head_of(data)
        if headers["transfer-encoding"] == "chunked":
            while True:
                try:
                    return status, labkit.decode_chunked(body)[0]
                except labkit.IncompleteMessage:
                    body += sock.recv(4096)
        while len(body) < int(headers["content-length"]):
            body += sock.recv(4096)
        return status, body
''',
      ("Given a reply framed by Content-Length, get(address, '/hello') raised "
      "KeyError: 'transfer-encoding'. This reply has no Transfer-Encoding: its "
      'body is framed by Content-Length. A header may be missing: look it up '
      "with headers.get('transfer-encoding'), None when it is not there." + HINT)),
Wrong('11-get', 'no length taken for chunked', _GET_PARTS + '''
def get(address, path):
    with request(address, path) as sock:
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            data += sock.recv(4096)
        status, headers, body = head_of(data)
        if "content-length" in headers:
            while len(body) < int(headers["content-length"]):
                body += sock.recv(4096)
            return status, body
        while True:
            try:
                return status, labkit.decode_chunked(body)[0]
            except labkit.IncompleteMessage:
                body += sock.recv(4096)
''',
      ("get(address, '/hello') was still reading 3 s after the server had sent a"
      " reply with no length, ended by the server's close: all of it, then the "
      'close. With neither Content-Length nor chunked, the body is all that '
      "comes before the close: read until recv() returns b'', then stop (after "
      "the close, recv() returns b'' at once, every time)." + HINT)),
Wrong('11-get', 'http.client does it', '''
import http.client

def get(address, path):
    client = http.client.HTTPConnection(*address, timeout=5)
    try:
        client.request("GET", path)
        reply = client.getresponse()
        return reply.status, reply.read()
    finally:
        client.close()
''',
      ("Your get() uses http.client or urllib, which do the work for you. The point is "
       "to do it yourself: write the request on a socket, and read the reply's head and "
       "body with recv()." + HINT)),
Wrong('11-get', 'urllib does it', '''
from urllib.request import urlopen
from urllib.error import HTTPError

def get(address, path):
    try:
        with urlopen(f"http://{address[0]}:{address[1]}{path}", timeout=5) as reply:
            return reply.status, reply.read()
    except HTTPError as error:
        return error.code, error.read()
''',
      ("Your get() uses http.client or urllib, which do the work for you. The point is "
       "to do it yourself: write the request on a socket, and read the reply's head and "
       "body with recv()." + HINT)),
Wrong('11-server', 'no Content-Length', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: text/html\\r\\n\\r\\n" + PAGE)
''',
      ("To a plain 'GET / HTTP/1.1' with a Host header, the server answered "
      "'HTTP/1.1 200 OK' with no Content-Length: the client cannot tell where the "
      "body ends, and waits for more. Send 'Content-Length: N' with N = len(body) "
      'in bytes.' + HINT)),
Wrong('11-server', 'one recv is the request', _SERVER_PARTS + '''
def handle(conn):
    while True:
        data = conn.recv(4096)
        if not data:
            return
        parts, headers = parse(data.split(b"\\r\\n\\r\\n")[0])
        if len(parts) != 3 or "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
              PAGE if parts[1] == "/" else b"not found\\n")
''',
      ("With a request sent a byte at a time, the server answered b'HTTP/1.1 400 "
      "Bad Request\\r\\nCont'... when only 1 byte of it had arrived (b'G'), before "
      'its empty line. A recv() returns what has arrived so far: keep reading '
      "until b'\\r\\n\\r\\n' is in what you have, however many recv() calls that "
      'takes.' + HINT)),
Wrong('11-server', 'answers at the request line', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        line, data = data.split(b"\\r\\n", 1)
        parts = line.decode().split(" ")
        if len(parts) == 3:
            reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
                  PAGE if parts[1] == "/" else b"not found\\n")
''',
      ("With a request sent a byte at a time, the server answered b'HTTP/1.1 200 "
      "OK\\r\\nContent-Type:'... when only 16 bytes of it had arrived (b'GET / "
      "HTTP/1.1\\r\\n'), before its empty line. A recv() returns what has arrived "
      "so far: keep reading until b'\\r\\n\\r\\n' is in what you have, however many "
      'recv() calls that takes.' + HINT)),
Wrong('11-server', 'no 400 on garbage', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        method, path, version = parts
        if "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        reply(conn, "200 OK" if path == "/" else "404 Not Found",
              PAGE if path == "/" else b"not found\\n")
''',
      ('handle(conn) raised ValueError: not enough values to unpack (expected 3, '
      'got 2), given garbage instead of a request. A request line is three words, '
      "such as 'GET / HTTP/1.1': answer anything else with 400 Bad Request, "
      'Connection: close, and return.' + HINT)),
Wrong('11-server', 'header without a colon ignored', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        if len(parts) != 3 or "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        close = (headers.get("connection") or "").lower() == "close"
        reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
              PAGE if parts[1] == "/" else b"not found\\n", close)
        if close:
            return
''',
      ("To a request with the header line 'no colon here', the server answered "
      "'HTTP/1.1 200 OK': a header line is 'Name: value'. Answer a request with "
      'any other line with 400 Bad Request, Connection: close, and close.' + HINT)),
Wrong('11-server', 'crashes on a header without a colon', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        request_line, *lines = head.decode("latin-1").split("\\r\\n")
        headers = {}
        for line in lines:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        parts = request_line.split(" ")
        if len(parts) != 3 or "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        close = headers.get("connection", "").lower() == "close"
        reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
              PAGE if parts[1] == "/" else b"not found\\n", close)
        if close:
            return
''',
      ('handle(conn) raised ValueError: not enough values to unpack (expected 2, got 1), '
      "given a header line without a colon. Every header line is 'Name: value': "
      "line.partition(':') tells you when the colon is missing. Answer 400 Bad Request, "
      'Connection: close, and return.' + HINT)),
Wrong('11-server', 'crashes on missing Host', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        if len(parts) != 3 or None in headers.values():
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        host = headers["host"]
        reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
              PAGE if parts[1] == "/" else b"not found\\n")
''',
      ("handle(conn) raised KeyError: 'host', given a request without Host. "
      'HTTP/1.1 requires Host (RFC 9112): check for it, and answer 400 Bad '
      'Request when it is missing.' + HINT)),
Wrong('11-server', 'one request per connection', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while b"\\r\\n\\r\\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
    parts, headers = parse(data.split(b"\\r\\n\\r\\n")[0])
    if len(parts) != 3 or "host" not in headers:
        reply(conn, "400 Bad Request", b"bad request\\n", close=True)
        return
    reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
          PAGE if parts[1] == "/" else b"not found\\n")
''',
      ('http.client asked GET / and then GET /nope on the same connection, and the '
      'second failed: the server had closed the connection after one request '
      'without saying Connection: close. In HTTP/1.1 a connection stays open for '
      'more requests (keep-alive): loop, and serve requests until the client '
      'closes.' + HINT)),
Wrong('11-server', 'Content-Length in characters', _SERVER_PARTS + '''
PAGE_TEXT = "<!doctype html>\\n<title>Socket Lab</title>\\n<h1>你好, HTTP!</h1>\\n"

def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        if len(parts) != 3 or "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        text = PAGE_TEXT if parts[1] == "/" else "not found\\n"
        status = "200 OK" if parts[1] == "/" else "404 Not Found"
        head = f"HTTP/1.1 {status}\\r\\nContent-Length: {len(text)}\\r\\n\\r\\n"
        conn.sendall((head + text).encode())
''',
      ("To a plain 'GET / HTTP/1.1' with a Host header, the server said "
      'Content-Length: 61, and 65 bytes followed. Content-Length counts the '
      "body's bytes (len(body) of the encoded bytes), not its characters." + HINT)),
Wrong('11-server', 'drops the next request', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\\r\\n\\r\\n")[0]
        data = b""
        parts, headers = parse(head)
        if len(parts) != 3 or None in headers.values() or "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
              PAGE if parts[1] == "/" else b"not found\\n")
''',
      ('To the second of two requests sent back to back, GET /nope, the server '
      "answered 'HTTP/1.1 400 Bad Request': keep the bytes after the first "
      "request's empty line, they are the start of the next request." + HINT)),
Wrong('11-server', 'ignores Connection: close', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        if len(parts) != 3 or None in headers.values() or "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
              PAGE if parts[1] == "/" else b"not found\\n")
''',
      ("A request said 'Connection: close', and after the reply the server kept "
      'the connection open: a client that reads until the close waits for ever. '
      'After the reply to such a request, return from handle().' + HINT)),
Wrong('11-server', 'spins after the client left', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            data += conn.recv(4096)
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        if len(parts) != 3 or None in headers.values() or "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        close = headers.get("connection") == "close"
        reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
              PAGE if parts[1] == "/" else b"not found\\n", close)
        if close:
            return
''',
      ('When a client closed, handle(conn) kept calling conn.recv() after it had '
      "returned b''. b'' means the client has gone, and recv() then returns it at "
      'once, for ever: return when it does.' + HINT)),
Wrong('11-server', 'bare newlines in the reply', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        conn.sendall(f"HTTP/1.1 200 OK\\nContent-Length: {len(PAGE)}\\n\\n".encode() + PAGE)
''',
      ("To a plain 'GET / HTTP/1.1' with a Host header, the server sent b'HTTP/1.1 "
      "200 OK\\nContent-Length: 65\\n\\n<!doctype html>\\n<title>S'...: the lines of "
      "its head end with \\n alone. HTTP's lines end with \\r\\n, and an empty line "
      '(\\r\\n\\r\\n) ends the head.' + HINT)),
Wrong('11-server', 'no Content-Type', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        if len(parts) != 3 or None in headers.values() or "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        body = PAGE if parts[1] == "/" else b"not found\\n"
        status = "200 OK" if parts[1] == "/" else "404 Not Found"
        conn.sendall(f"HTTP/1.1 {status}\\r\\nContent-Length: {len(body)}\\r\\n\\r\\n".encode()
                     + body)
''',
      ("To a plain 'GET /', the server answered 'HTTP/1.1 200 OK' with no "
      'Content-Type. A browser then guesses what the bytes are, and may show 你好'
      " as 'ä½ å¥½'. Send 'Content-Type: text/html; charset=utf-8': a browser "
      'must be told that the page is HTML, and that its bytes are UTF-8 (what '
      'str.encode() makes).' + HINT)),
Wrong('11-server', 'Content-Type without charset', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        if len(parts) != 3 or None in headers.values() or "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        body = PAGE if parts[1] == "/" else b"not found\\n"
        status = "200 OK" if parts[1] == "/" else "404 Not Found"
        conn.sendall(f"HTTP/1.1 {status}\\r\\nContent-Type: text/html\\r\\n"
                     f"Content-Length: {len(body)}\\r\\n\\r\\n".encode() + body)
''',
      ("To a plain 'GET /', the server answered 'HTTP/1.1 200 OK' with "
      "'Content-Type: text/html', which names no charset. A browser then looks "
      "for one in the page, or guesses, and may show 你好 as 'ä½ å¥½'. Send "
      "'Content-Type: text/html; charset=utf-8': a browser must be told that "
      'the page is HTML, and that its bytes are UTF-8 (what str.encode() '
      'makes).' + HINT)),
Wrong('11-server', 'Host looked up with its case', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        request_line, *lines = head.decode("latin-1").split("\\r\\n")
        headers = dict(line.split(": ", 1) for line in lines if ": " in line)
        parts = request_line.split(" ")
        if len(parts) != 3 or "Host" not in headers or len(headers) < len(lines):
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        close = headers.get("Connection") == "close"
        reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
              PAGE if parts[1] == "/" else b"not found\\n", close)
        if close:
            return
''',
      ("To 'GET / HTTP/1.1' with 'host: 127.0.0.1', its name in lower case, the "
      "server answered 'HTTP/1.1 400 Bad Request'. Header names ignore case: "
      'host, Host and HOST are the same header. Keep the names in lower case, '
      'name.strip().lower(), and look them up that way.' + HINT)),
Wrong('11-server', 'Connection looked up with its case', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        if len(parts) != 3 or None in headers.values() or "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        close = b"Connection: close" in head
        reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
              PAGE if parts[1] == "/" else b"not found\\n", close)
        if close:
            return
''',
      ("A request said 'CONNECTION: close', and the server kept the connection "
      "open after the reply, though it closes after 'Connection: close'. Header"
      ' names ignore case: CONNECTION, Connection and connection are the same '
      'header. Keep the names in lower case, name.strip().lower(), and look '
      'them up that way.' + HINT)),
Wrong('11-server', 'close compared with its case', _SERVER_PARTS + '''
def handle(conn):
    data = b""
    while True:
        while b"\\r\\n\\r\\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, data = data.split(b"\\r\\n\\r\\n", 1)
        parts, headers = parse(head)
        if len(parts) != 3 or None in headers.values() or "host" not in headers:
            reply(conn, "400 Bad Request", b"bad request\\n", close=True)
            return
        close = headers.get("connection") == "close"
        reply(conn, "200 OK" if parts[1] == "/" else "404 Not Found",
              PAGE if parts[1] == "/" else b"not found\\n", close)
        if close:
            return
''',
      ("A request said 'connection: Close', and the server kept the connection "
      "open after the reply, though it closes after 'Connection: close'. In "
      'this header the word close ignores case too, as header names do: compare'
      " value.strip().lower() with 'close'." + HINT)),
]

EXERCISES = ["11-get", "11-server"]

RIGHT = [
    ("11-get", "a file made from the socket", '''
def get(address, path):
    with socket.create_connection(address, timeout=5) as sock, sock.makefile("rb") as reply:
        sock.sendall(f"GET {path} HTTP/1.1\\r\\nHost: {address[0]}\\r\\n\\r\\n".encode())
        status = int(reply.readline().split()[1])
        headers = {}
        while (line := reply.readline()) not in (b"\\r\\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while size := int(reply.readline().split(b";")[0], 16):
                body += reply.read(size)
                reply.readline()                      # the \\r\\n after each chunk
            reply.readline()                          # the empty line after the last
            return status, body
        if "content-length" in headers:
            return status, reply.read(int(headers["content-length"]))
        return status, reply.read()
'''),
    ("11-server", "labkit.split_head and one reply line", '''
def handle(conn):
    buffer = b""
    while True:
        try:
            start, headers, buffer = labkit.split_head(buffer)
        except labkit.IncompleteMessage:
            chunk = conn.recv(1024)
            if not chunk:
                return
            buffer += chunk
            continue
        except ValueError:                            # a header line without a colon
            start, headers = "", {}
        words = start.split()
        if len(words) != 3 or not words[2].startswith("HTTP/1.") or "host" not in headers:
            conn.sendall(b"HTTP/1.1 400 Bad Request\\r\\nContent-Length: 0\\r\\n"
                         b"Connection: close\\r\\n\\r\\n")
            return
        found = words[1] == "/"
        body = "<h1>你好, HTTP!</h1>".encode() if found else b"nothing here"
        bye = headers.get("connection", "").lower() == "close"
        head = [f"HTTP/1.1 {'200 OK' if found else '404 Not Found'}",
                "Content-Type: text/html; Charset=UTF-8",
                f"Content-Length: {len(body)}"] + ["Connection: close"] * bye
        conn.sendall(("\\r\\n".join(head) + "\\r\\n\\r\\n").encode() + body)
        if bye:
            return
'''),
]


@pytest.mark.parametrize("wrong", WRONG, ids=str)
def test_a_wrong_answer_gets_its_message(wrong, baseline):
    assert_not_yet(wrong)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_shown_solution_passes(exercise, baseline):
    assert_correct(exercise)


@pytest.mark.parametrize("exercise, name, source", RIGHT,
                         ids=[f"{exercise}:{name}" for exercise, name, _ in RIGHT])
def test_a_right_answer_in_another_style_passes(exercise, name, source, baseline):
    assert_correct(exercise, source)


def test_every_exercise_here_has_four_wrong_answers_or_more():
    for exercise in EXERCISES:
        assert sum(w.exercise == exercise for w in WRONG) >= 4, exercise

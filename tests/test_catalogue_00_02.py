"""Wrong answers a beginner writes for the exercises of lessons 00-02, and the exact
"not yet" each gets; the shown solutions and other right answers pass."""

import os
import socket
import sys

import pytest

import catalogue
from catalogue import Wrong, assert_correct, assert_not_yet

pytestmark = pytest.mark.timeout(60)

HINT = " ex.hint() gives a hint."


def _free_port() -> int:
    """A port number a learner would type (say 20007), free now, and outside every system's
    ephemeral range (Linux 32768-60999; macOS and Windows 49152-65535): a port the system
    picks for another test's socket (port 0, or a client's end) can never take it between
    now and the test, as it once did when this was a port the system had picked."""
    for port in range(20000 + os.getpid() % 5000, 30000):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 30000")


FIXED = _free_port()

_CHOSE = ("bound a port your code chose: bind() was given a port number other than 0. A "
          "port you choose may be taken already, by another program or by your own first "
          "listener, and then bind() fails. Bind port 0, ")
_REUSEPORT = ("bound a port your code chose, with SO_REUSEPORT on. That option lets several "
              "sockets bind one port, so every call would get the same port, and the system "
              "would share the connections out between the listeners: a client of one may be "
              "accepted by another. Drop SO_REUSEPORT and bind port 0, ")
_SERVE = ("returned a labkit server (what labkit.serve() gives), not a socket. This exercise "
          "is about the socket itself: make it with socket.socket(socket.AF_INET, "
          "socket.SOCK_STREAM), then bind() and listen(), and end with return ")
_SERVE_SOCK = ("returned the socket of a labkit server (labkit.serve(...).sock). That server's "
               "own thread accepts every connection on it, so it is not yours to return. This "
               "exercise is about the socket itself: make it with socket.socket(socket.AF_INET, "
               "socket.SOCK_STREAM), then bind() and listen(), and end with return ")
_STOPPED = " The check stopped that server."

_WITH_CLOSE = ("Create the socket with `with socket.socket(...) as s:` and do everything "
               "inside the block: it closes the socket however the block is left.")

WRONG = [
    # -- 00-ask ------------------------------------------------------------------------
    Wrong("00-ask", "no timeout", '''
def ask(address, text):
    with socket.create_connection(address) as s:
        s.sendall(text.encode("utf-8"))
        return s.recv(1024).decode("utf-8")
''', "ask() got both replies, but its socket had no timeout. A server that never answers "
         "kept ask() waiting (2 s so far, and it would wait for ever). Every blocking call "
         "needs a timeout: socket.create_connection(address, timeout=5)." + HINT),
    Wrong("00-ask", "a timeout of an hour", '''
def ask(address, text):
    with socket.create_connection(address, timeout=3600) as s:
        s.sendall(text.encode("utf-8"))
        return s.recv(1024).decode("utf-8")
''', "ask() got both replies, but its socket had a timeout of 3600 s: a server that never "
         "answers would keep it waiting that long. A few seconds is enough: "
         "socket.create_connection(address, timeout=5)." + HINT),
    Wrong("00-ask", "kept alive in a list", '''
opened = []

def ask(address, text):
    s = socket.create_connection(address, timeout=5)
    opened.append(s)
    s.sendall(text.encode("utf-8"))
    return s.recv(1024).decode("utf-8")
''', "ask(address, '你好') returned, but its socket is still open: a socket stays open until "
         "you close it, even after the function has returned. Connect inside a `with` block, "
         "with socket.create_connection(address, timeout=5) as s:, so that it is closed when "
         "the block ends." + HINT),
    Wrong("00-ask", "never closed", '''
def ask(address, text):
    s = socket.create_connection(address, timeout=5)
    s.sendall(text.encode("utf-8"))
    return s.recv(1024).decode("utf-8")
''', "ask(address, '你好') returned, but its socket is still open: a socket stays open until "
         "you close it, even after the function has returned. Connect inside a `with` block, "
         "with socket.create_connection(address, timeout=5) as s:, so that it is closed when "
         "the block ends." + HINT),
    Wrong("00-ask", "sends a str", '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text)
        return s.recv(1024).decode("utf-8")
''', "ask(address, '你好') raised TypeError: a bytes-like object is required, not 'str'. A "
         "socket sends bytes: encode the text first, text.encode('utf-8')." + HINT),
    Wrong("00-ask", "returns bytes", '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode("utf-8"))
        return s.recv(1024)
''', "ask(address, '你好') returned bytes b'\\xe6\\xac\\xa2\\xe8\\xbf\\x8e\\xe8\\xae\\xbf"
         "\\xe9\\x97\\xae>>>>\\xe4\\xbd\\xa0\\xe5\\xa5\\xbd\\r\\n'; return a str: decode the "
         "reply." + HINT),
    Wrong("00-ask", "prints instead of returning", '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode("utf-8"))
        print(s.recv(1024).decode("utf-8"))
''', "ask(address, '你好') returned None. Did you print the reply instead of returning it? "
         "End with return s.recv(1024).decode('utf-8')." + HINT),
    Wrong("00-ask", "loops until b''", '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode("utf-8"))
        chunks = []
        while True:
            data = s.recv(1024)
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks).decode("utf-8")
''', "ask(address, '你好') got the server's reply but kept waiting for more. This server "
         "keeps the connection open until you close it, so a loop until recv() returns b'' "
         "(or a second recv()) waits for nothing. One recv(1024) is enough for a reply this "
         "short." + HINT),
    Wrong("00-ask", "never sends", '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        return s.recv(1024).decode("utf-8")
''', "ask(address, '你好') connected, then waited for a reply without sending anything: the "
         "server answers only once it has your text. Send it first, "
         "s.sendall(text.encode('utf-8')), then recv()." + HINT),
    Wrong("00-ask", "strips the line end", '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode("utf-8"))
        return s.recv(1024).decode("utf-8").strip()
''', "ask(address, '你好') returned '欢迎访问>>>>你好', without the line end '\\r\\n': return "
         "the whole reply, as it came (no strip())." + HINT),
    Wrong("00-ask", "str() instead of decode", '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode("utf-8"))
        return str(s.recv(1024))
''', "ask(address, '你好') returned the text \"b'...'\": str() of bytes shows them, it does not "
         "decode them. Use .decode('utf-8')." + HINT),
    Wrong("00-ask", "encodes as ASCII", '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode("ascii"))
        return s.recv(1024).decode("ascii")
''', "ask(address, '你好') raised UnicodeEncodeError: 'ascii' codec can't encode characters in "
         "position 0-1: ordinal not in range(128). The text is in Chinese: encode it and "
         "decode the reply with UTF-8, text.encode('utf-8') and .decode('utf-8')." + HINT),
    Wrong("00-ask", "always asks 你好", '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall("你好".encode("utf-8"))
        return s.recv(1024).decode("utf-8")
''', "ask(address, 'hello') returned '欢迎访问>>>>你好\\r\\n'; expected '欢迎访问>>>>hello\\r\\n'."
         + HINT),
    Wrong("00-ask", "reads 10 bytes", '''
def ask(address, text):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(text.encode("utf-8"))
        return s.recv(10).decode("utf-8")
''', "ask(address, '你好') raised UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9 in "
         "position 9: unexpected end of data. The bytes you decoded stop in the middle of a "
         "character: decode the whole reply, s.recv(1024).decode('utf-8')." + HINT),
    Wrong("00-ask", "a UDP socket", '''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(text.encode("utf-8"), address)
        return s.recv(1024).decode("utf-8")
''', "ask(address, '你好') used a UDP socket (SOCK_DGRAM), but the echo server speaks TCP. "
         "Connect with socket.create_connection(address, timeout=5): it makes a TCP "
         "connection." + HINT),
    Wrong("00-ask", "makes up the reply", '''
def ask(address, text):
    return f"欢迎访问>>>>{text}\\r\\n"
''', "ask() returned the right replies without asking the server: connect to the address it "
         "is given, send the text, and return what the server answers." + HINT),
    Wrong("00-ask", "timeout 0", '''
def ask(address, text):
    with socket.create_connection(address, timeout=0) as s:
        s.sendall(text.encode("utf-8"))
        return s.recv(1024).decode("utf-8")
''', "ask(address, '你好') raised BlockingIOError: [Errno 115] Operation now in progress. A "
         "timeout of 0 makes the socket non-blocking: calls fail at once instead of waiting. "
         "Give it a few seconds, timeout=5." + HINT),

    # -- 01-make-socket ------------------------------------------------------------------
    Wrong("01-make-socket", "two TCP sockets", '''
def make_socket(kind):
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
''', "make_socket('udp') made a socket of type SOCK_STREAM; UDP sends datagrams: SOCK_DGRAM."
         + HINT),
    Wrong("01-make-socket", "UDP made with SOCK_STREAM", '''
def make_socket(kind):
    if kind == "tcp":
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)   # copied line, not changed
''', "make_socket('udp') made a socket of type SOCK_STREAM; UDP sends datagrams: SOCK_DGRAM."
         + HINT),
    Wrong("01-make-socket", "types swapped", '''
def make_socket(kind):
    if kind == "tcp":
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
''', "make_socket('tcp') made a socket of type SOCK_DGRAM; TCP is a stream: SOCK_STREAM." + HINT),
    Wrong("01-make-socket", "compares with 'TCP'", '''
def make_socket(kind):
    if kind == "TCP":
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
''', "make_socket('tcp') made a socket of type SOCK_DGRAM; TCP is a stream: SOCK_STREAM." + HINT),
    Wrong("01-make-socket", "returns it closed", '''
def make_socket(kind):
    kinds = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}
    with socket.socket(socket.AF_INET, kinds[kind]) as s:
        return s
''', "make_socket('tcp') returned a socket that is already closed: return it open (no `with` "
         "inside the function)." + HINT),
    Wrong("01-make-socket", "returns both sockets", '''
def make_socket(kind):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return tcp, udp
''', "make_socket('tcp') returned a tuple (a TCP socket never connected, a UDP socket never "
         "connected); return one socket, the kind that was asked for." + HINT),
    Wrong("01-make-socket", "makes both, returns one", '''
def make_socket(kind):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return tcp if kind == "tcp" else udp
''', "make_socket('tcp') made 2 sockets and returned one; it also left a UDP socket open, which "
         "nobody will ever close. Make only the socket that kind asks for." + HINT),
    Wrong("01-make-socket", "one socket of each, made once", '''
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

def make_socket(kind):
    return tcp if kind == "tcp" else udp
''', "make_socket('udp') returned the same socket object as make_socket('udp') did before: "
         "make a new socket on every call, with socket.socket(...) inside the function." + HINT),
    Wrong("01-make-socket", "kind passed as the type", '''
def make_socket(kind):
    return socket.socket(socket.AF_INET, kind)
''', "make_socket('tcp') raised TypeError: 'str' object cannot be interpreted as an integer. "
         "socket.socket() takes numbers, the constants socket.AF_INET and socket.SOCK_STREAM "
         "or socket.SOCK_DGRAM, not the string 'tcp': choose the type from kind with an if."
         + HINT),
    Wrong("01-make-socket", "IPv6", '''
def make_socket(kind):
    kinds = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}
    return socket.socket(socket.AF_INET6, kinds[kind])
''', "make_socket('tcp') made a socket of family AF_INET6; this exercise wants IPv4, AF_INET."
         + HINT),
    Wrong("01-make-socket", "returns the type constant", '''
def make_socket(kind):
    if kind == "tcp":
        return socket.SOCK_STREAM
    return socket.SOCK_DGRAM
''', "make_socket('tcp') returned socket.SOCK_STREAM, a constant, not a socket: pass it to "
         "socket.socket(...) and return the socket that makes." + HINT),
    Wrong("01-make-socket", "no return for udp", '''
def make_socket(kind):
    if kind == "tcp":
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
''', "make_socket('udp') returned None: return the socket you made (return "
         "socket.socket(...))." + HINT),

    # -- 01-with -------------------------------------------------------------------------
    Wrong("01-with", "never closed", '''
def ping(address):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(address)
    s.sendall(b"ping")
    return s.recv(1024)
''', "ping() returned, but its socket is still open. Python would close it only when the "
         "socket object is garbage-collected, with a ResourceWarning, and until then it holds "
         "its file descriptor. " + _WITH_CLOSE + HINT),
    Wrong("01-with", "kept alive in a list", '''
sockets = []

def ping(address):
    s = socket.create_connection(address, timeout=5)
    sockets.append(s)
    s.sendall(b"ping")
    return s.recv(1024)
''', "ping() returned, but its socket is still open. Python would close it only when the "
         "socket object is garbage-collected, with a ResourceWarning, and until then it holds "
         "its file descriptor. " + _WITH_CLOSE + HINT),
    Wrong("01-with", "close() only when all goes well", '''
def ping(address):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(address)
    s.sendall(b"ping")
    reply = s.recv(1024)
    s.close()
    return reply
''', "When the server dropped the connection before answering, ping() raised "
         "ConnectionResetError and left its socket open: a close() at the end runs only when "
         "nothing before it fails. " + _WITH_CLOSE + HINT),
    Wrong("01-with", "no timeout", '''
def ping(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.connect(address)
        s.sendall(b"ping")
        return s.recv(1024)
''', "ping() got the right reply, but its socket had no timeout while it waited (gettimeout() "
         "gave None): a server that never answers would keep recv() waiting forever. Call "
         "s.settimeout(5) before connect()." + HINT),
    Wrong("01-with", "a timeout of an hour", '''
def ping(address):
    with socket.create_connection(address, timeout=3600) as s:
        s.sendall(b"ping")
        return s.recv(1024)
''', "ping()'s socket had a timeout of 3600 s; the task asks for a few seconds (at most 30), "
         "e.g. s.settimeout(5)." + HINT),
    Wrong("01-with", "timeout 0", '''
def ping(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0)
        s.connect(address)
        s.sendall(b"ping")
        return s.recv(1024)
''', "ping(address) raised BlockingIOError: [Errno 115] Operation now in progress. A timeout "
         "of 0 makes the socket non-blocking: calls fail at once instead of waiting. Give it "
         "a few seconds, s.settimeout(5)." + HINT),
    Wrong("01-with", "decodes the reply", '''
def ping(address):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(b"ping")
        return s.recv(1024).decode("utf-8")
''', "ping() returned the str '欢迎访问>>>>ping\\r\\n'; return the bytes that recv() gave you, "
         "undecoded." + HINT),
    Wrong("01-with", "sends a str", '''
def ping(address):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall("ping")
        return s.recv(1024)
''', "ping(address) raised TypeError: a bytes-like object is required, not 'str'. A socket "
         "sends bytes, not text: send b'ping', or encode a str first, 'ping'.encode('utf-8')."
         + HINT),
    Wrong("01-with", "recv after the block", '''
def ping(address):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(b"ping")
    return s.recv(1024)
''', "ping(address) raised OSError: [Errno 9] Bad file descriptor: the socket was already "
         "closed when it was used. Everything that uses it, recv() too, belongs inside the "
         "`with` block." + HINT),
    Wrong("01-with", "loops until b''", '''
def ping(address):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(b"ping")
        reply = b""
        while chunk := s.recv(1024):
            reply += chunk
        return reply
''', "ping(address) got the server's reply but kept waiting for more. This server keeps the "
         "connection open until you close it, so a loop until recv() returns b'' (or a second "
         "recv()) waits for nothing. One recv(1024) is enough for a reply this short." + HINT),
    Wrong("01-with", "never sends", '''
def ping(address):
    with socket.create_connection(address, timeout=5) as s:
        return s.recv(1024)
''', "ping(address) connected, then waited for a reply without sending anything: the server "
         "answers only once it has b'ping'. Send it first, s.sendall(b'ping'), then recv()."
         + HINT),
    Wrong("01-with", "prints instead of returning", '''
def ping(address):
    with socket.create_connection(address, timeout=5) as s:
        s.sendall(b"ping")
        print(s.recv(1024))
''', "ping() returned None: return what recv(1024) gave you (return s.recv(1024))." + HINT),

    # -- 02-free-port --------------------------------------------------------------------
    Wrong("02-free-port", "a fixed port", f'''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", {FIXED}))
    s.listen()
    return s, {FIXED}
''', "The first call of open_listener() " + _CHOSE + "s.bind(('127.0.0.1', 0)), so that "
         "the system chooses a free port, and read it back with s.getsockname()[1]." + HINT),
    Wrong("02-free-port", "a random port", '''
import random

def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    port = random.randint(20000, 30000)    # unlikely to be taken
    s.bind(("127.0.0.1", port))
    s.listen()
    return s, port
''', "The first call of open_listener() " + _CHOSE + "s.bind(('127.0.0.1', 0)), so that "
         "the system chooses a free port, and read it back with s.getsockname()[1]." + HINT),
    Wrong("02-free-port", "counts up from 9998", '''
def open_listener():
    port = 9998
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:          # taken: try the next one
            s.close()
            port += 1
            continue
        s.listen()
        return s, port
''', "The first call of open_listener() " + _CHOSE + "s.bind(('127.0.0.1', 0)), so that "
         "the system chooses a free port, and read it back with s.getsockname()[1]." + HINT),
    Wrong("02-free-port", "SO_REUSEPORT on a fixed port", f'''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)   # so that the port is never "in use"
    s.bind(("127.0.0.1", {FIXED}))
    s.listen()
    return s, {FIXED}
''', "The first call of open_listener() " + _REUSEPORT + "s.bind(('127.0.0.1', 0)), so that "
         "the system chooses a free port for each listener, and read it back with "
         "s.getsockname()[1]." + HINT),
    Wrong("02-free-port", "returns a labkit server", '''
def open_listener():
    server = labkit.serve(labkit.echo)
    return server, server.address[1]
''', "The first call of open_listener() " + _SERVE + "s, s.getsockname()[1]." + _STOPPED
         + HINT),
    Wrong("02-free-port", "returns a labkit server's socket", '''
def open_listener():
    server = labkit.serve(labkit.echo)
    return server.sock, server.address[1]
''', "The first call of open_listener() " + _SERVE_SOCK + "s, s.getsockname()[1]." + _STOPPED
         + HINT),
    Wrong("02-free-port", "returns port 0", '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, 0
''', "The first call of open_listener() returned port 0: that is the number you asked for, "
         "not the one you got; ask the socket with getsockname()[1]." + HINT),
    Wrong("02-free-port", "not listening", '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]
''', "The first call of open_listener() returned a socket that is bound but refuses "
         "connections: call s.listen() after bind(), or nobody can connect." + HINT),
    Wrong("02-free-port", "bound to 0.0.0.0", '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("0.0.0.0", 0))
    s.listen()
    return s, s.getsockname()[1]
''', "The first call of open_listener() bound '0.0.0.0'; this listener is for this machine "
         "only: bind '127.0.0.1'." + HINT),
    Wrong("02-free-port", "listen without bind", '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.listen()
    return s, s.getsockname()[1]
''', "The first call of open_listener() listens without bind(): listen() then binds the "
         "any-address 0.0.0.0 for you, reachable from other machines. Call "
         "s.bind(('127.0.0.1', 0)) first." + HINT),
    Wrong("02-free-port", "returns only the port", '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s.getsockname()[1]
''', "The first call of open_listener() returned only a number; return a pair, (s, port): "
         "the socket first, then its port." + HINT),
    Wrong("02-free-port", "returns only the socket", '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s
''', "The first call of open_listener() returned only the socket; return a pair, (s, port), "
         "with the port from s.getsockname()[1]." + HINT),
    Wrong("02-free-port", "the address as the port", '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, s.getsockname()
''', "The first call of open_listener() returned the whole address, (host, port), as the "
         "port: getsockname() gives (host, port); return only the port, getsockname()[1]."
         + HINT),
    Wrong("02-free-port", "returns getsockname()", '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s.getsockname()
''', "The first call of open_listener() returned the address that getsockname() gives, "
         "(host, port); return the socket and its port: (s, s.getsockname()[1])." + HINT),
    Wrong("02-free-port", "port and socket swapped", '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s.getsockname()[1], s
''', "The first call of open_listener() returned (port, socket): put the socket first, "
         "(s, port)." + HINT),
    Wrong("02-free-port", "closed by with", '''
def open_listener():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        return s, s.getsockname()[1]
''', "The first call of open_listener() returned a closed socket: return it open (no `with` "
         "inside the function); the caller closes it." + HINT),
    Wrong("02-free-port", "finds a free port, then binds it", '''
def open_listener():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s, port
''', "The first call of open_listener() opened another socket before its listener. If that "
         "one found the port: bind port 0 on the listener itself and ask it with getsockname(). "
         "A port found by one socket and then closed is free only for a moment; another "
         "program may take it before your listener binds it." + HINT),
    Wrong("02-free-port", "a UDP socket", '''
def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]
''', "The first call of open_listener() returned a socket of type SOCK_DGRAM; a listener is "
         "TCP, SOCK_STREAM." + HINT),
    Wrong("02-free-port", "one listener made once", '''
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen()

def open_listener():
    return listener, listener.getsockname()[1]
''', "Both calls of open_listener() returned the same socket: make a new listener in every "
         "call, inside the function." + HINT),

    # -- 02-which-address ----------------------------------------------------------------
    Wrong("02-which-address", "localhost for the network", '''
def listener_for(audience):
    host = "127.0.0.1" if audience == "this machine" else "localhost"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen()
    return s
''', "listener_for('the network') bound '127.0.0.1', a loopback address: other machines "
         "cannot reach it. Bind the any-address, 0.0.0.0: it accepts connections arriving on "
         "every interface of this machine." + HINT),
    Wrong("02-which-address", "0.0.0.0 for both", '''
def listener_for(audience):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("0.0.0.0", 0))
    s.listen()
    return s
''', "listener_for('this machine') bound '0.0.0.0', the any-address: other machines can "
         "reach it too. Bind loopback, 127.0.0.1: only programs on this machine can reach it."
         + HINT),
    Wrong("02-which-address", "127.0.0.1 for both", '''
def listener_for(audience):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s
''', "listener_for('the network') bound '127.0.0.1', a loopback address: other machines "
         "cannot reach it. Bind the any-address, 0.0.0.0: it accepts connections arriving on "
         "every interface of this machine." + HINT),
    Wrong("02-which-address", "swapped", '''
def listener_for(audience):
    host = "0.0.0.0" if audience == "this machine" else "127.0.0.1"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen()
    return s
''', "listener_for('this machine') bound '0.0.0.0', the any-address: other machines can "
         "reach it too. Bind loopback, 127.0.0.1: only programs on this machine can reach it."
         + HINT),
    Wrong("02-which-address", "another loopback address", '''
def listener_for(audience):
    host = "127.0.1.1" if audience == "this machine" else "0.0.0.0"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen()
    return s
''', "listener_for('this machine') bound a loopback address other than 127.0.0.1; programs "
         "on this machine connect to 127.0.0.1. Bind loopback, 127.0.0.1: only programs on "
         "this machine can reach it." + HINT),
    Wrong("02-which-address", "a fixed port", f'''
def listener_for(audience):
    host = "127.0.0.1" if audience == "this machine" else "0.0.0.0"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, {FIXED}))
    s.listen()
    return s
''', "listener_for('this machine') " + _CHOSE + "s.bind((host, 0)), so that the system "
         "chooses a free port." + HINT),
    Wrong("02-which-address", "SO_REUSEPORT on a fixed port", f'''
def listener_for(audience):
    host = "127.0.0.1" if audience == "this machine" else "0.0.0.0"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, {FIXED}))
    s.listen()
    return s
''', "listener_for('this machine') " + _REUSEPORT + "s.bind((host, 0)), so that the system "
         "chooses a free port for each listener." + HINT),
    Wrong("02-which-address", "returns a labkit server's socket", '''
def listener_for(audience):
    host = "127.0.0.1" if audience == "this machine" else "0.0.0.0"
    return labkit.serve(labkit.echo, host=host).sock
''', "listener_for('this machine') " + _SERVE_SOCK + "s." + _STOPPED + HINT),
    Wrong("02-which-address", "not listening", '''
def listener_for(audience):
    host = "127.0.0.1" if audience == "this machine" else "0.0.0.0"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    return s
''', "listener_for('this machine') returned a socket that is bound but refuses connections: "
         "call s.listen() after bind(), or nobody can connect." + HINT),
    Wrong("02-which-address", "returns (socket, port)", '''
def listener_for(audience):
    host = "127.0.0.1" if audience == "this machine" else "0.0.0.0"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen()
    return s, s.getsockname()[1]
''', "listener_for('this machine') returned a pair, a tuple (a TCP socket listening on "
         "127.0.0.1, a number); return only the socket." + HINT),
    Wrong("02-which-address", "closed by with", '''
def listener_for(audience):
    host = "127.0.0.1" if audience == "this machine" else "0.0.0.0"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        s.listen()
        return s
''', "listener_for('this machine') returned a closed socket: return it open (no `with` "
         "inside the function); the caller closes it." + HINT),

    # -- 02-reuse ------------------------------------------------------------------------
    Wrong("02-reuse", "no SO_REUSEADDR", '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s
''', "listen_again(port) raised OSError: [Errno 98] Address already in use. Nothing listens "
         "on that port; a closed connection waits there in TIME_WAIT. Set SO_REUSEADDR before "
         "bind(): s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)." + HINT),
    Wrong("02-reuse", "SO_REUSEADDR after bind", '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.listen()
    return s
''', "listen_again(port) raised OSError: [Errno 98] Address already in use. Nothing listens "
         "on that port; a closed connection waits there in TIME_WAIT. Your socket does get "
         "SO_REUSEADDR, but only after bind(), and bind() looks at the option when it runs: "
         "move the setsockopt line above bind()." + HINT),
    Wrong("02-reuse", "SO_REUSEPORT instead", '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s
''', "listen_again(port) raised OSError: [Errno 98] Address already in use. Nothing listens "
         "on that port; a closed connection waits there in TIME_WAIT. SO_REUSEPORT is another "
         "option (it lets live listeners share a port); the one that lets you bind over "
         "TIME_WAIT is SO_REUSEADDR, set before bind()." + HINT),
    Wrong("02-reuse", "option turned off", '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s
''', "listen_again(port) raised OSError: [Errno 98] Address already in use. Nothing listens "
         "on that port; a closed connection waits there in TIME_WAIT. Your code names "
         "SO_REUSEADDR, but the socket that binds does not have it on: set it on that very "
         "socket, to 1, before bind(): s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)."
         + HINT),
    Wrong("02-reuse", "the wrong level", '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s
''', "listen_again(port) raised OSError: [Errno 22] Invalid argument. setsockopt takes "
         "(level, option, value), and SO_REUSEADDR belongs to the level socket.SOL_SOCKET, "
         "not IPPROTO_TCP." + HINT),
    Wrong("02-reuse", "falls back to another port", '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.bind(("127.0.0.1", 0))
    s.listen()
    return s
''', "listen_again(port) bound another port, not the one it was given: bind "
         "('127.0.0.1', port)." + HINT),
    Wrong("02-reuse", "not listening", '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    return s
''', "listen_again(port) returned a socket that is bound but refuses connections: call "
         "s.listen() after bind(), or nobody can connect." + HINT),
    Wrong("02-reuse", "bound to 0.0.0.0", '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", port))
    s.listen()
    return s
''', "listen_again(port) bound '0.0.0.0'; bind ('127.0.0.1', port), the address the task "
         "asks for." + HINT),
    Wrong("02-reuse", "closed by with", '''
def listen_again(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
        return s
''', "listen_again(port) returned a closed socket: return it open (no `with` inside the "
         "function); the caller closes it." + HINT),
    Wrong("02-reuse", "waits and tries again", '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    for attempt in range(5):       # the port is busy: wait until it is free
        try:
            s.bind(("127.0.0.1", port))
            break
        except OSError:
            time.sleep(1)
    s.listen()
    return s
''', "listen_again(port) did not return within 3 s: its bind() on the port failed, and it "
         "was still waiting or trying again. Waiting does not help: a connection stays in "
         "TIME_WAIT for about 60 s on Linux. With SO_REUSEADDR set before bind(), the first "
         "bind() succeeds: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)." + HINT),
    Wrong("02-reuse", "accepts a client first", '''
def listen_again(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    conn, address = s.accept()
    return s
''', "listen_again(port) made its listener, but did not return it within 3 s: is it waiting "
         "in accept() for a client? Return the socket right after listen(); whoever calls "
         "listen_again() accepts the connections." + HINT),
    Wrong("02-reuse", "returns a labkit server", '''
def listen_again(port):
    return labkit.serve(labkit.echo, port=port)
''', "listen_again(port) " + _SERVE + "s." + _STOPPED + HINT),
    Wrong("02-reuse", "returns a labkit server's socket", '''
def listen_again(port):
    return labkit.serve(labkit.echo, port=port).sock
''', "listen_again(port) " + _SERVE_SOCK + "s." + _STOPPED + HINT),
]


@pytest.mark.parametrize("wrong", WRONG, ids=str)
def test_a_wrong_answer_is_not_yet_with_its_message(wrong, baseline):
    if "[Errno" in wrong.message and not sys.platform.startswith("linux"):
        pytest.skip("error numbers and texts are Linux's")
    if "SO_REUSEPORT" in wrong.source and not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("this system has no SO_REUSEPORT")
    assert_not_yet(wrong)


NAMES = ["00-ask", "01-make-socket", "01-with", "02-free-port", "02-which-address", "02-reuse"]


@pytest.mark.parametrize("name", NAMES)
def test_the_shown_solution_is_correct(name, baseline):
    assert_correct(name)


OTHER_RIGHT = [
    ("00-ask", '''
def ask(address, text):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(address)
        s.send(text.encode())
        return s.recv(1024).decode()
    finally:
        s.close()
'''),
    ("00-ask", '''
def ask(address, text):
    with socket.create_connection(address) as s:   # no timeout, but select() guards the wait
        s.sendall(text.encode("utf-8"))
        if not select.select([s], [], [], 1)[0]:
            raise TimeoutError("no reply within 1 s")
        return s.recv(1024).decode("utf-8")
'''),
    ("01-make-socket", '''
def make_socket(kind):
    kinds = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}
    return socket.socket(type=kinds[kind])
'''),
    ("01-with", '''
def ping(address):
    with socket.create_connection(address, timeout=3) as s:
        s.sendall(b"ping")
        return s.recv(1024)
'''),
    ("01-with", '''
def ping(address):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(5)
        s.connect(address)
        s.sendall("ping".encode("utf-8"))
        return s.recv(1024)
    finally:
        s.close()
'''),
    ("02-free-port", '''
def open_listener():
    s = socket.create_server(("localhost", 0))
    return s, s.getsockname()[1]
'''),
    ("02-which-address", '''
def listener_for(audience):
    hosts = {"this machine": "localhost", "the network": ""}
    return socket.create_server((hosts[audience], 0))
'''),
    ("02-reuse", '''
def listen_again(port):
    return socket.create_server(("127.0.0.1", port), reuse_port=False)
'''),
]


@pytest.mark.parametrize("name, source", OTHER_RIGHT, ids=[n for n, _ in OTHER_RIGHT])
def test_another_right_answer_is_correct(name, source, baseline):
    assert_correct(name, source)


def test_sources_define_the_function_the_exercise_asks_for():
    for wrong in WRONG:
        assert f"def {catalogue.function_name(wrong.exercise)}(" in wrong.source, wrong

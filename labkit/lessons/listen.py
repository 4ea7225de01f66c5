"""Exercises of lesson 03-listen-accept, and a way to start the seed's server.

Every check plays the clients itself against a real listener it made, hands
the listener to the learner's function, and afterwards checks that the
listener is still open and still listening.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import subprocess
import threading
import time

from ..exercises import NotYet, call, register
from ..protocols import ECHO_PREFIX

__all__ = ["start_program", "make_listener"]


def start_program(args, *, cwd=None, timeout: float = 5.0) -> tuple[subprocess.Popen, str]:
    """Start a program, wait (at most *timeout* s) for its first line; return (process, line).

    >>> proc, line = start_program([sys.executable, "programs/server.py", "9931"])

    stdin is closed, stdout and stderr are captured as UTF-8 text. If no line
    comes in time the program is killed and TimeoutError raised.
    """
    proc = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            proc.kill()
            proc.communicate()
            raise TimeoutError(f"{args[-1]} printed nothing within {timeout:g} s")
    return proc, proc.stdout.readline().rstrip("\n")


def make_listener(backlog: int = 5) -> socket.socket:
    """A TCP listener on 127.0.0.1 and a port the system picks."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def _listening(backlog: int = 5):
    """A listener for a check; shut down on exit, so a learner's thread stuck in accept() wakes."""
    listener = make_listener(backlog)
    try:
        yield listener
    finally:
        try:
            listener.shutdown(socket.SHUT_RDWR)  # close() alone does not wake accept()
        except OSError:
            pass
        listener.close()


def _still_listening(listener: socket.socket, what: str) -> None:
    if listener.fileno() == -1:
        raise NotYet(f"{what} closed the listening socket: a server closes a connection "
                     "when it is done with a client, never its listener.")
    listener.settimeout(2)
    with socket.create_connection(listener.getsockname(), timeout=2):
        conn, _ = listener.accept()
    conn.close()  # after the client, so that no TIME_WAIT is left on the listener's port


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        data = sock.recv(4096)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


_SERVE_ONE = '''
def serve_one(listener):
    conn, address = listener.accept()   # a NEW socket, just for this client
    with conn:
        conn.sendall(b"hello\\n")
    return address
'''


@register("03-accept", title="Accept one client on a new socket", solution=_SERVE_ONE, hints=[
    "listener.accept() waits for a client and returns two things: a new socket and the "
    "client's address.",
    "Send on the new socket, not on the listener: the listener is connected to nobody.",
    "Close the new socket when you are done (a `with` block), but leave the listener open.",
])
def _check_accept(serve_one) -> str:
    with _listening() as listener, \
            socket.create_connection(listener.getsockname(), timeout=3) as client:
        # no timeout on the listener: the client is already queued, and a timeout would
        # turn a send on the listener into a wait instead of an error
        try:
            address = call(serve_one, listener, what="serve_one(listener)")
        except NotYet as exc:
            if "Broken pipe" in str(exc) or "not connected" in str(exc):
                raise NotYet(f"{exc}. You sent on the listening socket, which is connected to "
                             "nobody: send on the socket accept() returned.") from None
            if "'tuple' object has no attribute" in str(exc):
                raise NotYet(f"{exc}. accept() returns a pair, (socket, address): unpack it "
                             "with conn, address = listener.accept().") from None
            raise
        try:
            got = _read_all(client)
        except socket.timeout:
            raise NotYet("the client waited 3 s for serve_one() to send b'hello\\n' and "
                         "close the connection.") from None
        if got != b"hello\n":
            raise NotYet(f"the client received {got!r}, expected b'hello\\n'.")
        if isinstance(address, socket.socket):
            address.close()
            raise NotYet("serve_one() returned a socket; return the client's address, the "
                         "second thing accept() gives you.")
        if address != client.getsockname():
            raise NotYet(f"serve_one() returned {address!r}, not the client's address.")
        _still_listening(listener, "serve_one()")
    return ("you accepted on the listener, talked on the new socket, and the listener still "
            "takes clients.")


_WAIT_FOR_CLIENT = '''
def wait_for_client(listener, seconds):
    listener.settimeout(seconds)
    try:
        return listener.accept()
    except TimeoutError:         # also called socket.timeout
        return None
'''


@register("03-wait", title="Wait for a client, but not forever", solution=_WAIT_FOR_CLIENT,
          hints=[
              "listener.settimeout(seconds) makes accept() give up after that long.",
              "When it gives up, accept() raises TimeoutError (socket.timeout is the same "
              "class): catch it and return None.",
              "Leave the listener blocking (no setblocking(False)): a client that comes "
              "a moment later must still be accepted.",
          ])
def _check_wait(wait_for_client) -> str:
    with _listening() as listener:
        what = "wait_for_client(listener, 0.5)"
        started = time.monotonic()
        try:
            result = call(wait_for_client, listener, 0.5, timeout=3, what=what)
        except NotYet as exc:
            if "TimeoutError" in str(exc):
                raise NotYet(f"{exc}. That is the timeout working: catch TimeoutError "
                             "(socket.timeout) and return None.") from None
            raise
        if result is not None:
            raise NotYet(f"with no client at all, {what} returned {result!r}; return None.")
        if time.monotonic() - started < 0.4:
            raise NotYet(f"with no client, {what} gave up at once; wait about 0.5 s.")
        # now a client that arrives 0.2 s after the call starts
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.settimeout(3)
        timer = threading.Timer(0.2, client.connect, (listener.getsockname(),))
        timer.start()
        what = "wait_for_client(listener, 2)"
        try:
            started = time.monotonic()
            result = call(wait_for_client, listener, 2, timeout=4, what=what)
            waited = time.monotonic() - started
            timer.join(3)
            if not (isinstance(result, tuple) and len(result) == 2
                    and isinstance(result[0], socket.socket)):
                raise NotYet(f"a client connected 0.2 s after the call, but {what} returned "
                             f"{result!r}; return what accept() returns.")
            if waited > 1.5:
                result[0].close()
                raise NotYet(f"a client connected 0.2 s after the call, but {what} returned "
                             f"only after {waited:.1f} s: accept the client as soon as it "
                             "comes (accept() with a timeout does that).")
            with result[0] as conn:
                if conn.getpeername() != client.getsockname():
                    raise NotYet(f"{what} returned a socket that is not connected to the "
                                 "client.")
        finally:
            timer.cancel()
            client.close()
    return "no client: None after the timeout; a late client: accepted."


_SERVE = '''
def serve(listener, n):
    for _ in range(n):                  # one accept() per client
        conn, address = listener.accept()
        with conn:
            data = conn.recv(1024)
            reply = "欢迎访问>>>>" + data.decode("utf-8") + "\\r\\n"
            conn.sendall(reply.encode("utf-8"))
'''


def _clients(address, n: int, results: dict) -> None:
    """n clients, one after another: connect, send, signal the end, read until EOF.

    results[i] = (text sent, bytes received, the error that ended it or None);
    the clients stop at the first one that fails.
    """
    for i in range(1, n + 1):
        text, chunks, error = f"你好 {i}", [], None
        try:
            with socket.create_connection(address, timeout=2) as s:
                s.sendall(text.encode("utf-8"))
                s.shutdown(socket.SHUT_WR)
                while data := s.recv(4096):
                    chunks.append(data)
        except OSError as exc:
            error = exc
        results[i] = (text, b"".join(chunks), error)
        if error is not None:
            return


@register("03-serve-many", title="More clients than the backlog", solution=_SERVE, hints=[
    "The backlog only limits how many clients may wait, already connected, for accept(). "
    "Once accepted, a client no longer counts.",
    "Call listener.accept() once per client, in a loop that runs n times.",
    "For each client: recv(1024), reply '欢迎访问>>>>' + text + '\\r\\n' (encoded to UTF-8), "
    "then close that client's socket so it sees the end.",
])
def _check_serve(serve) -> str:
    n = 5
    with _listening(backlog=1) as listener:
        listener.settimeout(3)
        results: dict = {}
        clients = threading.Thread(target=_clients, args=(listener.getsockname(), n, results),
                                   name="labkit-exercise-clients", daemon=True)
        clients.start()
        failed = None
        try:
            call(serve, listener, n, timeout=5, what=f"serve(listener, {n})")
        except NotYet as exc:
            failed = exc
        clients.join(n * 2 + 1)
        if failed is not None and "raised" in str(failed) and "TimeoutError" not in str(failed):
            raise failed  # a bug in the function says more than the clients' view of it
        for i in range(1, n + 1):
            if i not in results:
                raise NotYet(f"client {i} of {n} never finished.")
            text, got, error = results[i]
            want = f"{ECHO_PREFIX}{text}\r\n".encode("utf-8")
            if isinstance(error, socket.timeout) and not got:
                raise NotYet(f"client {i} of {n} waited 2 s and got no answer: the kernel had "
                             f"queued it, but your function stopped after {i - 1} client(s). "
                             "Call accept() once for every client.")
            if isinstance(error, socket.timeout):
                raise NotYet(f"client {i} of {n} received {got!r}, then waited 2 s for the "
                             "end of the connection: close each client's socket when done.")
            if error is not None:
                raise NotYet(f"client {i} of {n} failed: {type(error).__name__}: {error}.")
            if got != want:
                raise NotYet(f"client {i} of {n} sent {text!r} and received {got!r}; "
                             f"expected {want!r}, then the end of the connection.")
        if failed is not None:
            raise failed
        _still_listening(listener, f"serve(listener, {n})")
    return (f"{n} clients served, one after another, by a listener whose backlog is 1: "
            "the backlog is not a limit on clients.")

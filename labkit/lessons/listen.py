"""Exercises of lesson 03-listen-accept, and a way to start the seed's server.

Every check plays the clients itself against a real listener it made, hands
the listener to the learner's function, and afterwards checks that the
listener is still open and still listening.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import subprocess
import threading
import time

from ..errors import LabkitError
from ..exercises import NotYet, call, register
from ..protocols import ECHO_PREFIX

__all__ = ["start_program", "ProgramExitedError", "make_listener"]


class ProgramExitedError(LabkitError, RuntimeError):
    """A program started by :func:`start_program` ended before it printed its first line."""

    def __init__(self, message: str, returncode: int | None, stderr: str):
        super().__init__(message)
        self.returncode, self.stderr = returncode, stderr


_PROGRAMS: dict = {}  # (args, cwd) -> the Popen started last with them


def _end(proc: subprocess.Popen) -> None:
    """Kill *proc* if it still runs, reap it and close its pipes."""
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def start_program(args, *, cwd=None, timeout: float = 5.0) -> tuple[subprocess.Popen, str]:
    """Start a program, wait (at most *timeout* s) for its first line; return (process, line).

    >>> proc, line = start_program([sys.executable, "programs/server.py", "0"])
    >>> line
    '服务器已启动,等待连接>>> 127.0.0.1:43817'

    *process* is the running program's :class:`subprocess.Popen` (``poll()``,
    ``wait()``, ``kill()``, ``communicate()``); *line* is its first line of
    output, without the newline. stdin is closed, stdout and stderr are
    captured as UTF-8 text.

    Starting the same command again first ends the copy started before, if it
    still runs, so a notebook cell that starts a server can be run twice. A
    program that exits before its first line (e.g. a server whose port is
    taken by another program) raises ProgramExitedError with what it wrote to
    stderr; one that prints nothing in time is killed and TimeoutError raised.
    """
    key = (tuple(str(a) for a in args), None if cwd is None else str(cwd))
    earlier = _PROGRAMS.pop(key, None)
    if earlier is not None:
        _end(earlier)
    proc = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")
    name = str(args[1] if len(args) > 1 else args[0])
    # The first line is read in a thread, so the wait is bounded by *timeout* even when the
    # program prints part of a line and stops (readline() would wait for the rest), and
    # because select() cannot wait on a pipe on Windows.
    first: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: first.put(proc.stdout.readline()),
                              name=f"labkit-start-{name}", daemon=True)
    reader.start()
    try:
        line = first.get(timeout=timeout)
    except queue.Empty:
        _end(proc)  # killing it ends the reader's readline() with end of file
        reader.join(timeout)
        raise TimeoutError(f"{name} printed no whole line within {timeout:g} s") from None
    if not line:  # end of output: the program is gone (or going) without a word on stdout
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        _end(proc)
        tail = "\n".join(err.strip().splitlines()[-5:]) or "(nothing)"
        message = (f"{name} exited (exit code {proc.returncode}) before printing its first "
                   f"line. The end of what it wrote to stderr:\n{tail}")
        if "Address already in use" in err:
            message += ("\nAnother program still listens on that port: a copy started in a "
                        "terminal or in another notebook? Stop it (Ctrl-C in its terminal, "
                        "Kernel > Restart in the notebook), then run this cell again.")
        raise ProgramExitedError(message, proc.returncode, err)
    _PROGRAMS[key] = proc
    return proc, line.rstrip("\n")


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


class _Listener(socket.socket):
    """A check's listener: remembers the sockets its accept() returned.

    Holding them keeps the garbage collector from closing a socket the learner
    forgot to close, and lets a check count the accepts and see one that waits.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.accepted: list[socket.socket] = []
        self.waiting = 0  # calls to accept() still waiting for a client
        self.calls = 0  # calls to accept(), returned or not

    def accept(self):
        self.waiting += 1
        self.calls += 1
        try:
            conn, address = super().accept()
        finally:
            self.waiting -= 1
        self.accepted.append(conn)
        return conn, address


@contextlib.contextmanager
def _listening(backlog: int = 5):
    """A listener for a check; shut down on exit, so a learner's thread stuck in accept() wakes."""
    listener = _Listener(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(backlog)
        yield listener
    finally:
        try:
            listener.shutdown(socket.SHUT_RDWR)  # close() alone does not wake accept()
        except OSError:
            pass
        listener.close()
        for conn in listener.accepted:
            conn.close()


def _bytes_hint(text: str) -> str:
    """*text*, plus what to do when it is the error of mixing str and bytes."""
    if "bytes-like object is required, not 'str'" in text:
        return (f"{text}. Sockets send bytes: write b\"...\", or encode a str first with "
                ".encode(\"utf-8\")")
    if "can't concat str to bytes" in text or 'not "bytes") to str' in text:
        return (f"{text}. recv() gives bytes, and text in quotes is a str; they do not mix: "
                "decode what you received (data.decode(\"utf-8\")), build the reply as a "
                "str, then encode it (reply.encode(\"utf-8\")) for sendall()")
    return text


def _shown(data: bytes) -> str:
    """Bytes shown as the text they encode, so that a missing '\\r\\n' is easy to spot."""
    return repr(data.decode("utf-8", errors="backslashreplace"))


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
    what = "serve_one(listener)"
    with _listening() as listener, \
            socket.create_connection(listener.getsockname(), timeout=3) as client:
        # no timeout on the listener: the client is already queued, and a timeout would
        # turn a send on the listener into a wait instead of an error
        try:
            address = call(serve_one, listener, what=what)
        except NotYet as exc:
            text = str(exc)
            if "did not return" in text and listener.accepted and listener.waiting:
                raise NotYet(f"{what} accepted the check's client, then called accept() "
                             "again and waits there for a second client that never comes. "
                             "The check connects one client: call accept() once.") from None
            if "did not return" in text and listener.accepted:
                raise NotYet(f"{text} The check's one client sends nothing: it only waits "
                             "for b'hello\\n' and the end of the connection.") from None
            if "Broken pipe" in text or "not connected" in text:
                raise NotYet(f"{text}. You sent on the listening socket, which is connected to "
                             "nobody: send on the socket accept() returned.") from None
            if "'tuple' object has no attribute" in text:
                raise NotYet(f"{text}. accept() returns a pair, (socket, address): unpack it "
                             "with conn, address = listener.accept().") from None
            raise NotYet(_bytes_hint(text)) from None
        if isinstance(address, socket.socket):
            raise NotYet(f"{what} returned a socket; return the client's address, the "
                         "second thing accept() gives you.")
        if isinstance(address, tuple) and address and isinstance(address[0], socket.socket):
            raise NotYet(f"{what} returned accept()'s whole pair (socket, address); return "
                         "just the address, the second item.")
        if not listener.accepted:
            raise NotYet(f"{what} returned {address!r} without calling listener.accept(): "
                         "the client is still waiting in the queue.")
        if any(conn.fileno() != -1 for conn in listener.accepted):
            raise NotYet(f"{what} left the socket that accept() returned open. Close it when "
                         "you are done (conn.close(), or a `with conn:` block): the close is "
                         "what tells the client that nothing more will come.")
        try:
            got = _read_all(client)
        except socket.timeout:
            raise NotYet(f"The client waited 3 s for {what} to send b'hello\\n' and "
                         "close the connection.") from None
        if got != b"hello\n":
            raise NotYet(f"The client received {got!r}, expected b'hello\\n'.")
        if address != client.getsockname():
            raise NotYet(f"{what} returned {address!r}, not the client's address.")
        _still_listening(listener, "serve_one()")
    return ("You accepted on the listener, talked on the new socket and closed it, and the "
            "listener still takes clients.")


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
              "When a client comes in time, return accept()'s pair (socket, address) as it "
              "is: the check talks to the client on that socket.",
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
            raise NotYet(f"With no client at all, {what} returned {result!r}; return None.")
        if time.monotonic() - started < 0.4:
            raise NotYet(f"With no client, {what} gave up at once; wait about 0.5 s.")
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
                raise NotYet(f"A client connected 0.2 s after the call, but {what} returned "
                             f"{result!r}; return what accept() returns.")
            if waited > 1.5:
                result[0].close()
                raise NotYet(f"A client connected 0.2 s after the call, but {what} returned "
                             f"only after {waited:.1f} s: accept the client as soon as it "
                             "comes (accept() with a timeout does that).")
            with result[0] as conn:
                if conn.getpeername() != client.getsockname():
                    raise NotYet(f"{what} returned a socket that is not connected to the "
                                 "client.")
        finally:
            timer.cancel()
            client.close()
    return "No client: None after the timeout; a late client: accepted."


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
    what = f"serve(listener, {n})"
    with _listening(backlog=1) as listener:
        listener.settimeout(3)
        results: dict = {}
        clients = threading.Thread(target=_clients, args=(listener.getsockname(), n, results),
                                   name="labkit-exercise-clients", daemon=True)
        clients.start()
        failed = None
        try:
            call(serve, listener, n, timeout=5, what=what)
        except NotYet as exc:
            failed = exc
        clients.join(n * 2 + 1)
        if failed is not None and "raised" in str(failed) and "TimeoutError" not in str(failed):
            # a bug in the function says more than the clients' view of it
            raise NotYet(_bytes_hint(str(failed))) from None
        accepts = listener.calls
        unaccepted = ""
        if failed is None and accepts < n:  # it returned early, not stuck or failing
            times = {0: "never called accept()", 1: "called accept() once"}.get(
                accepts, f"called accept() {accepts} times")
            left = (f"client {n} was" if accepts == n - 1
                    else f"clients {accepts + 1} to {n} were")
            unaccepted = (f" Your function {times} for {n} clients, so {left} never accepted: "
                          "call accept() once for every client.")
        for i in range(1, n + 1):
            if i not in results:
                raise NotYet(f"Client {i} of {n} never finished.{unaccepted}")
            text, got, error = results[i]
            want = f"{ECHO_PREFIX}{text}\r\n"
            if isinstance(error, socket.timeout) and not got:
                raise NotYet(f"Client {i} of {n} waited 2 s and got no answer: the kernel had "
                             f"queued it, but your function stopped after {i - 1} client(s). "
                             "Call accept() once for every client.")
            if isinstance(error, socket.timeout):
                raise NotYet(f"Client {i} of {n} received {_shown(got)}, then waited 2 s for "
                             "the end of the connection: close each client's socket when "
                             f"done.{unaccepted}")
            if error is not None:
                raise NotYet(f"Client {i} of {n} failed: {type(error).__name__}: {error}."
                             f"{unaccepted}")
            if got != want.encode("utf-8"):
                raise NotYet(f"Client {i} of {n} sent {text!r} and received {_shown(got)}; "
                             f"expected {want!r}, then the end of the connection.{unaccepted}")
        if failed is not None:
            raise failed
        _still_listening(listener, what)
    return (f"{n} clients served, one after another, by a listener whose backlog is 1: "
            "the backlog is not a limit on clients.")

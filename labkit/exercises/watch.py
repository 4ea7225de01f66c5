"""Watching the learner's code while a check runs: what it opened, bound and called.

:func:`call` runs the learner's function in a thread of its own and turns every
failure into :class:`NotYet`; while a check runs (:func:`_watching_sockets`,
installed by :meth:`labkit.exercises.core.Exercise.check`) every socket that
code creates is recorded, so :func:`left_open` can name what is still open.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

__all__ = ["NotYet", "call", "describe_socket", "learner_binds", "learner_sockets", "left_open"]


class NotYet(Exception):
    """Raised by a check function: the answer is wrong, and the message says how.

    >>> raise NotYet("serve() returned after 4 clients; it should serve 5.")
    Traceback (most recent call last):
    labkit.exercises.watch.NotYet: serve() returned after 4 clients; it should serve 5.
    """


def _refers_to(fn, targets) -> bool:
    """True if *fn* is one of *targets*, or names one as a global or holds one in a closure.

    Lets a check notice an answer that hands the work to labkit's own function.
    """
    if any(fn is target for target in targets):
        return True
    names = getattr(getattr(fn, "__code__", None), "co_names", ())
    found = getattr(fn, "__globals__", {})
    cells = []
    for cell in getattr(fn, "__closure__", None) or ():
        with contextlib.suppress(ValueError):  # an empty cell
            cells.append(cell.cell_contents)
    return (any(found.get(name) is target for name in names for target in targets)
            or any(c is target for c in cells for target in targets))


@contextlib.contextmanager
def _watching_labkit(names):
    """During a check, labkit's functions *names* (in labkit and in the module that defines
    each: labkit.wire.framing or labkit.wire.javautf) still work but note every call made
    from the learner's code (the thread that call() starts), so an answer that reaches them
    as ``labkit.write_utf`` at run time is noticed too. Calls from other threads (the
    check's own servers) are not counted."""
    from labkit.wire import framing, javautf  # labkit's face looks names up there at each use

    used: list[str] = []
    patched = []
    for name in names:
        module = javautf if hasattr(javautf, name) else framing
        original = getattr(module, name)

        def watched(*args, _original=original, _name=name, **kwargs):
            watch = _watch
            if watch is not None and watch.is_learners(threading.current_thread()):
                used.append(_name)
            return _original(*args, **kwargs)

        patched.append((module, name, original))
        setattr(module, name, watched)
    try:
        yield used
    finally:
        for module, name, original in patched:
            setattr(module, name, original)


# -- what the learner's code opened ------------------------------------------------

class _Watch:
    """The sockets created by the learner's code while one check runs.

    Installed by :meth:`Exercise.check`; while it is, ``socket.socket.__init__`` and
    ``threading.Thread.start`` are wrapped. A thread is the learner's if it is the one
    ``call()`` starts or was started from a learner's thread; a socket is the learner's
    if a learner's thread created it (``accept()`` included).
    """

    def __init__(self):
        self.sockets: list[socket.socket] = []  # strong references: nothing is collected
        self.binds: list[tuple] = []  # the address of every bind() the learner's code made
        self.threads: set[threading.Thread] = set()
        self.lock = threading.Lock()

    def is_learners(self, thread: threading.Thread) -> bool:
        # by the thread object, not its name: a learner's thread that outlived an earlier
        # check (a retry loop, say) is not this check's
        return thread in self.threads

    def open(self) -> list[socket.socket]:
        with self.lock:
            return [s for s in self.sockets if s.fileno() != -1]

    def servers(self) -> dict:
        """The labkit servers the learner's code started that still run: {server: its
        sockets among the learner's}. They are stopped, not have their sockets pulled."""
        from labkit.serving.servers import running  # exercises use the servers, never the other way

        mine = {id(s) for s in self.open()}
        found = {}
        for server in running():
            owned = [s for s in (getattr(server, "sock", None), server._wake_r, server._wake_w)
                     if s is not None and id(s) in mine]
            if owned:
                found[server] = owned
        return found

    def close_all(self, grace: float = 0.5) -> None:
        """Stop what the learner's code left running: first give its threads *grace*
        seconds to close their own sockets (closing under them makes them print errors),
        then stop its labkit servers, shut down and close the rest (shutdown wakes a
        thread blocked in recv() on it; close alone does not, on Linux)."""
        deadline = time.monotonic() + grace
        while self.open() and time.monotonic() < deadline:
            time.sleep(0.01)
        for server in self.servers():
            with contextlib.suppress(Exception):
                server.stop()
        for sock in self.open():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


_watch: _Watch | None = None
_watch_lock = threading.Lock()  # one check at a time may wrap socket and Thread


@contextlib.contextmanager
def _watching_sockets():
    global _watch
    with _watch_lock:
        watch = _Watch()
        socket_init, thread_start = socket.socket.__init__, threading.Thread.start
        own_bind = socket.socket.__dict__.get("bind")  # None: inherited from _socket
        real_bind = socket.socket.bind

        def init(self, *args, **kwargs):
            socket_init(self, *args, **kwargs)
            if watch.is_learners(threading.current_thread()):
                with watch.lock:
                    watch.sockets.append(self)

        def bind(self, address):
            if watch.is_learners(threading.current_thread()):
                with watch.lock:
                    watch.binds.append(address)
            return real_bind(self, address)

        def start(self, *args, **kwargs):
            if watch.is_learners(threading.current_thread()):
                with watch.lock:
                    watch.threads.add(self)
            return thread_start(self, *args, **kwargs)

        socket.socket.__init__, threading.Thread.start = init, start
        socket.socket.bind = bind
        _watch = watch
        try:
            yield watch
        finally:
            socket.socket.__init__, threading.Thread.start = socket_init, thread_start
            if own_bind is None:
                del socket.socket.bind
            else:
                socket.socket.bind = own_bind
            _watch = None
            watch.close_all()


def describe_socket(sock: socket.socket) -> str:
    """One socket in a learner's words: its kind and addresses, e.g. "a TCP socket
    connected from 127.0.0.1:PORT to 127.0.0.1:PORT" (ports are left out: they change).

    >>> import socket
    >>> with socket.create_server(("127.0.0.1", 0)) as listener:
    ...     describe_socket(listener)
    'a TCP socket listening on 127.0.0.1'
    """
    kind = {socket.SOCK_STREAM: "TCP", socket.SOCK_DGRAM: "UDP"}.get(sock.type, str(sock.type))
    if sock.family not in (socket.AF_INET, socket.AF_INET6):  # e.g. one of a socketpair()
        return f"a {kind} socket of family {sock.family.name}"
    try:
        local = sock.getsockname()
    except OSError:
        return f"a {kind} socket"
    try:
        sock.getpeername()
        connected = True
    except OSError:
        connected = False
    if kind == "TCP" and connected:
        return f"a {kind} socket connected to a peer"
    if kind == "TCP" and local[1] and _is_listening(sock):
        return f"a {kind} socket listening on {local[0]}"
    if local[1] and kind == "TCP":
        return f"a {kind} socket on {local[0]} with no connection (any more)"
    if local[1]:
        return f"a {kind} socket bound to {local[0]}"
    return f"a {kind} socket never connected"


def _is_listening(sock: socket.socket) -> bool:
    try:
        return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    except (OSError, AttributeError):  # not every system reports it
        return False


def learner_sockets() -> list[socket.socket]:
    """Every socket the learner's code has created so far in this check, open or closed,
    oldest first (a closed socket still answers ``gettimeout()``). ``[]`` outside a check.

    >>> learner_sockets()
    []
    """
    watch = _watch
    if watch is None:
        return []
    with watch.lock:
        return list(watch.sockets)


def learner_binds() -> list:
    """The address given to every ``bind()`` the learner's code has made in this check,
    in order (``create_server`` binds too). ``[]`` outside a check.

    A check can tell a port the system chose (``0``) from one the learner chose.

    >>> import socket
    >>> from labkit.exercises.core import Exercise
    >>> def checker(listen):
    ...     call(listen).close()
    ...     return f"bound {learner_binds()}"     # the verdict capitalises the message
    >>> ex = Exercise("xx-bind", "Listen", checker, [], "")
    >>> ex.check(lambda: socket.create_server(("127.0.0.1", 0))).message
    "Bound [('127.0.0.1', 0)]"
    """
    watch = _watch
    if watch is None:
        return []
    with watch.lock:
        return list(watch.binds)


def left_open(wait: float = 1.0) -> list[str]:
    """The learner's sockets still open now, described (see :func:`describe_socket`).

    Waits up to *wait* seconds for them to close first: a learner's thread may be about
    to. Outside a check, there is nothing to report: ``[]``.

    >>> import socket
    >>> from labkit.exercises.core import Exercise
    >>> def checker(listen):
    ...     call(listen)
    ...     still = left_open(wait=0)
    ...     if still:
    ...         raise NotYet(f"You left {still[0]} open.")
    ...     return "closed"
    >>> ex = Exercise("xx-leak", "Close it", checker, ["Use with."], "")
    >>> print(ex.check(lambda: socket.create_server(("127.0.0.1", 0))).message)
    You left a TCP socket listening on 127.0.0.1 open. ex.hint() gives a hint.
    """
    watch = _watch
    if watch is None:
        return []
    deadline = time.monotonic() + wait
    while watch.open() and time.monotonic() < deadline:
        time.sleep(0.01)
    servers = watch.servers()
    theirs = {id(s) for owned in servers.values() for s in owned}
    return ([f"a labkit server ({type(server).__name__} {server.name!r})" for server in servers]
            + [describe_socket(s) for s in watch.open() if id(s) not in theirs])


def _open_message(still: list[str]) -> str:
    what = still[0] if len(still) == 1 else f"{len(still)} sockets ({', '.join(still)})"
    text = (f"When the check ended, your code still had {what} open. Close every socket "
            "you open: use `with`, or call close() in a `finally:` block; a socket kept in "
            "a list or a variable stays open until you close it.")
    if any(item.startswith("a labkit server") for item in still):
        text += " A labkit server you start ends with its stop(), or at the end of a `with` block."
    return text


def _kind_of(value) -> str:
    if isinstance(value, socket.socket):
        return "a socket"
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _in_thread(fn, *args) -> tuple[threading.Thread, dict]:
    """Start *fn(*args)* in a daemon thread; its result or exception lands in the dict."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the learner
            box["error"] = exc

    thread = threading.Thread(target=run, name="labkit-exercise", daemon=True)
    watch = _watch
    if watch is not None:  # during a check: this thread runs the learner's code
        with watch.lock:
            watch.threads.add(thread)
    thread.start()
    return thread, box


def call(fn, *args, timeout: float = 3.0, what: str | None = None):
    """Run the learner's *fn(*args)* in a thread; turn every failure into NotYet.

    A call that does not return within *timeout* seconds is reported, not
    waited for: the thread is a daemon, and the check's server closes the
    sockets it was waiting on.

    >>> call(lambda: 42)
    42
    >>> call(lambda: 1 / 0, what="divide()")
    Traceback (most recent call last):
    labkit.exercises.watch.NotYet: divide() raised ZeroDivisionError: division by zero
    """
    what = what or f"{getattr(fn, '__name__', 'your function')}()"
    thread, box = _in_thread(fn, *args)
    thread.join(timeout)
    if thread.is_alive():
        raise NotYet(f"{what} did not return within {timeout:g} s. Is it blocked in a call "
                     "that waits (accept, connect, recv) for something that never comes, or "
                     "looping forever (recv returns b'' again and again once the peer has "
                     "closed)? Every blocking call needs a timeout, and every loop an end.")
    if "error" in box:
        exc = box["error"]
        detail = f": {exc}" if str(exc) else ""
        raise NotYet(f"{what} raised {type(exc).__name__}{detail}")
    return box.get("value")



"""Exercises of lesson 10-capstone-chat.

How the check works: it serves the learner's handler and runs the conformance check
(``labkit.chat.conformance``) against it, then two steps of its own: a client that vanishes
mid-line (its connection reset), and a client that never reads while it sends lines the
server answers, so that ``tell()`` finds that client's queue full. Throughout, it watches
the learner's threads: the server's connection threads (they run the handler) and every
thread started from one of them, noting any started with ``threading.Thread`` instead of
``conn.start_thread``. When a step fails, or a thread is still running after its client
has left, the check looks at where the learner's code waits (``sys._current_frames``),
so that the message names that function and line rather than the symptom. The
watching and the reading of stacks are in :mod:`labkit.exercises.chatthreads`.
"""

from __future__ import annotations

import queue
import socket
import struct
import threading
import time
import traceback

from labkit.chat.conformance import check_chat_server
from labkit.chat.peer import ChatPeer, StepFailed
from labkit.exercises.core import register
from labkit.exercises.watch import NotYet
from labkit.wire.peers import AdversarialPeer
from labkit.serving.base import any_readable
from labkit.serving.servers import TCPServer
from labkit.exercises.chatthreads import (_Threads, _in_handler_itself, _is_learners,
                                          _order, _queues, _unstick, _waiting)

_SOLUTION = '''
outboxes = {}              # conn.number -> a bounded queue of what to send that client

def my_chat(conn):
    outbox = outboxes[conn.number] = queue.Queue(100)
    conn.start_thread(writer, conn, outbox)     # stop() joins it and keeps its errors
    try:
        chat_v2(conn)
    finally:                   # however the client left: stop its writer
        del outboxes[conn.number]    # it is out of the room: only this thread puts now
        while True:
            try:
                outbox.put_nowait(None)    # never put(): on a full queue it waits for good
                break
            except queue.Full:             # far behind: drop a line to make room
                try:
                    outbox.get_nowait()
                except queue.Empty:
                    pass

def writer(conn, outbox):
    try:
        while (data := outbox.get()) is not None:    # None: the client has left
            conn.sendall(data)
    except OSError:
        pass               # the connection is gone: stop

def put_or_drop(number, conn, data):   # call it holding room_lock
    try:
        outboxes[number].put_nowait(data)
    except queue.Full:                 # too slow: let it go
        room.pop(number, None)
        try:
            conn.shutdown(socket.SHUT_RDWR)   # its reader and writer both end
        except OSError:
            pass                       # it was gone already

def say(sender, text):     # replaces step 2's say: queue, never wait for a client
    with room_lock:
        for number, conn in list(room.items()):
            if conn is not sender:
                put_or_drop(number, conn, text.encode())

def tell(conn, data):      # replaces step 2's tell: the same, for one client
    with room_lock:
        put_or_drop(conn.number, conn, data)
'''

_RESTART = (" Threads like that one stay in this kernel until you restart it "
            "(Kernel → Restart Kernel).")
FLOOD = 2000  # bare /nick lines from the client that never reads: each one is answered


@register("10-chat", title="A chat server that keeps the contract", solution=_SOLUTION, hints=[
    "Keep chat_v2 and wrap it: my_chat(conn) puts a queue.Queue(100) in a dict "
    "outboxes[conn.number], starts its writer with conn.start_thread(writer, conn, queue), "
    "then calls chat_v2(conn). Redefine say() and tell() to queue.",
    "The writer loops: data = outbox.get(); conn.sendall(data). It stops when it takes None "
    "and on OSError (the client is gone). Put the None in a `finally:` around chat_v2(conn), "
    "with put_nowait(): a blocking put() on a full queue waits for good. If the queue is "
    "full, take a line out (get_nowait()) to make room.",
    "In say() and tell(), use put_nowait(): queue.Full means that client is too slow. Take "
    "it out of the room and conn.shutdown(socket.SHUT_RDWR): its reader and its writer "
    "both end.",
])
def _check_chat(handler) -> str:
    threads = _Threads()
    errors: list[BaseException] = []  # from threads started with threading.Thread
    seen: dict = {"handler": getattr(handler, "__name__", "my_chat")}  # and on_failure's
    previous_hook = threading.excepthook

    def keep(args):  # the learner's own threads: keep their exceptions, do not print them
        if args.thread is not None and args.thread in threads.mine:
            errors.append(args.exc_value)
        else:
            previous_hook(args)

    def serve(conn):
        threads.adopt()
        if threads.small_buffers:  # the last step: the server's send buffer fills at once
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        return handler(conn)

    def on_failure(step, detail):
        seen["stuck"] = [_waiting(t) for t in sorted(threads.handlers(), key=_order)]
        seen["queues"] = _queues(threads.mine)

    threading.excepthook = keep
    try:
        with threads.watching(), TCPServer(serve, name="exercise-chat", timeout=5) as server:
            report = check_chat_server(server, on_failure=on_failure)
            failed = None if report.ok else report.first_failure
            if failed is None:
                failed = _vanish(server) or _flood(server, threads)
            left = threads.lingering(1.5) if failed is None else []
            server.stop(0.5)  # a thread stuck for good is found already: do not wait long
        _unstick(threads)
        deadline = time.monotonic() + 0.5
        for thread in list(threads.mine):
            thread.join(max(0.0, deadline - time.monotonic()))
        remain = [t for t in threads.mine if t.is_alive()]
    finally:
        threading.excepthook = previous_hook

    if threads.raw:
        target, (fn, line) = threads.raw[0]
        what, name = (f"{target}()", target) if target.isidentifier() else ("a thread", "writer")
        raise NotYet(f"{fn}() starts {what} with threading.Thread{_at(line)}: server.stop() "
                     "cannot join a thread the server did not start, so it may outlive the "
                     "server, and an exception in it is printed instead of kept. Start it "
                     f"with conn.start_thread({name}, conn, outbox): stop() joins it and keeps "
                     "its errors." + (_RESTART if remain else ""))
    if server.errors or errors:
        raise NotYet(_raised((server.errors or errors)[0]))
    if failed is not None:
        raise NotYet(_failure(failed, seen, threads))
    if left:
        raise NotYet(_lingering(left[0]) + (_RESTART if remain else ""))
    return "your server passed every step of the conformance check, slow consumer included."


# -- the check's own steps ----------------------------------------------------------------


def _vanish(server) -> str | None:
    """erin joins, speaks in pieces, then vanishes mid-line (RST): frank hears she left."""
    frank = erin = None
    try:
        frank, erin = ChatPeer(server.address, "frank"), ChatPeer(server.address, "erin")
        erin.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        erin.send("/nick erin")
        for _ in range(30):  # until frank is in the room and hears her
            erin.send("here")
            if frank.heard("erin: here", 0.1):
                break
        else:
            raise StepFailed("frank waited 3 s for 'erin: here' and it did not come")
        last = "whoever reads this: 你好".encode()
        AdversarialPeer(erin.sock, seed=10).sendall(b"/nick erin\n" + last[:-2])
        erin.close()  # with unsent bytes: a reset, mid-character
        erin = None
        frank.expect("* erin left", timeout=3.0, skip=("* ", "erin: "))
    except StepFailed as exc:
        return f"a client that vanished mid-line (its connection reset): {exc}"
    except OSError as exc:
        return f"a client that vanished mid-line: {type(exc).__name__}: {exc}"
    finally:
        for peer in (frank, erin):
            if peer is not None:
                peer.close()
    return None


def _flood(server, threads: _Threads) -> str | tuple | None:
    """lazy never reads, and sends FLOOD bare /nick lines: each gets an answer from tell(),
    until its queue is full. Its handler must go on (or let lazy go), never wait for good."""
    threads.small_buffers = True
    accepted = server.accepted
    lazy = None
    try:
        lazy = ChatPeer(server.address, "lazy", rcvbuf=4096)
        lazy.sock.sendall(b"/nick\n" * FLOOD)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            time.sleep(0.02)
            with server._lock:
                conns = [c for c in server.connections.values() if c.number > accepted]
            if server.accepted > accepted and all(
                    c.done or c.waiting and not any_readable([c.sock]) for c in conns):
                return None  # lazy's handler has ended, or waits for more: it went on
        name = f"labkit-{server.name}-conn-{accepted + 1}"
        for thread in threads.handlers():
            if thread.name == name:
                if _in_handler_itself(thread):  # lazy was let go, but the handler hangs
                    return ("left", _waiting(thread))
                _, what, fn, line = _waiting(thread)
                return ("stuck put" if what == "put" else "stuck", fn, line)
        return None
    except OSError as exc:
        return f"a client that never reads: {type(exc).__name__}: {exc}"
    finally:
        if lazy is not None:
            lazy.close()


# -- messages -----------------------------------------------------------------------------


def _at(line: str) -> str:
    return f", at `{line}`" if line else ""


def _raised(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_learners(f.filename)]
    fn, line = (frames[-1].name, (frames[-1].line or "").strip()) if frames else ("", "")
    who = f"{fn}()" if frames else "your handler"
    if isinstance(exc, queue.Full):
        return (f"{who} raised queue.Full{_at(line)}: that client's queue is full because it "
                "does not read what the server sends it. Catch queue.Full, and let the "
                "client go: take it out of the room and call conn.shutdown(socket.SHUT_RDWR).")
    detail = f": {exc}" if str(exc) else ""
    text = f"{who} raised {type(exc).__name__}{detail}{_at(line)}."
    if fn == "say" and "NoneType" in str(exc):
        text += (" chat_v2 calls say(None, text) to tell everyone that a client left: a "
                 "sender of None leaves nobody out.")
    return text


def _failure(failed, seen: dict, threads: _Threads) -> str:
    if isinstance(failed, tuple) and failed[0] == "left":  # the flood step
        return _lingering(failed[1])
    if isinstance(failed, tuple):
        kind, fn, line = failed
        if kind == "stuck put":
            return (f"A client that never reads what the server answers stalled its own "
                    f"handler: {fn}() waited on that client's full queue{_at(line)}, and "
                    "a blocking put() waits for good. Use put_nowait() there too, and on "
                    "queue.Full let the client go.")
        return (f"A client that never reads what the server answers stalled its own "
                f"handler: {fn}() never went on{_at(line)}.")
    step = failed.split(":", 1)[0]
    if step == "slow consumer" and "stalled the others" in failed:
        for _, what, fn, line in seen.get("stuck", []):
            if what == "put":
                return (f"One client that never reads stalled the room: {fn}() "
                        f"waited on that client's full queue{_at(line)} (a blocking put() "
                        "waits until its writer takes a line, and the writer waits for a "
                        "client that never reads), and meanwhile nobody else got a line. Use "
                        "put_nowait(), and on queue.Full disconnect that client.")
            if what == "send":
                return (f"One client that never reads stalled the room: {fn}() "
                        f"waited to send to it{_at(line)} (sendall() waits until that client "
                        "reads), and meanwhile nobody else got a line. Put the line in that "
                        "client's queue with put_nowait() instead; its writer sends it.")
    if step == "slow consumer" and ("queued all" in failed or "never disconnected" in failed):
        if any(q.maxsize <= 0 for q in seen.get("queues", [])):
            return ("A client that never reads kept every line: a queue.Queue() without a "
                    "size grows without end (here, all 1600 lines for that client). Give each "
                    "client a queue.Queue(100), and when put_nowait() raises queue.Full, "
                    "disconnect that client.")
        return ("A client that never reads stayed connected: when its queue is full, let it "
                "go: take it out of the room and call conn.shutdown(socket.SHUT_RDWR), so "
                "that its reader and its writer both end.")
    if not threads.started() and any(q.qsize() for q in seen.get("queues", [])):
        return (f"Nothing sends what is queued: {seen['handler']}() starts no writer, so no "
                "client gets a line. Start one per client with "
                "conn.start_thread(writer, conn, outbox).")
    return f"{failed}."


def _lingering(waiting: tuple) -> str:
    thread, what, fn, line = waiting
    if what == "get":
        return (f"A writer outlived its client: after the client had left, {fn}() still "
                f"waited for a line{_at(line)}. Put None in its queue in a `finally:` around "
                "chat_v2(conn), so that the writer stops however the client leaves (/quit, "
                "end of stream, or a connection reset mid-line).")
    if what == "put":
        return (f"After its client had left, {fn}() still waited{_at(line)}: that client "
                "was too slow, its queue is full and its writer has stopped, so a blocking "
                "put() never returns. Put None in with put_nowait(), and on queue.Full take a "
                "line out of the queue first (once the client is out of the room, only this "
                "thread puts into it).")
    return (f"After its client had left, {fn}() was still running{_at(line)}. Every thread "
            "of a client must end when the client leaves.")

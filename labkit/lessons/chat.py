"""Exercises of lesson 10-capstone-chat."""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
import traceback

from ..conformance import check_chat_server
from ..exercises import NotYet, register
from ..servers import TCPServer

_SOLUTION = '''
outboxes = {}              # conn.number -> a bounded queue of what to send that client

def tell(conn, data):      # replaces step 2's tell: queue it, the writer sends it
    outboxes[conn.number].put_nowait(data)

def writer(conn, outbox):
    try:
        while (data := outbox.get()) is not None:    # None: the client has left
            conn.sendall(data)
    except OSError:
        pass               # the connection is gone: stop

def say(sender, text):     # replaces step 2's say: queue, never wait for a client
    with room_lock:
        for number, conn in list(room.items()):
            if conn is not sender:
                try:
                    outboxes[number].put_nowait(text.encode())
                except queue.Full:          # too slow: let it go
                    del room[number]
                    try:
                        conn.shutdown(socket.SHUT_RDWR)   # its reader and writer both end
                    except OSError:
                        pass                    # it was gone already

def my_chat(conn):
    outboxes[conn.number] = queue.Queue(100)
    conn.start_thread(writer, conn, outboxes[conn.number])   # stop() joins it
    try:
        chat_v2(conn)
    finally:
        try:
            outboxes.pop(conn.number).put_nowait(None)   # the writer ends after the rest
        except queue.Full:
            pass           # it was too slow: its writer has stopped already
'''

_LABKIT = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_STDLIB = os.path.dirname(os.path.abspath(threading.__file__)) + os.sep


@register("10-chat", title="A chat server that keeps the contract", solution=_SOLUTION, hints=[
    "Keep chat_v2 and wrap it: my_chat(conn) puts a queue.Queue(100) in a dict "
    "outboxes[conn.number], starts its writer with conn.start_thread(writer, conn, queue), "
    "then calls chat_v2(conn). Redefine say() and tell() to queue.",
    "The writer loops: data = outbox.get(); conn.sendall(data). It stops when it takes None "
    "(put None in when chat_v2 returns) and on OSError (the client is gone).",
    "In say(), use put_nowait(): queue.Full means that client is too slow. Take it out of "
    "the room and conn.shutdown(socket.SHUT_RDWR): its reader and its writer both end.",
])
def _check_chat(handler) -> str:
    before = set(threading.enumerate())
    thread_errors: list[tuple[str, BaseException]] = []
    waited_on_put = []
    previous_hook = threading.excepthook

    def keep(args):  # the learner's own threads: keep their exceptions, do not print them
        if args.thread is not None and args.thread.name.startswith("labkit-"):
            previous_hook(args)
        else:
            thread_errors.append((getattr(args.thread, "name", "?"), args.exc_value))

    def on_failure(step, detail):
        if step == "slow consumer":
            waited_on_put.extend(_blocked_puts("exercise-chat"))

    threading.excepthook = keep
    try:
        with TCPServer(handler, name="exercise-chat", timeout=5) as server:
            report = check_chat_server(server, on_failure=on_failure)
        _unstick("exercise-chat", 1.0)
        deadline = time.monotonic() + 1.0
        for thread in set(threading.enumerate()) - before:  # writers started with Thread()
            thread.join(max(0.0, deadline - time.monotonic()))
        still = sorted(t.name for t in set(threading.enumerate()) - before if t.is_alive())
    finally:
        threading.excepthook = previous_hook
    if waited_on_put:
        raise NotYet("your say() waited on a full queue (a blocking put() while it holds the "
                     "room's lock), so one slow client stalled everyone: use put_nowait(), "
                     "and on queue.Full disconnect that client.")
    if thread_errors:
        name, exc = thread_errors[0]
        raise NotYet(f"your thread {name!r} raised {type(exc).__name__}{_where(exc)}: a writer "
                     "must catch OSError (the client is gone) and stop; or start it with "
                     "conn.start_thread(writer, ...), which logs it instead.")
    if server.errors:
        exc = server.errors[0]
        raise NotYet(f"your handler raised {type(exc).__name__}: {exc}{_where(exc)}.")
    if not report.ok:
        raise NotYet(f"{report.first_failure}.")
    if still:
        raise NotYet(f"{len(still)} of your threads still ran after the server stopped "
                     f"({still[0]!r}): a writer must stop when it takes None from its queue "
                     "(put None in when chat_v2 returns) and on OSError.")
    return "your server passed every step of the conformance check, slow consumer included."


def _where(exc: BaseException) -> str:
    """' in NAME(), at `LINE`': the last line of the learner's code in the traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith((_LABKIT, _STDLIB))]
    if not frames:
        return ""
    frame = frames[-1]
    line = (frame.line or "").strip()
    return f" in {frame.name}()" + (f", at `{line}`" if line else "")


def _threads_in_put(server_name: str):
    """(thread, queue) for each connection thread of the server that waits in Queue.put."""
    frames = sys._current_frames()
    for thread in threading.enumerate():
        if not thread.name.startswith(f"labkit-{server_name}-"):
            continue
        frame = frames.get(thread.ident)
        while frame is not None:
            if frame.f_code is queue.Queue.put.__code__ and frame.f_locals.get("block", True):
                yield thread, frame.f_locals.get("self")
                break
            frame = frame.f_back


def _blocked_puts(server_name: str) -> list[str]:
    return [thread.name for thread, _ in _threads_in_put(server_name)]


def _unstick(server_name: str, seconds: float) -> None:
    """After stop(): empty the full queues that handler threads still wait to put into,
    so that those threads end (and let go of the room's lock) instead of waiting forever."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stuck = [q for _, q in _threads_in_put(server_name) if isinstance(q, queue.Queue)]
        if not stuck:
            return
        for q in stuck:
            try:
                while True:
                    q.get_nowait()
            except queue.Empty:
                pass
        time.sleep(0.01)

"""Exercises of lesson 10-capstone-chat."""

from __future__ import annotations

from ..conformance import check_chat_server
from ..exercises import NotYet, register
from ..servers import TCPServer

_SOLUTION = '''
outboxes = {}              # conn.number -> a bounded queue of what to send it

def tell(conn, data):      # replaces step 2's tell: queue it, the writer sends it
    outboxes[conn.number].put(data)

def writer(conn, outbox):
    try:
        while (data := outbox.get()) is not None:
            conn.sendall(data)
    except OSError:
        pass               # the connection is gone

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
    threading.Thread(target=writer, args=(conn, outboxes[conn.number]), daemon=True).start()
    try:
        chat_v2(conn)
    finally:
        try:
            outboxes.pop(conn.number).put_nowait(None)   # the writer ends after the rest
        except queue.Full:
            pass           # it was too slow: its writer has stopped already
'''


@register("10-chat", title="A chat server that keeps the contract", solution=_SOLUTION, hints=[
    "Keep chat_v2 and wrap it: my_chat(conn) gives the client a queue.Queue(100) and starts "
    "a writer thread for it, then calls chat_v2(conn). Redefine say() and tell() to queue.",
    "The writer loops: data = outbox.get(); conn.sendall(data); a None in the queue means "
    "stop. Put None in when chat_v2 returns.",
    "In say(), use put_nowait(): queue.Full means that client is too slow. Take it out of "
    "the room and conn.shutdown(socket.SHUT_RDWR): its reader and its writer both end.",
])
def _check_chat(handler) -> str:
    with TCPServer(handler, name="exercise-chat", timeout=5) as server:
        report = check_chat_server(server)
    if server.errors:
        exc = server.errors[0]
        raise NotYet(f"your handler raised {type(exc).__name__}: {exc} (server.log() shows where).")
    if not report.ok:
        raise NotYet(f"{report.first_failure}.")
    return "your server passed every step of the conformance check, slow consumer included."

"""Wrong answers a learner writes for lesson 10's chat server (10-chat), and the exact
"not yet" each gets; the shown solution and other right answers pass.

A source is the learner's exercise cell. It runs after the lesson's own step-2 cells
(room, names, room_lock, say, tell, handle_line, chat_v2), taken from the notebook, in
one namespace, as in the notebook: the cell's say and tell replace step 2's.
"""

import dataclasses
import json
import linecache
import textwrap
from pathlib import Path

import pytest

import catalogue
import labkit
from catalogue import Wrong, assert_correct, assert_not_yet

pytestmark = pytest.mark.timeout(60)

HINT = " ex.hint() gives a hint."
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "10-capstone-chat.ipynb"


def _lesson() -> str:
    """The notebook's step-2 cells, in order: what the learner's cell runs after."""
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text("utf-8"))["cells"]
             if c["cell_type"] == "code"]
    starts = ("room = {}", "def say(", "def handle_line(", "def chat_v2(")
    return "\n\n".join(next(c for c in cells if c.startswith(s)) for s in starts)


LESSON = _lesson()

_RAW = ("my_chat() starts writer() with threading.Thread: server.stop() cannot join a thread "
        "the server did not start, so it may outlive the server, and an exception in it is "
        "printed instead of kept. Start it with conn.start_thread(writer, conn, outbox): "
        "stop() joins it and keeps its errors.")
_RESTART = (" Threads like that one stay in this kernel until you restart it "
            "(Kernel → Restart Kernel).")
_OUTLIVED = ("A writer outlived its client: after the client had left, writer() still waited "
             "for a line. Put None in its queue in a `finally:` around chat_v2(conn), so that "
             "the writer stops however the client leaves (/quit, end of stream, or a "
             "connection reset mid-line)." + _RESTART)
_KEPT = ("A client that never reads stayed connected: when its queue is full, let it go: take "
         "it out of the room and call conn.shutdown(socket.SHUT_RDWR), so that its reader "
         "and its writer both end.")


def _full(fn: str) -> str:
    return (f"{fn}() raised queue.Full: that client's queue is full because it does not read "
            "what the server sends it. Catch queue.Full, and let the client go: take it out "
            "of the room and call conn.shutdown(socket.SHUT_RDWR).")


# A right answer in a learner's style; the wrong ones below each change one thing in it.
RIGHT = '''
outboxes = {}

def writer(conn, outbox):
    while True:
        data = outbox.get()
        if data is None:
            break
        try:
            conn.sendall(data)
        except OSError:
            break

def drop(number, conn):
    room.pop(number, None)
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass

def say(sender, text):
    with room_lock:
        for number, conn in list(room.items()):
            if conn is not sender:
                try:
                    outboxes[number].put_nowait(text.encode())
                except queue.Full:
                    drop(number, conn)

def tell(conn, data):
    try:
        outboxes[conn.number].put_nowait(data)
    except queue.Full:
        with room_lock:
            drop(conn.number, conn)

def my_chat(conn):
    outboxes[conn.number] = queue.Queue(100)
    conn.start_thread(writer, conn, outboxes[conn.number])
    try:
        chat_v2(conn)
    finally:
        try:
            outboxes.pop(conn.number).put_nowait(None)
        except queue.Full:
            pass
'''


def _changed(*changes) -> str:
    """RIGHT with each (old, new) replaced: the learner's cell with one mistake in it."""
    source = RIGHT
    for old, new in changes:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    return source


_START = "    conn.start_thread(writer, conn, outboxes[conn.number])\n"
_FINALLY = '''    try:
        chat_v2(conn)
    finally:
        try:
            outboxes.pop(conn.number).put_nowait(None)
        except queue.Full:
            pass
'''
_SAY_PUT = '''                try:
                    outboxes[number].put_nowait(text.encode())
                except queue.Full:
                    drop(number, conn)
'''
_TELL = '''def tell(conn, data):
    try:
        outboxes[conn.number].put_nowait(data)
    except queue.Full:
        with room_lock:
            drop(conn.number, conn)
'''

WRONG = [
    Wrong("10-chat", "a daemon thread for the writer", _changed(
        (_START, "    threading.Thread(target=writer, args=(conn, outboxes[conn.number]),\n"
                 "                     daemon=True).start()\n")),
        _RAW + HINT),
    Wrong("10-chat", "a thread of its own, joined in finally", _changed((_START + _FINALLY, '''\
    t = threading.Thread(target=writer, args=(conn, outboxes[conn.number]))
    t.start()
    try:
        chat_v2(conn)
    finally:
        try:
            outboxes.pop(conn.number).put_nowait(None)
        except queue.Full:
            pass
        t.join()
''')), _RAW + HINT),
    Wrong("10-chat", "a daemon writer that never stops", _changed(
        (_START, "    threading.Thread(target=writer, args=(conn, outboxes[conn.number]),\n"
                 "                     daemon=True).start()\n"),
        (_FINALLY, "    chat_v2(conn)\n")),
        _RAW + _RESTART + HINT),
    Wrong("10-chat", "say still sends (only tell queues)", _changed((textwrap.dedent('''\
        def say(sender, text):
            with room_lock:
                for number, conn in list(room.items()):
                    if conn is not sender:
        ''') + _SAY_PUT, "")),
        "One client that never reads stalled the room: say() waited to send to it (sendall() "
        "waits until that client reads), and meanwhile nobody else got a line. Put the line "
        "in that client's queue with put_nowait() instead; its writer sends it." + HINT),
    Wrong("10-chat", "a blocking put in say", _changed((_SAY_PUT, '''\
                outboxes[number].put(text.encode())
''')),
        "One client that never reads stalled the room: say() waited on that client's full "
        "queue (a blocking put() waits until its writer takes a line, and the writer waits "
        "for a client that never reads), and meanwhile nobody else got a line. Use "
        "put_nowait(), and on queue.Full disconnect that client." + HINT),
    Wrong("10-chat", "an unbounded queue", _changed(("queue.Queue(100)", "queue.Queue()")),
        "A client that never reads kept every line: a queue.Queue() without a size grows "
        "without end (here, all 1600 lines for that client). Give each client a "
        "queue.Queue(100), and when put_nowait() raises queue.Full, disconnect that client."
        + HINT),
    Wrong("10-chat", "a full queue drops the line, keeps the client", _changed(
        (_SAY_PUT, _SAY_PUT.replace("drop(number, conn)", "pass"))),
        _KEPT + HINT),
    Wrong("10-chat", "out of the room, never shut down", _changed(
        (_SAY_PUT, _SAY_PUT.replace("drop(number, conn)", "del room[number]"))),
        _KEPT + HINT),
    Wrong("10-chat", "say without queue.Full", _changed((_SAY_PUT, '''\
                outboxes[number].put_nowait(text.encode())
''')), _full("say") + HINT),
    Wrong("10-chat", "tell without queue.Full", _changed((_TELL, '''\
def tell(conn, data):
    outboxes[conn.number].put_nowait(data)
''')), _full("tell") + HINT),
    Wrong("10-chat", "a blocking put in tell", _changed((_TELL, '''\
def tell(conn, data):
    outboxes[conn.number].put(data)
''')),
        "A client that never reads what the server answers stalled its own handler: tell() "
        "waited on that client's full queue, and a blocking put() waits for good. Use "
        "put_nowait() there too, and on queue.Full let the client go." + HINT),
    Wrong("10-chat", "put(None) blocks in finally", _changed((_FINALLY, '''\
    try:
        chat_v2(conn)
    finally:
        outboxes.pop(conn.number).put(None)
''')),
        "After its client had left, my_chat() still waited: that client was too slow, its "
        "queue is full and its writer has stopped, so a blocking put() never returns. Put "
        "None in with put_nowait(), and on queue.Full take a line out of the queue first "
        "(once the client is out of the room, only this thread puts into it)." + HINT),
    Wrong("10-chat", "the writer is never told to stop", _changed((_FINALLY, '''\
    try:
        chat_v2(conn)
    finally:
        del outboxes[conn.number]
''')), _OUTLIVED + HINT),
    Wrong("10-chat", "None only when chat_v2 returns (a vanished client)", _changed((_FINALLY, '''\
    chat_v2(conn)
    try:
        outboxes.pop(conn.number).put_nowait(None)
    except queue.Full:
        pass
''')), _OUTLIVED + HINT),
    Wrong("10-chat", "say leaves out sender.number (the leaver is never announced)", _changed(
        ("            if conn is not sender:\n", "            if number != sender.number:\n")),
        "say() raised AttributeError: 'NoneType' object has no attribute 'number'. chat_v2 "
        "calls say(None, text) to tell everyone that a client left: a sender of None leaves "
        "nobody out." + HINT),
    Wrong("10-chat", "queues str, not bytes", _changed(
        ("put_nowait(text.encode())", "put_nowait(text)")),
        "writer() raised TypeError: a bytes-like object is required, not 'str'." + HINT),
    Wrong("10-chat", "no writer started", _changed((_START, "")),
        "Nothing sends what is queued: my_chat() starts no writer, so no client gets a line. "
        "Start one per client with conn.start_thread(writer, conn, outbox)." + HINT),
]

# Leave threads behind for good (the message says so): not for the baseline fixture.
_LEAVE_THREADS = {"a daemon writer that never stops", "the writer is never told to stop",
                  "None only when chat_v2 returns (a vanished client)",
                  "tell without queue.Full"}  # its writer may outlive the check (seen in CI)


def _after_lesson(source: str) -> str:
    return LESSON + "\n\n" + source


LEAVES_THREADS = pytest.mark.no_leak_check(
    reason="the wrong answer's writer threads never end: the message says to restart the kernel")


@pytest.mark.parametrize("wrong", [pytest.param(w, marks=LEAVES_THREADS) if w.name in _LEAVE_THREADS
                                   else w for w in WRONG], ids=str)
def test_a_wrong_answer_gets_its_message(wrong):
    assert_not_yet(dataclasses.replace(wrong, source=_after_lesson(wrong.source)))


OTHER_RIGHT = [
    ("a learner's style", RIGHT),
    ("tell drops the notice; writer iterates; no try", _changed(
        (_TELL, '''\
def tell(conn, data):
    try:
        outboxes[conn.number].put_nowait(data)
    except queue.Full:
        pass        # it does not read anyway
'''),
        ('''\
    while True:
        data = outbox.get()
        if data is None:
            break
        try:
            conn.sendall(data)
        except OSError:
            break
''', '''\
    for data in iter(outbox.get, None):
        conn.sendall(data)          # OSError: conn.start_thread logs it, and the writer ends
'''))),
]


def test_the_shown_solution_passes(baseline):
    assert catalogue.function_name("10-chat") == "my_chat"
    assert_correct("10-chat", _after_lesson(labkit.exercise("10-chat").solution().text))


@pytest.mark.parametrize("name, source", OTHER_RIGHT, ids=[n for n, _ in OTHER_RIGHT])
def test_a_right_answer_in_another_style_passes(name, source, baseline):
    assert_correct("10-chat", _after_lesson(source))


def _as_a_cell(source: str, number: int):
    """my_chat from *source* run as a notebook cell: its lines can be shown (linecache),
    as IPython keeps them."""
    filename = f"/tmp/ipykernel_0/cell{number}.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    space = catalogue.namespace()
    exec(compile(LESSON, "/tmp/ipykernel_0/lesson.py", "exec"), space)  # noqa: S102
    exec(compile(source, filename, "exec"), space)  # noqa: S102
    return space["my_chat"]


@pytest.mark.parametrize("name, quoted", [
    ("a daemon thread for the writer", "my_chat() starts writer() with threading.Thread, at "
     "`daemon=True).start()`: "),  # Python names the line of .start()
    ("a blocking put in say", "say() waited on that client's full queue, at "
     "`outboxes[number].put(text.encode())` (a blocking put()"),
    ("put(None) blocks in finally", "my_chat() still waited, at "
     "`outboxes.pop(conn.number).put(None)`: "),
    pytest.param("tell without queue.Full", "tell() raised queue.Full, at "
                 "`outboxes[conn.number].put_nowait(data)`: ", marks=LEAVES_THREADS),
])
def test_in_a_notebook_the_message_quotes_the_line(name, quoted):
    wrong = next(w for w in WRONG if w.name == name)
    verdict = labkit.exercise("10-chat").check(_as_a_cell(wrong.source, len(name)))
    assert verdict.status == "not yet"
    assert quoted in verdict.message, verdict.message


def test_there_are_four_wrong_answers_or_more():
    assert len(WRONG) >= 4

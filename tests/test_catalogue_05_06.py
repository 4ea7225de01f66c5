"""Wrong answers to the exercises of lessons 05 (send and receive) and 06 (close), each with
the whole "not yet" message it gets, word for word; and right answers in other styles than
the shown solution, which must pass. See tests/catalogue.py.

The checks are adversarial and the same on every run. 05-send-all's socket takes a seeded
random part of what each send() offers (never all of it, unless it is one byte). The
reading exercises get their bytes in seeded pieces, each sent only when the learner's
recv() waits for it, so every recv() returns exactly one piece, cut through a header or a
character; their peers fall silent half-way, and close at once. A silence half-way lasts
until the learner's recv() has timed out when its socket has a timeout of up to 3 s (in
06-read-all's first round and 06-ask's second), so a timeout taken for the end of the
stream fails on every run, while an answer that lets the timeout propagate passes. Loops
that would never end (recv() after b'', send() a byte at a time) are stopped and named. So
the messages below hold no port, timing or object id.
"""

import functools
import time

import pytest

import labkit
from catalogue import Wrong, assert_correct, assert_not_yet
from labkit.exercises.sendonly import SendOnly
from labkit.exercises.checksockets import (SPIN, Stopped, WatchedSocket, cut,
                                         in_background, send_in_step, stay_silent)
from labkit.exercises.connect import tcp_pair

pytestmark = pytest.mark.timeout(60)

WRONG = [
    # -- 05-send-all -------------------------------------------------------------
    Wrong('05-send-all', 'one send', r'''
def send_all(sock, data):
    sock.send(data)
''',
          'send_all(sock, data) called send() once, and it took only 8,371 of the '
          '1,048,576 bytes: your code ignored the count it returned, and the other '
          '1,040,205 were never sent. send() returns how many bytes it took: add that '
          'to a total, and offer what is left, sock.send(data[total:]), until the '
          'total is len(data). ex.hint() gives a hint.'),
    Wrong('05-send-all', '4 KiB chunks, total += 4096', r'''
def send_all(sock, data):
    total = 0
    while total < len(data):
        sock.send(data[total:total + 4096])
        total += 4096
''',
          'send() took only 2,552 of the 4,096 bytes offered, and your next call went '
          'on after all 4,096: the other 1,544 were never sent. Your code ignored the '
          'count that send() returns. In all, 523,920 of the 1,048,576 bytes never '
          'arrived. send() returns how many bytes it took: add that to a total, and '
          'offer what is left, sock.send(data[total:]), until the total is len(data). '
          'ex.hint() gives a hint.'),
    Wrong('05-send-all', '16 KiB chunks in a for loop', r'''
def send_all(sock, data):
    for i in range(0, len(data), 16384):
        sock.send(data[i:i + 16384])
''',
          'send() took only 10,206 of the 16,384 bytes offered, and your next call '
          'went on after all 16,384: the other 6,178 were never sent. Your code '
          'ignored the count that send() returns. In all, 525,759 of the 1,048,576 '
          'bytes never arrived. send() returns how many bytes it took: add that to a '
          'total, and offer what is left, sock.send(data[total:]), until the total is '
          'len(data). ex.hint() gives a hint.'),
    Wrong('05-send-all', 'resends from the start', r'''
def send_all(sock, data):
    total = 0
    while total < len(data):
        total += sock.send(data)
''',
          'send() took only 8,371 of the 1,048,576 bytes offered, and your next call '
          'offered data from its start again: 8,371 bytes went a second time. In all, '
          '1,032,402 of the 1,048,576 bytes never arrived and 1,034,959 arrived twice '
          'or more. send() returns how many bytes it took: add that to a total, and '
          'offer what is left, sock.send(data[total:]), until the total is len(data). '
          'ex.hint() gives a hint.'),
    Wrong('05-send-all', 'total = instead of +=', r'''
def send_all(sock, data):
    total = 0
    while total < len(data):
        total = sock.send(data[total:])
''',
          'send() took only 11,749 of the 1,040,205 bytes offered, and your next call '
          'offered again bytes that had already gone out: 8,371 bytes went a second '
          'time. send() returns how many bytes it took: add that to a total, and '
          'offer what is left, sock.send(data[total:]), until the total is len(data). '
          'ex.hint() gives a hint.'),
    Wrong('05-send-all', 'counts what was offered', r'''
def send_all(sock, data):
    total = 0
    while total < len(data):
        rest = data[total:]
        sock.send(rest)
        total += len(rest)
''',
          'send_all(sock, data) called send() once, and it took only 8,371 of the '
          '1,048,576 bytes: your code ignored the count it returned, and the other '
          '1,040,205 were never sent. send() returns how many bytes it took: add that '
          'to a total, and offer what is left, sock.send(data[total:]), until the '
          'total is len(data). ex.hint() gives a hint.'),
    Wrong('05-send-all', 'one retry', r'''
def send_all(sock, data):
    sent = sock.send(data)
    if sent < len(data):
        sock.send(data[sent:])
''',
          'send_all(sock, data) returned after 2 calls of send(), which took 20,120 '
          'of the 1,048,576 bytes: the last 1,028,456 bytes never went. Loop until '
          'the total of what send() returned is len(data). ex.hint() gives a hint.'),
    Wrong('05-send-all', 'stops one byte short', r'''
def send_all(sock, data):
    total = 0
    while total < len(data) - 1:
        total += sock.send(data[total:])
''',
          'send_all(sock, data) returned after 142 calls of send(), which took '
          '1,048,575 of the 1,048,576 bytes: the last byte never went. Loop until the '
          'total of what send() returned is len(data). ex.hint() gives a hint.'),
    Wrong('05-send-all', '<= keeps sending nothing', r'''
def send_all(sock, data):
    total = 0
    while total <= len(data):
        total += sock.send(data[total:])
''',
          'send_all(sock, data) kept calling send() after every byte had gone, '
          "offering it nothing (b''): the check stopped it after 20,000 calls. End "
          'the loop when the total reaches len(data): while total < len(data). '
          'ex.hint() gives a hint.'),
    Wrong('05-send-all', 'one byte per send', r'''
def send_all(sock, data):
    for i in range(len(data)):
        sock.send(data[i:i + 1])
''',
          'send_all(sock, data) offered send() one byte at a time: correct in '
          'principle, but far too slow. The check stopped it after 20,000 calls, when '
          '20,000 of the 1,048,576 bytes had gone. Offer everything that is left, '
          'sock.send(data[total:]), and let send() take what it can. ex.hint() gives '
          'a hint.'),
    Wrong('05-send-all', 'calls sendall', r'''
def send_all(sock, data):
    sock.sendall(data)
''',
          'send_all(sock, data) raised AttributeError: this socket offers only send() '
          '- sendall() is what you are writing yourself. ex.hint() gives a hint.'),
    # -- 05-recv-exactly ---------------------------------------------------------
    Wrong('05-recv-exactly', 'one recv', r'''
def recv_exactly(sock, n):
    return sock.recv(n)
''',
          "recv_exactly(sock, 4) returned b'\\x00\\x00', only 2 bytes: one recv() "
          'returns what has arrived so far. Loop. ex.hint() gives a hint.'),
    Wrong('05-recv-exactly', 'recv(1024) then buf[:n]', r'''
def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(1024)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf[:n]
''',
          'recv_exactly(sock, 4) returned 4 bytes, but its recv() calls took 6 from '
          'the socket: the 2 after them, the start of the next message, were thrown '
          'away. Ask recv() only for what is still missing: sock.recv(n - len(data)). '
          'ex.hint() gives a hint.'),
    Wrong('05-recv-exactly', 'recv(1024) returns it all', r'''
def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(1024)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data
''',
          'recv_exactly(sock, 4) returned 6 bytes: it ate the start of the next '
          'message. Ask recv() only for what is missing. ex.hint() gives a hint.'),
    Wrong('05-recv-exactly', 'recv(n) in the loop', r'''
def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data
''',
          'recv_exactly(sock, 4) returned 6 bytes: it ate the start of the next '
          'message. Ask recv() only for what is missing. ex.hint() gives a hint.'),
    Wrong('05-recv-exactly', 'MSG_WAITALL', r'''
def recv_exactly(sock, n):
    data = sock.recv(n, socket.MSG_WAITALL)
    if len(data) < n:
        raise ConnectionError("peer closed")
    return data
''',
          'recv_exactly(sock, 4) raised ConnectionError: peer closed: recv() with '
          'MSG_WAITALL returned fewer than 4 bytes, although the peer had not closed. '
          'On a socket with a timeout (this one has one, as every socket should) '
          'Python waits for the first bytes, then reads without blocking, so recv() '
          'returns what has arrived; and even without a timeout a signal can cut '
          'MSG_WAITALL short. The loop is still needed: recv() until you hold n '
          'bytes. ex.hint() gives a hint.'),
    Wrong('05-recv-exactly', 'MSG_WAITALL without a timeout', r'''
def recv_exactly(sock, n):
    sock.settimeout(None)
    data = sock.recv(n, socket.MSG_WAITALL)
    if len(data) < n:
        raise ConnectionError("peer closed")
    return data
''',
          "recv_exactly(sock, n) took away the socket's timeout (settimeout(None)), "
          "so a silent peer would make it wait for ever. Leave the socket's timeout "
          'as it is, and loop: even MSG_WAITALL may return fewer than n bytes. '
          'ex.hint() gives a hint.'),
    Wrong('05-recv-exactly', "ignores b''", r'''
def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        data += sock.recv(n - len(data))
    return data
''',
          'The peer sent 3 bytes and closed, and recv_exactly(sock, 10) kept calling '
          "recv() after it had returned b''. b'' means the peer has closed its side, "
          'and recv() then returns it at once, for ever. 10 bytes will never come: '
          "raise ConnectionError when recv() returns b''. ex.hint() gives a hint."),
    Wrong('05-recv-exactly', 'raises EOFError', r'''
def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("peer closed")
        data += chunk
    return data
''',
          'The peer sent 3 bytes and closed, and recv_exactly(sock, 10) raised '
          'EOFError: peer closed. Right to raise, but raise ConnectionError, as '
          'asked: raise ConnectionError("peer closed after 3 of 10 bytes"). ex.hint() '
          'gives a hint.'),
    Wrong('05-recv-exactly', 'returns what came when closed', r'''
def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data
''',
          'The peer sent 3 bytes and closed, and recv_exactly(sock, 10) returned '
          "b'abc'; raise ConnectionError: 10 bytes will never come. ex.hint() gives a "
          'hint.'),
    Wrong('05-recv-exactly', 'a short recv taken for a close', r'''
def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if len(chunk) < n - len(data):
            raise ConnectionError("peer closed")
        data += chunk
    return data
''',
          'recv_exactly(sock, 4) raised ConnectionError: peer closed, but the peer '
          'had not closed: a recv() that returns fewer bytes than asked for only '
          'means the rest has not arrived yet. Raise ConnectionError only when recv() '
          "returns b''. ex.hint() gives a hint."),
    Wrong('05-recv-exactly', 'returns str', r'''
def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data.decode("utf-8")
''',
          "recv_exactly(sock, 4) returned '\\x00\\x00\\x00\\x0f'; return bytes. ex.hi"
          'nt() '
          'gives a hint.'),
    Wrong('05-recv-exactly', 'calls labkit.recv_exactly', r'''
def recv_exactly(sock, n):
    return labkit.recv_exactly(sock, n)
''',
          'Your recv_exactly calls labkit.recv_exactly, which does the work for you. '
          'The point is to write the loop yourself, with sock.recv(). ex.hint() gives '
          'a hint.'),
    # -- 05-read-lines -----------------------------------------------------------
    Wrong('05-read-lines', 'one recv', r'''
def read_lines(sock):
    data = sock.recv(1024)
    return data.decode("utf-8").split("\n")[:-1]
''',
          'With lines split and merged, characters whole, read_lines(sock) returned '
          'after 1 call of recv(), before the peer had closed: the peer sent 9 '
          'pieces, and one recv() returns only what has arrived so far. Keep reading '
          "until recv() returns b''. ex.hint() gives a hint."),
    Wrong('05-read-lines', 'decodes each chunk', r'''
def read_lines(sock):
    text = ""
    while chunk := sock.recv(1024):
        text += chunk.decode("utf-8")
    return text.split("\n")[:-1]
''',
          'With every other character cut in half, read_lines(sock) raised '
          "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe4 in position 0: "
          'unexpected end of data. A character was cut between two recv() calls; '
          'decode only whole characters. ex.hint() gives a hint.'),
    Wrong('05-read-lines', 'splits each chunk', r'''
def read_lines(sock):
    lines = []
    while chunk := sock.recv(1024):
        lines += chunk.decode("utf-8", "replace").splitlines()
    return lines
''',
          'With lines split and merged, characters whole, read_lines(sock) returned '
          "['你好', '', '欢', '迎', '访问>>>>', '你好', '', 'hell', 'o 世', '界', '', '再见']; "
          "the peer sent the lines ['你好', '欢迎访问>>>>你好', 'hello 世界', '', '再见']. "
          'ex.hint() gives a hint.'),
    Wrong('05-read-lines', "keeps the last ''", r'''
def read_lines(sock):
    data = b""
    while chunk := sock.recv(1024):
        data += chunk
    return data.decode("utf-8").split("\n")
''',
          "Your list ends with an extra '': the last '\\n' ends the last line, it does "
          'not start a new one. ex.hint() gives a hint.'),
    Wrong('05-read-lines', "compares with ''", r'''
def read_lines(sock):
    data = b""
    while True:
        chunk = sock.recv(1024)
        if chunk == "":
            break
        data += chunk
    return data.decode("utf-8").split("\n")[:-1]
''',
          'With lines split and merged, characters whole, read_lines(sock) kept '
          "calling recv() after it had returned b''. b'' means the peer has closed "
          'its side, and recv() then returns it at once, for ever. Leave the loop '
          "when it does: `if not chunk: break` (b'' == '' is False). ex.hint() gives "
          'a hint.'),
    Wrong('05-read-lines', 'a short recv taken for the end', r'''
def read_lines(sock):
    data = b""
    while True:
        chunk = sock.recv(1024)
        data += chunk
        if len(chunk) < 1024:
            break
    return data.decode("utf-8").split("\n")[:-1]
''',
          'With lines split and merged, characters whole, read_lines(sock) returned '
          'after 1 call of recv(), before the peer had closed: the peer sent 9 '
          'pieces, and one recv() returns only what has arrived so far. Keep reading '
          "until recv() returns b''. ex.hint() gives a hint."),
    Wrong('05-read-lines', 'lines of bytes', r'''
def read_lines(sock):
    data = b""
    while chunk := sock.recv(1024):
        data += chunk
    return data.split(b"\n")[:-1]
''',
          'With lines split and merged, characters whole, read_lines(sock) returned '
          "[b'\\xe4\\xbd\\xa0\\xe5\\xa5\\xbd', "
          "b'\\xe6\\xac\\xa2\\xe8\\xbf\\x8e\\xe8\\xae\\xbf\\xe9\\x97\\xae>>>>\\xe4"
          "\\xbd\\xa0\\xe5\\xa5\\xbd', "
          "b'hello \\xe4\\xb8\\x96\\xe7\\x95\\x8c', b'', b'\\xe5\\x86\\x8d\\xe8\\xa7"
          "\\x81']: "
          'lines of bytes. Decode them from UTF-8. ex.hint() gives a hint.'),
    Wrong('05-read-lines', 'keeps the newlines', r'''
def read_lines(sock):
    data = b""
    while chunk := sock.recv(1024):
        data += chunk
    return data.decode("utf-8").splitlines(keepends=True)
''',
          'With lines split and merged, characters whole, read_lines(sock) returned '
          "['你好\\n', '欢迎访问>>>>你好\\n', 'hello 世界\\n', '\\n', '再见\\n']: each line st"
          'ill ends '
          "with '\\n'. Return the lines without it. ex.hint() gives a hint."),
    Wrong('05-read-lines', 'decode with errors=replace', r'''
def read_lines(sock):
    text = ""
    while chunk := sock.recv(1024):
        text += chunk.decode("utf-8", errors="replace")
    return text.split("\n")[:-1]
''',
          'With every other character cut in half, read_lines(sock) returned '
          "['������', '������������>>>>������', 'hello ������', '', '������']: '�' "
          "stands where decode(errors='replace') met bytes of a character cut between "
          'two recv() calls. Decode only whole characters. ex.hint() gives a hint.'),
    Wrong('05-read-lines', 'returns the text', r'''
def read_lines(sock):
    data = b""
    while chunk := sock.recv(1024):
        data += chunk
    return data.decode("utf-8")
''',
          'With lines split and merged, characters whole, read_lines(sock) returned '
          "'你好\\n欢迎访问>>>>你好\\nhello 世界\\n\\n再见\\n'; return a list of str, one per "
          'line. '
          'ex.hint() gives a hint.'),
    # -- 06-read-all -------------------------------------------------------------
    Wrong('06-read-all', 'one recv', r'''
def read_all(sock):
    return sock.recv(1024)
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) returned after 1 call of recv(), '
          'before it had seen the end. One recv() returns only what has arrived so '
          'far, often fewer bytes than you asked for: keep reading until recv() '
          "returns b''. ex.hint() gives a hint."),
    Wrong('06-read-all', "compares with ''", r'''
def read_all(sock):
    chunks = []
    while True:
        data = sock.recv(1024)
        if data == "":
            break
        chunks.append(data)
    return b"".join(chunks)
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) kept calling recv() after it had '
          "returned b''. b'' means the peer has closed its side, and recv() then "
          'returns it at once, for ever. Leave the loop when it does: test the '
          'bytes this recv() returned, not everything kept so far: `chunk = '
          "sock.recv(1024)`, then `if not chunk: break` (b'' == '' is False, so "
          "never compare with ''). ex.hint() gives a hint."),
    Wrong('06-read-all', 'tests the running total', r'''
def read_all(sock):
    data = b""
    while True:
        data += sock.recv(1024)
        if not data:
            break
    return data
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) kept calling recv() after it had '
          "returned b''. b'' means the peer has closed its side, and recv() then "
          'returns it at once, for ever. Leave the loop when it does: test the '
          'bytes this recv() returned, not everything kept so far: `chunk = '
          "sock.recv(1024)`, then `if not chunk: break` (b'' == '' is False, so "
          "never compare with ''). ex.hint() gives a hint."),
    Wrong('06-read-all', 'a short recv taken for the end', r'''
def read_all(sock):
    chunks = []
    while True:
        data = sock.recv(1024)
        chunks.append(data)
        if len(data) < 1024:
            break
    return b"".join(chunks)
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) returned after 1 call of recv(), '
          'before it had seen the end. One recv() returns only what has arrived so '
          'far, often fewer bytes than you asked for: keep reading until recv() '
          "returns b''. ex.hint() gives a hint."),
    Wrong('06-read-all', 'stops at a byte count', r'''
def read_all(sock):
    data = b""
    while len(data) < 3040:
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data
''',
          'The peer sent 3,040 bytes at once and closed, and read_all(sock) read '
          'all 3,040 bytes, but returned without waiting for the end: recv() had '
          "not yet returned b''. Your loop stopped at a byte count, but only the "
          'peer knows how much it will send, and it says so by closing: keep '
          "reading until recv() returns b''. ex.hint() gives a hint."),
    Wrong('06-read-all', 'a 0.1 s timeout taken for the end', r'''
def read_all(sock):
    sock.settimeout(0.1)
    chunks = []
    while True:
        try:
            data = sock.recv(1024)
        except socket.timeout:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) returned before it had seen the end:'
          ' recv() timed out while the peer was silent, and your code took that for'
          " the end. A pause is not the end, only b'' is: do not catch the timeout "
          'as the end (let the TimeoutError propagate), and keep reading until '
          "recv() returns b''. ex.hint() gives a hint."),
    Wrong('06-read-all', 'timeout taken for the end', r'''
def read_all(sock):
    sock.settimeout(1)
    chunks = []
    while True:
        try:
            data = sock.recv(1024)
        except socket.timeout:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)
''',
          'The peer sent 36 bytes in 10 pieces, silent half-way for longer than '
          "your socket's timeout of 1 s, then closed its side, and read_all(sock) "
          'returned before it had seen the end: recv() timed out while the peer was'
          ' silent, and your code took that for the end. A pause is not the end, '
          "only b'' is: do not catch the timeout as the end (let the TimeoutError "
          "propagate), and keep reading until recv() returns b''. ex.hint() gives a"
          ' hint.'),
    Wrong('06-read-all', 'any OSError taken for the end', r'''
def read_all(sock):
    sock.settimeout(0.5)
    data = b""
    while True:
        try:
            chunk = sock.recv(1024)
        except OSError:
            return data
        if not chunk:
            return data
        data += chunk
''',
          'The peer sent 36 bytes in 10 pieces, silent half-way for longer than '
          "your socket's timeout of 0.5 s, then closed its side, and read_all(sock)"
          ' returned before it had seen the end: recv() timed out while the peer '
          'was silent, and your code took that for the end. A pause is not the end,'
          " only b'' is: do not catch the timeout as the end (let the TimeoutError "
          "propagate), and keep reading until recv() returns b''. ex.hint() gives a"
          ' hint.'),
    Wrong('06-read-all', 'a short timeout', r'''
def read_all(sock):
    sock.settimeout(0.1)
    chunks = []
    while data := sock.recv(1024):
        chunks.append(data)
    return b"".join(chunks)
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) raised TimeoutError: you gave the '
          'socket a timeout of 0.1 s, and the peer was silent for longer half-way. '
          'A pause is not the end, and so short a timeout gives up on a slow peer: '
          "leave the socket's timeout as it is. ex.hint() gives a hint."),
    Wrong('06-read-all', 'non-blocking, nothing yet taken for the end', r'''
def read_all(sock):
    sock.setblocking(False)
    chunks = []
    while True:
        try:
            data = sock.recv(1024)
        except BlockingIOError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) returned before it had seen the end:'
          ' your code put the socket in non-blocking mode (setblocking(False)), '
          'recv() raised BlockingIOError because nothing had arrived yet, and your '
          "code took that for the end. Nothing to read yet is not the end, only b''"
          ' is: leave the socket blocking, and keep reading until recv() returns '
          "b''. ex.hint() gives a hint."),
    Wrong('06-read-all', 'non-blocking', r'''
def read_all(sock):
    sock.setblocking(False)
    chunks = []
    while data := sock.recv(1024):
        chunks.append(data)
    return b"".join(chunks)
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) raised BlockingIOError: [Errno 11] '
          'Resource temporarily unavailable. Your code put the socket in '
          'non-blocking mode (setblocking(False)), so recv() raises this at once '
          'whenever nothing has arrived yet. Leave the socket blocking: recv() then'
          " waits for the next piece, and returns b'' at the end. ex.hint() gives a"
          ' hint.'),
    Wrong('06-read-all', 'shutdown(SHUT_RDWR) first', r'''
def read_all(sock):
    sock.shutdown(socket.SHUT_RDWR)
    chunks = []
    while data := sock.recv(1024):
        chunks.append(data)
    return b"".join(chunks)
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) called '
          'sock.shutdown(socket.SHUT_RDWR) before it had read everything. That ends'
          " reading: recv() then returns b'' at once, and the 36 bytes the peer "
          'sent were never read. read_all should only read: leave shutdown() and '
          'close() to the caller, who owns the socket. ex.hint() gives a hint.'),
    Wrong('06-read-all', 'decodes', r'''
def read_all(sock):
    chunks = []
    while data := sock.recv(1024):
        chunks.append(data)
    return b"".join(chunks).decode("utf-8")
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          "closed its side, and read_all(sock) returned a str, '服务端消息: 2026-01-01 "
          "12:00:00': return the bytes as they came, b''.join(chunks); decoding is "
          "the caller's business. ex.hint() gives a hint."),
    Wrong('06-read-all', 'decodes each chunk', r'''
def read_all(sock):
    text = ""
    while data := sock.recv(1024):
        text += data.decode("utf-8")
    return text.encode("utf-8")
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          "closed its side, and read_all(sock) raised UnicodeDecodeError: 'utf-8' "
          "codec can't decode byte 0xe7 in position 0: unexpected end of data. A "
          "recv() returned a piece that ends in the middle of a character: '端' is 3"
          ' bytes in UTF-8, and the piece held only its first byte; the rest came '
          'with the next recv(). Decoding each piece on its own fails whenever that'
          " happens. read_all returns bytes: join the pieces, b''.join(chunks), and"
          ' leave decoding to whoever needs the text, once, after the end. '
          'ex.hint() gives a hint.'),
    Wrong('06-read-all', 'returns the list', r'''
def read_all(sock):
    chunks = []
    while data := sock.recv(1024):
        chunks.append(data)
    return chunks
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) returned a list of 10 chunks: join '
          "them into one bytes object, b''.join(chunks). ex.hint() gives a hint."),
    Wrong('06-read-all', 'forgets to return', r'''
def read_all(sock):
    chunks = []
    while data := sock.recv(1024):
        chunks.append(data)
    b"".join(chunks)
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) returned None; return the bytes it '
          'sent, as one bytes object. ex.hint() gives a hint.'),
    Wrong('06-read-all', 'keeps only the last chunk', r'''
def read_all(sock):
    data = b""
    while chunk := sock.recv(1024):
        data = chunk
    return data
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) returned 4 bytes that are not the 36'
          " it sent. Keep every chunk, in order, until recv() returns b''. "
          'ex.hint() gives a hint.'),
    Wrong('06-read-all', 'closes the socket', r'''
def read_all(sock):
    with sock:
        chunks = []
        while data := sock.recv(1024):
            chunks.append(data)
        return b"".join(chunks)
''',
          'The peer sent 36 bytes in 10 pieces, silent for a moment half-way, then '
          'closed its side, and read_all(sock) returned every byte, but closed the '
          "socket. The socket is the caller's: it may still want to use it, and it "
          'closes it itself. read_all should only read: leave close() (and `with '
          'sock:`) to the caller. ex.hint() gives a hint.'),
    # -- 06-ask ------------------------------------------------------------------
    Wrong('06-ask', 'no shutdown', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        chunks = []
        while data := sock.recv(1024):
            chunks.append(data)
        return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) raised TimeoutError: timed out. The server "
          'was still waiting for the end of your request, as it answers only after '
          'that: shut down your sending side, sock.shutdown(socket.SHUT_WR). '
          'ex.hint() gives a hint.'),
    Wrong('06-ask', 'no shutdown, timeout taken for the end', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=1) as sock:
        sock.sendall(request)
        chunks = []
        try:
            while data := sock.recv(1024):
                chunks.append(data)
        except socket.timeout:
            pass
        return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) returned b'' when recv() timed out, but the "
          'server had not answered yet: it answers only after the end of your '
          'request, and it never saw one. Shut down your sending side after '
          'sendall(request): sock.shutdown(socket.SHUT_WR). And a timeout is not '
          "the end of the answer, only b'' is: let the TimeoutError propagate. "
          'ex.hint() gives a hint.'),
    Wrong('06-ask', 'close instead of shutdown', r'''
def ask(address, request):
    sock = socket.create_connection(address, timeout=2)
    sock.sendall(request)
    sock.close()
    chunks = []
    while data := sock.recv(1024):
        chunks.append(data)
    return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) raised OSError: [Errno 9] Bad file "
          'descriptor. After close() the socket is gone; shutdown(socket.SHUT_WR) '
          'ends only sending. ex.hint() gives a hint.'),
    Wrong('06-ask', 'shutdown before sendall', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.shutdown(socket.SHUT_WR)
        sock.sendall(request)
        chunks = []
        while data := sock.recv(1024):
            chunks.append(data)
        return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) raised BrokenPipeError: [Errno 32] Broken "
          'pipe. Your code called sock.shutdown() before it had sent the whole '
          'request, and after shutdown(socket.SHUT_WR) nothing more can be sent. '
          'Shut down after sending everything: sock.sendall(request), then '
          'sock.shutdown(socket.SHUT_WR). ex.hint() gives a hint.'),
    Wrong('06-ask', 'SHUT_RDWR', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_RDWR)
        chunks = []
        while data := sock.recv(1024):
            chunks.append(data)
        return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) called sock.shutdown(socket.SHUT_RDWR), "
          "which ends reading too, so it could not read the answer ('收到 你好 (6 "
          "bytes)' as UTF-8 bytes): after that recv() returns b'' at once, or "
          'raises ConnectionResetError if the answer has arrived. Shut down only '
          'your sending side, sock.shutdown(socket.SHUT_WR), after '
          "sendall(request); then read until recv() returns b''. ex.hint() gives a "
          'hint.'),
    Wrong('06-ask', 'SHUT_RDWR, reads a moment later', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_RDWR)
        time.sleep(0.2)
        chunks = []
        while data := sock.recv(1024):
            chunks.append(data)
        return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) called sock.shutdown(socket.SHUT_RDWR), "
          "which ends reading too, so it could not read the answer ('收到 你好 (6 "
          "bytes)' as UTF-8 bytes): after that recv() returns b'' at once, or "
          'raises ConnectionResetError if the answer has arrived. Shut down only '
          'your sending side, sock.shutdown(socket.SHUT_WR), after '
          "sendall(request); then read until recv() returns b''. ex.hint() gives a "
          'hint.'),
    Wrong('06-ask', 'never connects', r'''
def ask(address, request):
    with socket.socket() as sock:
        sock.settimeout(2)
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(1024):
            chunks.append(data)
        return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) raised BrokenPipeError: [Errno 32] Broken "
          'pipe, and it never connected to the server. Connect first, '
          'socket.create_connection(address, timeout=2), then send the request. '
          'ex.hint() gives a hint.'),
    Wrong('06-ask', 'one recv', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        return sock.recv(1024)
''',
          "ask(address, '你好'.encode()) returned only the start of the answer: the "
          "server sent '收到 你好 (6 bytes)' as UTF-8 bytes in pieces, with a pause "
          'half-way, then closed. A pause is not the end: read until recv() returns'
          " b''. ex.hint() gives a hint."),
    Wrong('06-ask', 'no timeout', r'''
def ask(address, request):
    with socket.create_connection(address) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(1024):
            chunks.append(data)
        return b"".join(chunks)
''',
          'ask() connected without a timeout: if the server never answered, recv() '
          'would wait for ever. Give the socket one: '
          'socket.create_connection(address, timeout=2). ex.hint() gives a hint.'),
    Wrong('06-ask', 'never closes', r'''
def ask(address, request):
    sock = socket.create_connection(address, timeout=2)
    sock.sendall(request)
    sock.shutdown(socket.SHUT_WR)
    chunks = []
    while data := sock.recv(1024):
        chunks.append(data)
    return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) returned the right answer, but your code "
          'still had a TCP socket on 127.0.0.1 with no connection (any more) open. '
          'Close it however ask() ends: `with socket.create_connection(address, '
          'timeout=2) as sock:` closes it even if something fails. ex.hint() gives '
          'a hint.'),
    Wrong('06-ask', 'a 0.1 s timeout taken for the end', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0.1)
        chunks = []
        try:
            while data := sock.recv(1024):
                chunks.append(data)
        except socket.timeout:
            pass
        return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) returned only the start of the answer: the "
          "server was silent half-way, longer than your socket's timeout of 0.1 s, "
          'recv() timed out, and your code took that for the end. A pause is not '
          "the end, only b'' is: do not catch the timeout as the end (let the "
          "TimeoutError propagate), and read until recv() returns b''. ex.hint() "
          'gives a hint.'),
    Wrong('06-ask', 'timeout taken for the end', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=1) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while data := sock.recv(1024):
                chunks.append(data)
        except socket.timeout:
            pass
        return b"".join(chunks)
''',
          "ask(address, b'hello') returned only the start of the answer: the server"
          " was silent half-way, longer than your socket's timeout of 1 s, recv() "
          'timed out, and your code took that for the end. A pause is not the end, '
          "only b'' is: do not catch the timeout as the end (let the TimeoutError "
          "propagate), and read until recv() returns b''. ex.hint() gives a hint."),
    Wrong('06-ask', 'a short timeout', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=0.1) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(1024):
            chunks.append(data)
        return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) raised TimeoutError: timed out. The server "
          'paused for a moment half-way through its answer, as a busy server may, '
          "longer than your socket's timeout of 0.1 s: give it a few seconds, e.g. "
          'timeout=2. ex.hint() gives a hint.'),
    Wrong('06-ask', "compares with ''", r'''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            data = sock.recv(1024)
            if data == "":
                break
            chunks.append(data)
        return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) kept calling recv() after it had returned "
          "b''. b'' means the peer has closed its side, and recv() then returns it "
          'at once, for ever. Leave the loop when it does: test the bytes this '
          'recv() returned, not everything kept so far: `chunk = sock.recv(1024)`, '
          "then `if not chunk: break` (b'' == '' is False, so never compare with "
          "''). ex.hint() gives a hint."),
    Wrong('06-ask', 'tests the running total', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            data += sock.recv(1024)
            if not data:
                break
        return data
''',
          "ask(address, '你好'.encode()) kept calling recv() after it had returned "
          "b''. b'' means the peer has closed its side, and recv() then returns it "
          'at once, for ever. Leave the loop when it does: test the bytes this '
          'recv() returned, not everything kept so far: `chunk = sock.recv(1024)`, '
          "then `if not chunk: break` (b'' == '' is False, so never compare with "
          "''). ex.hint() gives a hint."),
    Wrong('06-ask', 'decodes', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(1024):
            chunks.append(data)
        return b"".join(chunks).decode("utf-8")
''',
          "ask(address, '你好'.encode()) returned a str, '收到 你好 (6 bytes)': return "
          "the answer's bytes as they came. ex.hint() gives a hint."),
    Wrong('06-ask', 'returns the list', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(1024):
            chunks.append(data)
        return chunks
''',
          "ask(address, '你好'.encode()) returned a list: join the chunks into one "
          "bytes object, b''.join(chunks). ex.hint() gives a hint."),
    Wrong('06-ask', 'encodes bytes again', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request.encode("utf-8"))
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(1024):
            chunks.append(data)
        return b"".join(chunks)
''',
          "ask(address, '你好'.encode()) raised AttributeError: 'bytes' object has no"
          " attribute 'encode'. request is bytes already: send it as it is. "
          'ex.hint() gives a hint.'),
]

RIGHT = [  # (exercise, name, a right answer in another style than the shown solution)
    ('05-send-all', 'memoryview', r'''
def send_all(sock, data):
    view = memoryview(data)
    while view:
        sent = sock.send(view)
        view = view[sent:]
'''),
    ('05-send-all', 'chunks of 1 KiB, counted', r'''
def send_all(sock, data):
    total = 0
    while total < len(data):
        total += sock.send(data[total:total + 1024])
'''),
    ('05-send-all', 'slices what is left', r'''
def send_all(sock, data):
    while data:
        sent = sock.send(data)
        data = data[sent:]
'''),
    ('05-recv-exactly', 'recv_into a bytearray', r'''
def recv_exactly(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise ConnectionError(f"peer closed after {got} of {n} bytes")
        got += k
    return bytes(buf)
'''),
    ('05-recv-exactly', 'a list of chunks', r'''
def recv_exactly(sock, n):
    chunks, have = [], 0
    while have < n:
        chunk = sock.recv(min(n - have, 4096))
        if chunk == b"":
            raise ConnectionError("closed early")
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)
'''),
    ('05-read-lines', 'makefile', r'''
def read_lines(sock):
    with sock.makefile("r", encoding="utf-8", newline="\n") as f:
        return [line.rstrip("\n") for line in f]
'''),
    ('05-read-lines', 'an incremental decoder, split at the end', r'''
def read_lines(sock):
    decoder = labkit.TextDecoder()
    text = ""
    while chunk := sock.recv(1024):
        text += decoder.feed(chunk)
    return text.split("\n")[:-1]
'''),
    ('05-read-lines', "bytes split on b'\\\\n' as they come", r'''
def read_lines(sock):
    buffer, lines = b"", []
    while chunk := sock.recv(4):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            lines.append(line.decode("utf-8"))
    return lines
'''),
    ('06-read-all', 'bytearray', r'''
def read_all(sock):
    data = bytearray()
    while chunk := sock.recv(4096):
        data += chunk
    return bytes(data)
'''),
    ('06-read-all', 'makefile', r'''
def read_all(sock):
    with sock.makefile("rb") as f:
        return f.read()
'''),
    ('06-read-all', 'if not data', r'''
def read_all(sock):
    result = b""
    while True:
        data = sock.recv(1024)
        if not data:
            return result
        result += data
'''),
    ('06-ask', 'socket() and try/finally', r'''
def ask(address, request):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    try:
        sock.connect(address)
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
        return answer
    finally:
        sock.close()
'''),
    ('06-ask', 'makefile', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=3) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        with sock.makefile("rb") as f:
            return f.read()
'''),
    ('06-read-all', 'a timeout of 1 s that propagates', r'''
def read_all(sock):
    sock.settimeout(1)
    chunks = []
    while data := sock.recv(1024):
        chunks.append(data)
    return b"".join(chunks)
'''),
    ('06-read-all', 'retries after a timeout', r'''
def read_all(sock):
    sock.settimeout(0.5)
    chunks = []
    while True:
        try:
            data = sock.recv(1024)
        except socket.timeout:
            continue
        if not data:
            return b"".join(chunks)
        chunks.append(data)
'''),
    ('06-read-all', 'a timeout re-raised as ConnectionError', r'''
def read_all(sock):
    sock.settimeout(2)
    chunks = []
    try:
        while data := sock.recv(1024):
            chunks.append(data)
    except socket.timeout:
        raise ConnectionError("the peer went silent") from None
    return b"".join(chunks)
'''),
    ('06-ask', 'a timeout re-raised with its own message', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=1) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            try:
                chunk = sock.recv(1024)
            except socket.timeout:
                raise TimeoutError("the server went silent") from None
            if not chunk:
                return answer
            answer += chunk
'''),
    ('06-ask', 'retries after a timeout', r'''
def ask(address, request):
    with socket.create_connection(address, timeout=0.5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                data = sock.recv(1024)
            except socket.timeout:
                continue
            if not data:
                return b"".join(chunks)
            chunks.append(data)
'''),
]

EXERCISES = ["05-send-all", "05-recv-exactly", "05-read-lines", "06-read-all", "06-ask"]


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


# -- the checks' sockets -----------------------------------------------------------


def test_send_only_takes_less_than_offered_unless_one_byte_and_the_same_every_run():
    def counts():
        with tcp_pair() as (a, b):
            sock = SendOnly(a, bytes(100))
            taken = [sock.send(bytes(n)) for n in (100, 2, 1, 0)]
            a.close()  # then b reads to the end
            assert labkit.recv_until_eof(b) == bytes(sum(taken))
        return taken

    first = counts()
    assert first == counts()
    assert 0 < first[0] < 100 and first[1] == 1 and first[2:] == [1, 0]


def test_each_recv_of_a_watched_socket_gets_exactly_one_piece():
    pieces = cut("你好, 世界!".encode(), [1, 2, 5, 9])
    for _ in range(3):
        with tcp_pair() as (a, b):
            reader = WatchedSocket(b)
            sender = in_background(send_in_step, a, pieces, reader, delay=0)
            got = list(iter(lambda: reader.recv(1024), b""))
            sender.join(5)
        assert got == pieces
        assert reader.eof and reader.calls == len(pieces) + 1 and reader.taken == 15


def test_a_loop_that_calls_recv_after_eof_is_stopped():
    with tcp_pair() as (a, b):
        a.close()
        reader = WatchedSocket(b)
        with pytest.raises(Stopped):
            while True:
                reader.recv(10)
    assert reader.spun and reader.calls == SPIN + 1


def test_a_silence_outlasts_a_short_timeout_and_only_that():
    for timeout, outwait, outlasted in [(0.2, 1.0, 0.2), (0.2, 0.1, None), (None, 1.0, None)]:
        with tcp_pair() as (a, b):
            reader = WatchedSocket(b)
            reader.settimeout(timeout)
            pieces = [b"one", b"two"]
            sender = in_background(functools.partial(send_in_step, silence=(1, 0.05),
                                                     outwait=outwait), a, pieces, reader,
                                   delay=0)
            got, errors = [], []
            while True:  # a reader that goes on after a timeout
                try:
                    chunk = reader.recv(10)
                except TimeoutError:
                    errors.append("timed out")
                    continue
                if not chunk:
                    break
                got.append(chunk)
            sender.join(5)
        assert got == pieces and reader.outlasted == outlasted
        assert errors == (["timed out"] if outlasted else [])


def test_a_silence_ends_when_the_reader_is_released():
    with tcp_pair() as (a, b):
        reader = WatchedSocket(b)
        reader.settimeout(2.0)
        reader.release()  # the learner's call is over: nothing to outlast
        start = time.monotonic()
        stay_silent(reader, 0.0, outwait=3.0)
        assert time.monotonic() - start < 1.0 and reader.outlasted is None

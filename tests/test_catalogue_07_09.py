"""Catalogue of wrong answers for lessons 07-09: 07-two-clients, 08-retry, 09-write-utf and
09-read-utf (see tests/catalogue.py).

Each source is what a learner might type in the exercise cell; each message is the whole
"not yet" it gets, word for word. The checks are adversarial by design, and seeded: clients
who speak in any order (07), a network that loses, delays and duplicates (08), strings
beyond the BMP, with U+0000 and over 65535 bytes, bytes cut mid-length and mid-character,
peers that close mid-string (09). So every verdict here is the same on every run.
"""

import socket
import types

import pytest

from catalogue import Wrong, assert_correct, assert_not_yet

# A wrong answer's own handler threads may die when the check closes the sockets they are
# stuck on (the server that loops for ever once a client has left, above all): that is the
# answer's exception, reported by pytest at the next test, not the check's.
pytestmark = [pytest.mark.timeout(120),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")]

WRONG = [
    # -- 07-two-clients ---------------------------------------------------------------------
    Wrong('07-two-clients', "the seed's one client at a time", r'''
def serve_two(listener):
    for _ in range(2):
        conn, addr = listener.accept()
        with conn:
            while data := conn.recv(1024):
                conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          "Client 2 sent 'hello, from 2 (#1)' first, before client 1 had said anything, and "
          'got no reply: your server had not accepted client 2; it was still serving client '
          "1, one client at a time, as the seed's server does. Accept both and serve them at "
          'once (a thread per client, or selectors). ex.hint() gives a hint.'),
    Wrong('07-two-clients', 'lockstep: recv on client 1, client 2, client 1', r'''
def serve_two(listener):
    a, _ = listener.accept()
    b, _ = listener.accept()
    with a, b:
        while True:
            for conn in (a, b):
                data = conn.recv(1024)
                if not data:
                    return
                conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          "Client 2 sent 'hello, from 2 (#1)' first, before client 1 had said anything, and "
          'waited in vain while client 1 was silent: your server accepted both clients, but '
          'was waiting in recv() for client 1, and client 2 waited with it. Clients speak '
          'when they like: give each client its own thread, or use selectors and recv only '
          'from a socket that has data. ex.hint() gives a hint.'),
    Wrong('07-two-clients', 'accepts both, then serves one after the other', r'''
def serve_two(listener):
    def handle(conn):
        with conn:
            while data := conn.recv(1024):
                conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
    a, _ = listener.accept()
    b, _ = listener.accept()
    handle(a)
    handle(b)
''',
          "Client 2 sent 'hello, from 2 (#1)' first, before client 1 had said anything, and "
          'waited in vain while client 1 was silent: your server accepted both clients, but '
          'was waiting in recv() for client 1, and client 2 waited with it. Clients speak '
          'when they like: give each client its own thread, or use selectors and recv only '
          'from a socket that has data. ex.hint() gives a hint.'),
    Wrong('07-two-clients', 'joins each thread before the next accept', r'''
def serve_two(listener):
    def handle(conn):
        with conn:
            while data := conn.recv(1024):
                conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
    for _ in range(2):
        conn, addr = listener.accept()
        thread = threading.Thread(target=handle, args=(conn,))
        thread.start()
        thread.join()
''',
          "Client 2 sent 'hello, from 2 (#1)' first, before client 1 had said anything, and "
          'got no reply: your server had not accepted client 2; it was still serving client '
          "1, one client at a time, as the seed's server does. Accept both and serve them at "
          'once (a thread per client, or selectors). ex.hint() gives a hint.'),
    Wrong('07-two-clients', 'threads never joined', r'''
def serve_two(listener):
    def handle(conn):
        with conn:
            while data := conn.recv(1024):
                conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
    for _ in range(2):
        conn, addr = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()
''',
          'serve_two(listener) returned while both clients were still connected. Return only '
          'when both clients have left: if you started a thread per client, join() both '
          'threads before returning. ex.hint() gives a hint.'),
    Wrong('07-two-clients', 'handler threads never close their connections', r'''
def serve_two(listener):
    def handle(conn):
        while data := conn.recv(1024):
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
    threads = []
    for _ in range(2):
        conn, addr = listener.accept()
        thread = threading.Thread(target=handle, args=(conn,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
''',
          'serve_two(listener) returned, but the connections to both clients were still open. '
          "A connection you accept is yours to close: put each client's loop in `with conn:`, "
          "so that it closes when recv() returns b'' (the client has left). ex.hint() gives a "
          'hint.'),
    Wrong('07-two-clients', 'selectors loop stops when the first client leaves', r'''
def serve_two(listener):
    a, _ = listener.accept()
    b, _ = listener.accept()
    with a, b, selectors.DefaultSelector() as sel:
        sel.register(a, selectors.EVENT_READ)
        sel.register(b, selectors.EVENT_READ)
        while True:
            for key, events in sel.select(timeout=2):
                data = key.fileobj.recv(1024)
                if not data:
                    return
                key.fileobj.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          "After client 2 left, client 1 sent '再见, from 1 (#90)', but your server had closed "
          "client 1's connection too. Keep serving the other client until it leaves as well: "
          "end only the loop of the client whose recv() returned b''. ex.hint() gives a hint."),
    Wrong('07-two-clients', 'one reply per client, then close', r'''
def serve_two(listener):
    def handle(conn):
        with conn:
            data = conn.recv(1024)
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
    threads = []
    for _ in range(2):
        conn, addr = listener.accept()
        thread = threading.Thread(target=handle, args=(conn,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
''',
          "Client 2 sent '再见, from 2 (#2)', but your server had closed its connection. Keep "
          "serving each client until it leaves: loop on recv() until it returns b'', and "
          'close the connection only then. ex.hint() gives a hint.'),
    Wrong('07-two-clients', 'loops for ever once a client has left', r'''
def serve_two(listener):
    def handle(conn):
        with conn:
            while True:
                data = conn.recv(1024)
                if data:
                    conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
    threads = []
    for _ in range(2):
        conn, addr = listener.accept()
        thread = threading.Thread(target=handle, args=(conn,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
''',
          'serve_two(listener) did not return within 2 s after both clients had left. When '
          "recv() returns b'', that client has gone: end its loop, and return once both have. "
          'ex.hint() gives a hint.'),
    Wrong('07-two-clients', "accepts for ever, as the lesson's thread_per_client", r'''
def serve_two(listener):
    def handle(conn):
        with conn:
            while data := conn.recv(1024):
                conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
    while True:
        conn, addr = listener.accept()
        threading.Thread(target=handle, args=(conn,)).start()
''',
          'serve_two(listener) did not return within 2 s after both clients had left, though '
          'both connections were closed: is it waiting in accept() for a third client? Accept '
          'two, then return once both have left. ex.hint() gives a hint.'),
    Wrong('07-two-clients', 'reply without the CRLF', r'''
def serve_two(listener):
    def handle(conn):
        with conn:
            while data := conn.recv(1024):
                conn.sendall(("欢迎访问>>>>" + data.decode("utf-8")).encode("utf-8"))
    threads = [threading.Thread(target=handle, args=(listener.accept()[0],)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
''',
          "Client 2 sent 'hello, from 2 (#1)' and got '欢迎访问>>>>hello, from 2 (#1)'; expected "
          "'欢迎访问>>>>hello, from 2 (#1)\\r\\n'. ex.hint() gives a hint."),

    # -- 08-retry ---------------------------------------------------------------------
    Wrong('08-retry', 'one attempt', r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.sendto(text.encode("utf-8"), address)
        data, peer = sock.recvfrom(2048)
        return data.decode("utf-8")
''',
          "ask(address, '你好, UDP') raised TimeoutError: timed out. Your first datagram was "
          'lost and you sent only one: when no reply comes in time, send it again. ex.hint() '
          'gives a hint.'),
    Wrong('08-retry', 'no timeout', r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for attempt in range(5):
            sock.sendto(text.encode("utf-8"), address)
            data, peer = sock.recvfrom(2048)
            return data.decode("utf-8")
''',
          "ask(address, '你好, UDP') did not return within 4 s: your first datagram was lost, "
          'and you sent only one and went on waiting for its reply. Wait 0.05 s '
          '(sock.settimeout(0.05)); when that runs out, send it again. ex.hint() gives a '
          'hint.'),
    Wrong('08-retry', 'the same wait every time', r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.05)
        for attempt in range(5):
            sock.sendto(text.encode("utf-8"), address)
            try:
                data, peer = sock.recvfrom(2048)
                return data.decode("utf-8")
            except TimeoutError:
                pass
    raise TimeoutError("no reply after 5 attempts")
''',
          'You waited as long before your last attempt as before your first: the same wait '
          'every time. Back off: double the timeout after each attempt (0.05, 0.1, 0.2 ... '
          's). ex.hint() gives a hint.'),
    Wrong('08-retry', 'all five attempts at once', r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        for attempt in range(5):
            sock.sendto(text.encode("utf-8"), address)
        data, peer = sock.recvfrom(2048)
        return data.decode("utf-8")
''',
          'You sent the next attempt without waiting for a reply: the attempts came all at '
          'once. Wait 0.05 s for a reply (sock.settimeout(0.05), then recvfrom), and send '
          'again only when it times out. ex.hint() gives a hint.'),
    Wrong('08-retry', 'gives up after three attempts', r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        timeout = 0.05
        for attempt in range(3):
            sock.sendto(text.encode("utf-8"), address)
            sock.settimeout(timeout)
            try:
                data, peer = sock.recvfrom(2048)
                return data.decode("utf-8")
            except TimeoutError:
                timeout *= 2
    raise TimeoutError("no reply after 3 attempts")
''',
          "ask(address, '你好, UDP') raised TimeoutError ('no reply after 3 attempts') after 3 "
          'attempts. Here the first request is lost, the reply to the second is lost and the '
          'reply to the third comes late, so the 4th attempt is the first to get an answer in '
          'time: make 5 attempts before you give up. ex.hint() gives a hint.'),
    Wrong('08-retry', 'returns None after the last attempt', r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        timeout = 0.05
        for attempt in range(5):
            sock.sendto(text.encode("utf-8"), address)
            sock.settimeout(timeout)
            try:
                data, peer = sock.recvfrom(2048)
                return data.decode("utf-8")
            except TimeoutError:
                timeout *= 2
''',
          'Every datagram was lost, yet ask() returned None; raise TimeoutError when no reply '
          'ever comes. ex.hint() gives a hint.'),
    Wrong('08-retry', 'raises ValueError', r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        timeout = 0.05
        for attempt in range(5):
            sock.sendto(text.encode("utf-8"), address)
            sock.settimeout(timeout)
            try:
                data, peer = sock.recvfrom(2048)
                return data.decode("utf-8")
            except TimeoutError:
                timeout *= 2
    raise ValueError("no reply")
''',
          'With every datagram lost, ask() gave up after 5 attempts but raised ValueError '
          "('no reply'); raise TimeoutError, the exception the task asks for (and the one "
          "recv's own timeout raises). ex.hint() gives a hint."),
    Wrong('08-retry', 'never gives up', r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        timeout = 0.05
        while True:
            sock.sendto(text.encode("utf-8"), address)
            sock.settimeout(timeout)
            try:
                data, peer = sock.recvfrom(2048)
                return data.decode("utf-8")
            except TimeoutError:
                timeout *= 2
''',
          'When every datagram is lost, ask() had not given up after 4 s. Stop after 5 '
          'attempts and raise TimeoutError: with waits of 0.05, 0.1, 0.2, 0.4 and 0.8 s that '
          'is 1.55 s in all. ex.hint() gives a hint.'),
    Wrong('08-retry', 'one socket for every call', r'''
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

def ask(address, text):
    timeout = 0.05
    for attempt in range(5):
        sock.sendto(text.encode("utf-8"), address)
        sock.settimeout(timeout)
        try:
            data, peer = sock.recvfrom(2048)
            return data.decode("utf-8")
        except TimeoutError:
            timeout *= 2
    raise TimeoutError("no reply after 5 attempts")
''',
          "ask(address, '再见, UDP') returned '欢迎访问>>>>你好, UDP\\r\\n', the reply to the earlier "
          "ask(address, '你好, UDP'): a late or duplicate copy of an old reply was still "
          'waiting in your socket. Make a new socket in each call (`with socket.socket(...) '
          'as sock:` inside ask), so that no old reply can reach it. ex.hint() gives a hint.'),
    Wrong('08-retry', 'socket never closed', r'''
def ask(address, text):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    timeout = 0.05
    for attempt in range(5):
        sock.sendto(text.encode("utf-8"), address)
        sock.settimeout(timeout)
        try:
            data, peer = sock.recvfrom(2048)
            return data.decode("utf-8")
        except TimeoutError:
            timeout *= 2
    sock.close()
    raise TimeoutError("no reply after 5 attempts")
''',
          "ask(address, '你好, UDP') returned, but its UDP socket was still open. Make one "
          'socket, before the loop, in a `with socket.socket(...) as sock:` block: it is '
          'closed whichever way ask() ends, by return or by raise. ex.hint() gives a hint.'),
    Wrong('08-retry', 'closed only when a reply came', r'''
def ask(address, text):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    timeout = 0.05
    for attempt in range(5):
        sock.sendto(text.encode("utf-8"), address)
        sock.settimeout(timeout)
        try:
            data, peer = sock.recvfrom(2048)
            sock.close()
            return data.decode("utf-8")
        except TimeoutError:
            timeout *= 2
    raise TimeoutError("no reply after 5 attempts")
''',
          "ask(address, 'anyone there?') gave up with TimeoutError, but its UDP socket was "
          'still open. Make one socket, before the loop, in a `with socket.socket(...) as '
          'sock:` block: it is closed whichever way ask() ends, by return or by raise. '
          'ex.hint() gives a hint.'),
    Wrong('08-retry', 'a new socket for each attempt', r'''
def ask(address, text):
    timeout = 0.05
    for attempt in range(5):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.sendto(text.encode("utf-8"), address)
        sock.settimeout(timeout)
        try:
            data, peer = sock.recvfrom(2048)
            return data.decode("utf-8")
        except TimeoutError:
            timeout *= 2
    raise TimeoutError("no reply after 5 attempts")
''',
          "ask(address, '你好, UDP') returned, but 4 UDP sockets were still open (a new socket "
          'for each attempt, never closed). Make one socket, before the loop, in a `with '
          'socket.socket(...) as sock:` block: it is closed whichever way ask() ends, by '
          'return or by raise. ex.hint() gives a hint.'),
    Wrong('08-retry', 'sends str', r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        timeout = 0.05
        for attempt in range(5):
            sock.sendto(text, address)
            sock.settimeout(timeout)
            try:
                data, peer = sock.recvfrom(2048)
                return data.decode("utf-8")
            except TimeoutError:
                timeout *= 2
    raise TimeoutError("no reply after 5 attempts")
''',
          "ask(address, '你好, UDP') raised TypeError: a bytes-like object is required, not "
          "'str'. sendto() sends bytes: send text.encode('utf-8'). ex.hint() gives a hint."),
    Wrong('08-retry', 'returns bytes', r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        timeout = 0.05
        for attempt in range(5):
            sock.sendto(text.encode("utf-8"), address)
            sock.settimeout(timeout)
            try:
                data, peer = sock.recvfrom(2048)
                return data
            except TimeoutError:
                timeout *= 2
    raise TimeoutError("no reply after 5 attempts")
''',
          "ask(address, '你好, UDP') returned bytes "
          "b'\\xe6\\xac\\xa2\\xe8\\xbf\\x8e\\xe8\\xae\\xbf\\xe9\\x97\\xae>>>>\\xe4\\xbd\\xa0\\xe5\\xa5\\xbd, "
          "UDP\\r\\n'; return a str: decode the reply. ex.hint() gives a hint."),
    Wrong('08-retry', 'returns what recvfrom returns', r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        timeout = 0.05
        for attempt in range(5):
            sock.sendto(text.encode("utf-8"), address)
            sock.settimeout(timeout)
            try:
                return sock.recvfrom(2048)
            except TimeoutError:
                timeout *= 2
    raise TimeoutError("no reply after 5 attempts")
''',
          "ask(address, '你好, UDP') returned a tuple, as recvfrom() does: (data, address). "
          "Return only the text: data.decode('utf-8'). ex.hint() gives a hint."),
    Wrong('08-retry', 'recvfrom as small as the request', r'''
def ask(address, text):
    data = text.encode("utf-8")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        timeout = 0.05
        for attempt in range(5):
            sock.sendto(data, address)
            sock.settimeout(timeout)
            try:
                reply, peer = sock.recvfrom(len(data))
                return reply.decode("utf-8", "replace")
            except TimeoutError:
                timeout *= 2
    raise TimeoutError("no reply after 5 attempts")
''',
          "ask(address, '你好, UDP') returned '欢迎访�', the start of the reply '欢迎访问>>>>你好, "
          "UDP\\r\\n'. The reply was cut short: recvfrom(n) returns at most n bytes of a "
          'datagram and throws the rest away. Ask for enough: recvfrom(2048). ex.hint() gives '
          'a hint.'),

    # -- 09-write-utf ---------------------------------------------------------------------
    Wrong('09-write-utf', "counts characters (the lesson's first try)", r'''
def write_utf(sock, text):
    sock.sendall(len(text).to_bytes(2, "big") + text.encode("utf-8"))
''',
          "For '你好' write_utf sent the length 2, the number of characters. Java's length "
          'counts the bytes of the body, 6 here: send len(body), the length of the encoded '
          'bytes. ex.hint() gives a hint.'),
    Wrong('09-write-utf', 'plain UTF-8', r'''
def write_utf(sock, text):
    body = text.encode("utf-8")
    if len(body) > 65535:
        raise ValueError(f"{len(body)} bytes: too long for writeUTF")
    sock.sendall(len(body).to_bytes(2, "big") + body)
''',
          "For 'A\\x00B' write_utf sent plain UTF-8. Java reads modified UTF-8, which writes "
          'U+0000 as C0 80, not 00: labkit.encode_modified_utf8(text) gives the body. '
          'ex.hint() gives a hint.'),
    Wrong('09-write-utf', 'send instead of sendall', r'''
def write_utf(sock, text):
    body = labkit.encode_modified_utf8(text)
    if len(body) > 65535:
        raise ValueError(f"{len(body)} bytes: too long for writeUTF")
    sock.send(len(body).to_bytes(2, "big") + body)
''',
          "For '你' * 21845 write_utf sent only part of its 65537 bytes: sock.send() takes "
          "what fits in the socket's buffer and returns how many bytes that was. Use "
          'sock.sendall(), which sends them all. ex.hint() gives a hint.'),
    Wrong('09-write-utf', 'refuses exactly 65535 bytes', r'''
def write_utf(sock, text):
    body = labkit.encode_modified_utf8(text)
    if len(body) >= 65535:
        raise ValueError(f"{len(body)} bytes: too long for writeUTF")
    sock.sendall(len(body).to_bytes(2, "big") + body)
''',
          "write_utf(sock, '你' * 21845) raised ValueError: 65535 bytes: too long for "
          "writeUTF. But '你' * 21845 is exactly 65535 bytes of modified UTF-8, the most a "
          '2-byte length can count, and Java accepts it: refuse only a body over 65535 bytes. '
          'ex.hint() gives a hint.'),
    Wrong('09-write-utf', 'masks the length instead of refusing', r'''
def write_utf(sock, text):
    body = labkit.encode_modified_utf8(text)
    sock.sendall((len(body) & 0xFFFF).to_bytes(2, "big") + body)
''',
          "write_utf(sock, '你' * 21846) sent it: it is 65538 bytes of modified UTF-8 (only "
          '21846 characters), more than a 2-byte length can count. Measure the encoded body, '
          'and raise an exception when it is over 65535 bytes, as Java does. ex.hint() gives '
          'a hint.'),
    Wrong('09-write-utf', 'measures plain UTF-8', r'''
def write_utf(sock, text):
    if len(text.encode("utf-8")) > 65535:
        raise ValueError("too long for writeUTF")
    body = labkit.encode_modified_utf8(text)
    sock.sendall((len(body) % 65536).to_bytes(2, "big") + body)
''',
          "write_utf(sock, '\\x00' * 32768) sent it: it is 65536 bytes of modified UTF-8 "
          '(only 32768 bytes of plain UTF-8), more than a 2-byte length can count. Measure '
          'the encoded body, and raise an exception when it is over 65535 bytes, as Java '
          'does. ex.hint() gives a hint.'),
    Wrong('09-write-utf', 'sends the length before checking', r'''
def write_utf(sock, text):
    body = labkit.encode_modified_utf8(text)
    sock.sendall(struct.pack(">H", len(body) % 65536))
    if len(body) > 65535:
        raise ValueError(f"{len(body)} bytes: too long for writeUTF")
    sock.sendall(body)
''',
          "write_utf(sock, '你' * 21846) raised, but only after sending 2 bytes; check the "
          'length before sending anything. ex.hint() gives a hint.'),
    Wrong('09-write-utf', 'little-endian length', r'''
def write_utf(sock, text):
    body = labkit.encode_modified_utf8(text)
    if len(body) > 65535:
        raise ValueError(f"{len(body)} bytes: too long for writeUTF")
    sock.sendall(len(body).to_bytes(2, "little") + body)
''',
          "For '你好' write_utf sent the length b'\\x06\\x00', little-endian (lowest byte "
          "first). Java reads it big-endian, as 1536: use len(body).to_bytes(2, 'big'). "
          'ex.hint() gives a hint.'),
    Wrong('09-write-utf', '4-byte length', r'''
def write_utf(sock, text):
    body = labkit.encode_modified_utf8(text)
    if len(body) > 65535:
        raise ValueError(f"{len(body)} bytes: too long for writeUTF")
    sock.sendall(struct.pack(">I", len(body)) + body)
''',
          "For '你好' write_utf sent a 4-byte length. writeUTF's length is 2 bytes (an unsigned "
          "short): len(body).to_bytes(2, 'big'). ex.hint() gives a hint."),
    Wrong('09-write-utf', 'no length', r'''
def write_utf(sock, text):
    sock.sendall(labkit.encode_modified_utf8(text))
''',
          "For '你好' write_utf sent the body without its length. Send the 2-byte big-endian "
          "length first: len(body).to_bytes(2, 'big') + body. ex.hint() gives a hint."),
    Wrong('09-write-utf', 'closes the socket', r'''
def write_utf(sock, text):
    body = labkit.encode_modified_utf8(text)
    if len(body) > 65535:
        raise ValueError(f"{len(body)} bytes: too long for writeUTF")
    with sock:
        sock.sendall(len(body).to_bytes(2, "big") + body)
''',
          "write_utf(sock, '你好') closed the socket. It belongs to the caller, who may have "
          'more to send and a reply to read: leave closing to the caller (no `with sock:` or '
          'sock.close() inside write_utf). ex.hint() gives a hint.'),
    Wrong('09-write-utf', 'returns the bytes', r'''
def write_utf(sock, text):
    body = labkit.encode_modified_utf8(text)
    return len(body).to_bytes(2, "big") + body
''',
          "write_utf(sock, '你好') returned b'\\x00\\x06\\xe4\\xbd\\xa0\\xe5\\xa5\\xbd'… "
          'instead of sending it: the other side got nothing. Send the bytes with '
          'sock.sendall(...) inside write_utf. ex.hint() gives a hint.'),
    Wrong('09-write-utf', "labkit's write_utf", r'''
def write_utf(sock, text):
    labkit.write_utf(sock, text)
''',
          'Write it yourself: your write_utf uses labkit.write_utf, which does the whole job '
          'for you. The point is to write that job yourself (labkit.encode_modified_utf8 for '
          'the body is fine, then the length, then sock.sendall). ex.hint() gives a hint.'),

    # -- 09-read-utf ---------------------------------------------------------------------
    Wrong('09-read-utf', 'one recv for the length, one for the body', r'''
def read_utf(sock):
    n = int.from_bytes(sock.recv(2), "big")
    return labkit.decode_modified_utf8(sock.recv(n))
''',
          "The 2-byte length of '你好' arrived in two pieces, one byte and then the other: "
          "read_utf returned '' where '你好' was sent. One recv(2) returns what has come so "
          'far, here a single byte: loop until you have both bytes of the length. ex.hint() '
          'gives a hint.'),
    Wrong('09-read-utf', 'MSG_WAITALL', r'''
def read_utf(sock):
    n = int.from_bytes(sock.recv(2, socket.MSG_WAITALL), "big")
    return labkit.decode_modified_utf8(sock.recv(n, socket.MSG_WAITALL))
''',
          "The 2-byte length of '你好' arrived in two pieces, one byte and then the other: "
          "read_utf returned '' where '你好' was sent. One recv(2) returns what has come so "
          'far, here a single byte: loop until you have both bytes of the length. MSG_WAITALL '
          'does not change that here: this socket has a timeout, so Python keeps it '
          'non-blocking underneath, and recv returns what has come. ex.hint() gives a hint.'),
    Wrong('09-read-utf', 'loops for the length, one recv for the body', r'''
def read_utf(sock):
    head = b""
    while len(head) < 2:
        chunk = sock.recv(2 - len(head))
        if not chunk:
            raise EOFError("peer closed")
        head += chunk
    return labkit.decode_modified_utf8(sock.recv(int.from_bytes(head, "big")))
''',
          "The body of '你好😀' arrived in pieces cut in the middle of characters: read_utf "
          'raised FramingError: malformed modified UTF-8 at offset 0: unexpected end of data. '
          'One recv(n) returns what has come so far: loop until you have all n bytes, and '
          'decode them once, when you have them all. ex.hint() gives a hint.'),
    Wrong('09-read-utf', 'decodes each piece', r'''
def read_utf(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError(f"peer closed after {len(data)} of {n} bytes")
            data += chunk
        return data
    n = int.from_bytes(exactly(2), "big")
    text = ""
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise EOFError("peer closed")
        n -= len(chunk)
        text += labkit.decode_modified_utf8(chunk)
    return text
''',
          "The body of '你好😀' arrived in pieces cut in the middle of characters: read_utf "
          'raised FramingError: malformed modified UTF-8 at offset 0: unexpected end of data. '
          'One recv(n) returns what has come so far: loop until you have all n bytes, and '
          'decode them once, when you have them all. ex.hint() gives a hint.'),
    Wrong('09-read-utf', 'plain UTF-8', r'''
def read_utf(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError(f"peer closed after {len(data)} of {n} bytes")
            data += chunk
        return data
    n = int.from_bytes(exactly(2), "big")
    return exactly(n).decode("utf-8")
''',
          "read_utf(sock) raised UnicodeDecodeError: 'utf-8' codec can't decode byte 0xc0 in "
          'position 1: invalid start byte. Java writes modified UTF-8 (C0 80 for U+0000, '
          "surrogate pairs for emoji), which bytes.decode('utf-8') refuses: decode the body "
          'with labkit.decode_modified_utf8. ex.hint() gives a hint.'),
    Wrong('09-read-utf', 'recv(1024) takes the next strings too', r'''
def read_utf(sock):
    data = b""
    while len(data) < 2:
        chunk = sock.recv(1024)
        if not chunk:
            raise EOFError("peer closed")
        data += chunk
    n = int.from_bytes(data[:2], "big")
    while len(data) < 2 + n:
        chunk = sock.recv(1024)
        if not chunk:
            raise EOFError("peer closed")
        data += chunk
    return labkit.decode_modified_utf8(data[2:2 + n])
''',
          "With the strings ['你好', 'Hello, Java', 'A\\x00B', '😀', '', 'a😀\\x00你'] arriving "
          "all at once, read_utf returned '你好' and took bytes past the end of '你好': they "
          'belong to the strings after it, and are lost. Ask recv for at most the bytes still '
          'missing (n - len(data)); a buffered reader such as sock.makefile() reads ahead and '
          'keeps what it took to itself. ex.hint() gives a hint.'),
    Wrong('09-read-utf', 'a buffered makefile reader', r'''
def read_utf(sock):
    f = sock.makefile("rb")
    head = f.read(2)
    if len(head) < 2:
        raise EOFError("peer closed")
    n = int.from_bytes(head, "big")
    body = f.read(n)
    if len(body) < n:
        raise EOFError("peer closed")
    return labkit.decode_modified_utf8(body)
''',
          "With the strings ['你好', 'Hello, Java', 'A\\x00B', '😀', '', 'a😀\\x00你'] arriving "
          "all at once, read_utf returned '你好' and took bytes past the end of '你好': they "
          'belong to the strings after it, and are lost. Ask recv for at most the bytes still '
          'missing (n - len(data)); a buffered reader such as sock.makefile() reads ahead and '
          'keeps what it took to itself. ex.hint() gives a hint.'),
    Wrong('09-read-utf', 'returns what it has at end of stream', r'''
def read_utf(sock):
    n = int.from_bytes(labkit.recv_exactly(sock, 2), "big")
    data = b""
    while len(data) < n and (chunk := sock.recv(n - len(data))):
        data += chunk
    return labkit.decode_modified_utf8(data)
''',
          "The peer sent a length of 5, then 'ab', then closed: read_utf returned 'ab'; it "
          "should raise (Java throws EOFException): when recv returns b'' before you have "
          'every byte, raise EOFError or ConnectionError. ex.hint() gives a hint.'),
    Wrong('09-read-utf', 'loops for ever at end of stream', r'''
def read_utf(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            data += sock.recv(n - len(data))
        return data
    n = int.from_bytes(exactly(2), "big")
    return labkit.decode_modified_utf8(exactly(n))
''',
          "The peer sent a length of 5, then 'ab', then closed, and read_utf did not return: "
          "once the peer has closed, recv returns b'' at once, again and again, so a loop "
          "that waits for more bytes never ends. When recv returns b'', raise EOFError. "
          'ex.hint() gives a hint.'),
    Wrong('09-read-utf', 'a length cut off is taken as it is', r'''
def read_utf(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError(f"peer closed after {len(data)} of {n} bytes")
            data += chunk
        return data
    head = b""
    while len(head) < 2 and (chunk := sock.recv(2 - len(head))):
        head += chunk
    return labkit.decode_modified_utf8(exactly(int.from_bytes(head, "big")))
''',
          "The peer sent one byte of a length, then closed: read_utf returned ''; it should "
          "raise (Java throws EOFException): when recv returns b'' before you have every "
          'byte, raise EOFError or ConnectionError. ex.hint() gives a hint.'),
    Wrong('09-read-utf', "'' when the peer has closed", r'''
def read_utf(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError(f"peer closed after {len(data)} of {n} bytes")
            data += chunk
        return data
    first = sock.recv(1)
    if not first:
        return ""
    n = int.from_bytes(first + exactly(1), "big")
    return labkit.decode_modified_utf8(exactly(n))
''',
          "The peer closed without sending anything: read_utf returned ''. An empty string (a "
          "length of 0) gives '' too, so the caller could not tell them apart: raise "
          "EOFError, as Java's readUTF throws EOFException. ex.hint() gives a hint."),
    Wrong('09-read-utf', 'closes the socket', r'''
def read_utf(sock):
    with sock:
        n = int.from_bytes(labkit.recv_exactly(sock, 2), "big")
        return labkit.decode_modified_utf8(labkit.recv_exactly(sock, n))
''',
          'read_utf closed the socket, so nothing more could be read from it. The socket '
          'belongs to the caller, who may read more strings: leave closing to the caller (no '
          '`with sock:` or sock.close() inside read_utf). ex.hint() gives a hint.'),
    Wrong('09-read-utf', 'returns bytes', r'''
def read_utf(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError(f"peer closed after {len(data)} of {n} bytes")
            data += chunk
        return data
    return exactly(int.from_bytes(exactly(2), "big"))
''',
          "read_utf returned bytes b'\\xe4\\xbd\\xa0\\xe5\\xa5\\xbd'; return a str: decode "
          'the body with labkit.decode_modified_utf8. ex.hint() gives a hint.'),
    Wrong('09-read-utf', "labkit's read_utf", r'''
def read_utf(sock):
    return labkit.read_utf(sock)
''',
          'Write it yourself: your read_utf uses labkit.read_utf, which does the whole job '
          'for you. The point is to write that job yourself (sock.recv in a loop, or '
          'recv_exactly, then labkit.decode_modified_utf8). ex.hint() gives a hint.'),
]


@pytest.fixture
def tracked_socket():
    """The socket module as a learner's cell sees it, except that every socket made through
    it is remembered and closed after the test: a wrong answer may make one when its cell
    runs, outside the check (08's socket kept for every call), and nothing closes that."""
    made = []

    class Socket(socket.socket):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    module = types.ModuleType("socket")
    module.__dict__.update(vars(socket))
    module.socket = Socket
    yield module
    for sock in made:
        sock.close()


@pytest.mark.parametrize("wrong", WRONG, ids=str)
def test_a_wrong_answer_gets_its_not_yet(wrong, tracked_socket):
    assert_not_yet(wrong, socket=tracked_socket)


RIGHT = [
    ("07-two-clients", None),
    ("07-two-clients", r'''
def serve_two(listener):
    sel = selectors.DefaultSelector()
    for _ in range(2):
        conn, addr = listener.accept()
        sel.register(conn, selectors.EVENT_READ)
    while sel.get_map():
        for key, events in sel.select(timeout=2):
            if data := key.fileobj.recv(1024):
                key.fileobj.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
            else:
                sel.unregister(key.fileobj)
                key.fileobj.close()
    sel.close()
'''),
    ("07-two-clients", r'''
def serve_two(listener):
    def handle(conn):
        try:
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                conn.sendall("欢迎访问>>>>".encode("utf-8") + data + b"\r\n")
        finally:
            conn.close()
    threads = []
    for _ in range(2):
        conn, addr = listener.accept()
        threads.append(threading.Thread(target=handle, args=(conn,)))
        threads[-1].start()
    for thread in threads:
        thread.join()
'''),
    ("08-retry", None),
    ("08-retry", r'''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        wait = 0.05
        for attempt in range(5):
            sock.send(text.encode("utf-8"))
            sock.settimeout(wait)
            try:
                return sock.recv(2048).decode("utf-8")
            except socket.timeout:
                wait *= 2
        raise socket.timeout("gave up after 5 attempts")
'''),
    ("09-write-utf", None),
    ("09-write-utf", r'''
def write_utf(sock, text):
    body = labkit.encode_modified_utf8(text)
    header = struct.pack(">H", len(body))  # struct.error over 65535, before anything is sent
    sock.sendall(header)
    sock.sendall(body)
'''),
    ("09-read-utf", None),
    ("09-read-utf", r'''
def read_utf(sock):
    n = int.from_bytes(labkit.recv_exactly(sock, 2), "big")
    return labkit.decode_modified_utf8(labkit.recv_exactly(sock, n))
'''),
    ("09-read-utf", r'''
def read_utf(sock):
    def exactly(n):
        buf = bytearray()
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if chunk == b"":
                raise ConnectionError("the peer closed mid-string")
            buf += chunk
        return bytes(buf)
    (n,) = struct.unpack(">H", exactly(2))
    return labkit.decode_modified_utf8(exactly(n))
'''),
]


@pytest.mark.parametrize("exercise, source", RIGHT, ids=[
    f"{exercise}:{'solution' if source is None else i}" for i, (exercise, source) in enumerate(RIGHT)])
def test_a_right_answer_passes(exercise, source):
    assert_correct(exercise, source)


def test_the_clients_of_07_speak_in_every_order_the_issue_names():
    import random
    from labkit.exercises import manyclients

    steps, leaver = manyclients.script(random.Random(manyclients.SEED))
    assert steps[0] == (2,)                                   # client 2 first
    runs = [steps[i] for i in range(len(steps) - 1) if steps[i] == steps[i + 1]]
    assert (1,) in runs and (2,) in runs                      # each twice in a row, other silent
    assert (1, 2) in steps or (2, 1) in steps                 # both at once
    assert leaver in (1, 2)

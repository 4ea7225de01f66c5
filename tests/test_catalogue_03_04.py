"""Wrong answers to the exercises of lessons 03 (listen, accept) and 04 (connect), each with
the whole "not yet" message it gets, word for word; and right answers of other styles than
the shown solution, which must pass. See tests/catalogue.py.

The checks are adversarial: clients queued before the call and arriving during it, in
pairs and after pauses, one that sends nothing, clients that wait for the end of the
connection before they close; waits that differ from call to call; addresses that refuse,
that never answer, and two that listen. So each wrong answer below fails the same way on
every run, and the messages hold no port, timing or object id.
"""

import pytest

from catalogue import Wrong, assert_correct, assert_not_yet

pytestmark = pytest.mark.timeout(60)

WRONG = [
    # -- 03-accept -------------------------------------------------------------
    Wrong('03-accept', 'sends on the listener', r'''
def serve_one(listener):
    conn, address = listener.accept()
    listener.sendall(b"hello\n")
    return address
''',
          'serve_one(listener) raised BrokenPipeError: [Errno 32] Broken pipe. You '
          'sent on the listening socket, which is connected to nobody: send on the '
          'socket accept() returned. ex.hint() gives a hint.'),
    Wrong('03-accept', 'never closes the connection', r'''
def serve_one(listener):
    conn, address = listener.accept()
    conn.sendall(b"hello\n")
    return address
''',
          'serve_one(listener) left the socket that accept() returned open. Close it '
          'when you are done (conn.close(), or a `with conn:` block): the close is '
          'what tells the client that nothing more will come. ex.hint() gives a hint.'),
    Wrong('03-accept', 'shuts down but never closes', r'''
def serve_one(listener):
    conn, address = listener.accept()
    conn.sendall(b"hello\n")
    conn.shutdown(socket.SHUT_RDWR)
    return address
''',
          'serve_one(listener) shut down the socket that accept() returned, but left '
          'it open: shutdown() ends the conversation, only close() gives the socket '
          'back. Close it (conn.close(), or a `with conn:` block). ex.hint() gives a hint.'),
    Wrong('03-accept', 'handler thread never closes', r'''
def serve_one(listener):
    conn, address = listener.accept()
    threading.Thread(target=conn.sendall, args=(b"hello\n",)).start()
    return address
''',
          'serve_one(listener) left the socket that accept() returned open. Close it '
          'when you are done (conn.close(), or a `with conn:` block): the close is '
          'what tells the client that nothing more will come. ex.hint() gives a hint.'),
    Wrong('03-accept', 'returns the pair', r'''
def serve_one(listener):
    pair = listener.accept()
    with pair[0]:
        pair[0].sendall(b"hello\n")
    return pair
''',
          "serve_one(listener) returned accept()'s whole pair (socket, address); "
          'return just the address, the second item. ex.hint() gives a hint.'),
    Wrong('03-accept', 'returns the socket', r'''
def serve_one(listener):
    conn, address = listener.accept()
    conn.sendall(b"hello\n")
    conn.shutdown(socket.SHUT_WR)
    return conn
''',
          "serve_one(listener) returned a socket; return the client's address, the "
          'second thing accept() gives you. ex.hint() gives a hint.'),
    Wrong('03-accept', 'closes the listener', r'''
def serve_one(listener):
    with listener:
        conn, address = listener.accept()
        with conn:
            conn.sendall(b"hello\n")
    return address
''',
          'serve_one() closed the listening socket: a server closes a connection when '
          'it is done with a client, never its listener (a `with listener:` block '
          'closes it too). ex.hint() gives a hint.'),
    Wrong('03-accept', 'accepts twice', r'''
def serve_one(listener):
    conn, address = listener.accept()
    with conn:
        conn.sendall(b"hello\n")
    listener.accept()
    return address
''',
          "serve_one(listener) accepted the check's client, then called accept() "
          'again and waits there for a second client that never comes. The check '
          'connects one client: call accept() once. ex.hint() gives a hint.'),
    Wrong('03-accept', 'does not unpack the pair', r'''
def serve_one(listener):
    conn = listener.accept()
    conn.sendall(b"hello\n")
    conn.close()
''',
          "serve_one(listener) raised AttributeError: 'tuple' object has no attribute "
          "'sendall'. accept() returns a pair, (socket, address): unpack it with "
          'conn, address = listener.accept(). ex.hint() gives a hint.'),
    Wrong('03-accept', 'sends a str', r'''
def serve_one(listener):
    conn, address = listener.accept()
    with conn:
        conn.sendall("hello\n")
    return address
''',
          'serve_one(listener) raised TypeError: a bytes-like object is required, not '
          '\'str\'. Sockets send bytes: write b"...", or encode a str first with '
          '.encode("utf-8"). ex.hint() gives a hint.'),
    Wrong('03-accept', "returns the listener's address", r'''
def serve_one(listener):
    conn, address = listener.accept()
    with conn:
        conn.sendall(b"hello\n")
    return listener.getsockname()
''',
          "serve_one(listener) returned the server's own address (getsockname() of "
          "the listener or of conn); return the client's address, the second thing "
          'accept() gives you. ex.hint() gives a hint.'),
    Wrong('03-accept', 'returns only the port', r'''
def serve_one(listener):
    conn, (host, port) = listener.accept()
    with conn:
        conn.sendall(b"hello\n")
    return port
''',
          "serve_one(listener) returned only the client's port; return its whole "
          'address, the pair (host, port). ex.hint() gives a hint.'),
    Wrong('03-accept', 'forgets the newline', r'''
def serve_one(listener):
    conn, address = listener.accept()
    with conn:
        conn.sendall(b"hello")
    return address
''',
          "The client received b'hello', expected b'hello\\n'. ex.hint() gives a "
          'hint.'),
    Wrong('03-accept', 'returns nothing', r'''
def serve_one(listener):
    conn, address = listener.accept()
    with conn:
        conn.sendall(b"hello\n")
''',
          "serve_one(listener) returned None, not the client's address, the second "
          'thing accept() gives you. ex.hint() gives a hint.'),
    # -- 03-wait ---------------------------------------------------------------
    Wrong('03-wait', 'lets the timeout escape', r'''
def wait_for_client(listener, seconds):
    listener.settimeout(seconds)
    return listener.accept()
''',
          'wait_for_client(listener, 0.3) raised TimeoutError: timed out. That is the '
          'timeout working: catch TimeoutError (socket.timeout) and return None. '
          'ex.hint() gives a hint.'),
    Wrong('03-wait', 'no timeout at all', r'''
def wait_for_client(listener, seconds):
    try:
        return listener.accept()
    except TimeoutError:
        return None
''',
          'With no client coming, wait_for_client(listener, 0.3) was still waiting '
          'after 2 s: accept() waits forever unless the listener has a timeout. Call '
          'listener.settimeout(seconds) before accept(). ex.hint() gives a hint.'),
    Wrong('03-wait', 'non-blocking accept', r'''
def wait_for_client(listener, seconds):
    listener.setblocking(False)
    try:
        return listener.accept()
    except BlockingIOError:
        return None
''',
          'With no client, wait_for_client(listener, 0.3) returned before 0.3 s had '
          'passed: wait the whole `seconds` for a client '
          '(listener.settimeout(seconds)), then return None. ex.hint() gives a hint.'),
    Wrong('03-wait', 'a timeout of its own', r'''
def wait_for_client(listener, seconds):
    listener.settimeout(0.5)
    try:
        return listener.accept()
    except socket.timeout:
        return None
''',
          'With no client, wait_for_client(listener, 1) returned before 1 s had '
          'passed: wait the whole `seconds` for a client '
          '(listener.settimeout(seconds)), then return None. ex.hint() gives a hint.'),
    Wrong('03-wait', 'a long timeout of its own', r'''
def wait_for_client(listener, seconds):
    listener.settimeout(2)
    try:
        return listener.accept()
    except socket.timeout:
        return None
''',
          'With no client, wait_for_client(listener, 0.3) was still waiting after 0.8 '
          's: give up after `seconds`, the time you are given, not after a time of '
          'your own. ex.hint() gives a hint.'),
    Wrong('03-wait', 'sleeps, then looks', r'''
def wait_for_client(listener, seconds):
    time.sleep(seconds)
    listener.setblocking(False)
    try:
        return listener.accept()
    except BlockingIOError:
        return None
''',
          'A client was already waiting, but wait_for_client(listener, 2) returned '
          'only after the whole 2 s: accept the client as soon as it comes (accept() '
          'with a timeout does that). ex.hint() gives a hint.'),
    Wrong('03-wait', 'returns only the socket', r'''
def wait_for_client(listener, seconds):
    listener.settimeout(seconds)
    try:
        conn, address = listener.accept()
        return conn
    except TimeoutError:
        return None
''',
          'A client was already waiting, and wait_for_client(listener, 2) returned '
          "only a socket; return accept()'s whole pair (socket, address), as it is. "
          'ex.hint() gives a hint.'),
    Wrong('03-wait', 'returns only the address', r'''
def wait_for_client(listener, seconds):
    listener.settimeout(seconds)
    try:
        conn, address = listener.accept()
        return address
    except TimeoutError:
        return None
''',
          'A client was already waiting, and wait_for_client(listener, 2) returned '
          "only an address; return accept()'s whole pair (socket, address), as it is. "
          'ex.hint() gives a hint.'),
    Wrong('03-wait', 'a pair of Nones', r'''
def wait_for_client(listener, seconds):
    listener.settimeout(seconds)
    try:
        return listener.accept()
    except TimeoutError:
        return None, None
''',
          'With no client at all, wait_for_client(listener, 0.3) returned (None, '
          'None); return None itself. ex.hint() gives a hint.'),
    Wrong('03-wait', 'closes what it returns', r'''
def wait_for_client(listener, seconds):
    listener.settimeout(seconds)
    try:
        conn, address = listener.accept()
    except TimeoutError:
        return None
    with conn:
        return conn, address
''',
          'A client was already waiting, and wait_for_client(listener, 2) returned a '
          'closed socket: a `with` block closes its socket as the function returns. '
          'Return the pair open; the caller closes the socket when it is done. '
          'ex.hint() gives a hint.'),
    Wrong('03-wait', 'catches the wrong exception', r'''
def wait_for_client(listener, seconds):
    listener.settimeout(seconds)
    try:
        return listener.accept()
    except ConnectionRefusedError:
        return None
''',
          'wait_for_client(listener, 0.3) raised TimeoutError: timed out. That is the '
          'timeout working: catch TimeoutError (socket.timeout) and return None. '
          'ex.hint() gives a hint.'),
    # -- 03-serve-many ---------------------------------------------------------
    Wrong('03-serve-many', 'while True', r'''
def serve(listener, n):
    while True:
        conn, address = listener.accept()
        with conn:
            data = conn.recv(1024)
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          'serve(listener, 5) served its 5 clients, then called accept() a 6th time, '
          'waiting for a client that never comes: serve must return after n clients. '
          'Loop `for _ in range(n):`, not `while True:`. ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'while True until a timeout', r'''
def serve(listener, n):
    listener.settimeout(1)
    while True:
        try:
            conn, address = listener.accept()
        except TimeoutError:
            return
        with conn:
            data = conn.recv(1024)
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          'serve(listener, 5) served its 5 clients, then called accept() a 6th time, '
          'waiting for a client that never comes: serve must return after n clients. '
          'Loop `for _ in range(n):`, not `while True:`. ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'five clients, not n', r'''
def serve(listener, n):
    for _ in range(5):
        conn, address = listener.accept()
        with conn:
            data = conn.recv(1024)
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          'serve(listener, 3) served its 3 clients, then called accept() a 4th time, '
          'waiting for a client that never comes: serve must return after n clients. '
          'Use the n you are given, `for _ in range(n):`, not a number of your own. '
          'ex.hint() gives a hint.'),
    Wrong('03-serve-many', "the seed's one-client server", r'''
def serve(listener, n):
    conn, address = listener.accept()
    while True:
        data = conn.recv(1024)
        if not data:
            break
        conn.send(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
    conn.close()
''',
          'Client 1 of 5 received its reply, then waited for the end of the '
          'connection: your function still held its socket, waiting (in recv()?) for '
          'more. Read one message with one recv(1024), reply, then close the socket: '
          'this client waits for your close before it leaves. ex.hint() gives a hint.'),
    Wrong('03-serve-many', "the seed's loop for each client", r'''
def serve(listener, n):
    for _ in range(n):
        conn, address = listener.accept()
        with conn:
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          'Client 1 of 5 received its reply, then waited for the end of the '
          'connection: your function still held its socket, waiting (in recv()?) for '
          'more. Read one message with one recv(1024), reply, then close the socket: '
          'this client waits for your close before it leaves. ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'never closes', r'''
kept = []

def serve(listener, n):
    for _ in range(n):
        conn, address = listener.accept()
        kept.append(conn)
        data = conn.recv(1024)
        conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          'Client 1 of 5 received its reply, then waited for the end of the '
          'connection: your function went on to accept() the next client without '
          "closing this one's socket. Close each client's socket when you are done "
          'with it (conn.close(), or a `with conn:` block). ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'shuts down, never closes', r'''
def serve(listener, n):
    for _ in range(n):
        conn, address = listener.accept()
        data = conn.recv(1024)
        conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
        conn.shutdown(socket.SHUT_RDWR)
''',
          'serve(listener, 5) returned, but left sockets that accept() returned open: '
          "close each client's socket when you are done with it (conn.close(), or a "
          '`with conn:` block), not only shut it down. ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'echoes without the greeting', r'''
def serve(listener, n):
    for _ in range(n):
        conn, address = listener.accept()
        with conn:
            conn.sendall(conn.recv(1024))
''',
          "Client 1 of 5 sent '你好 1' and received '你好 1'; expected '欢迎访问>>>>你好 "
          "1\\r\\n', then the end of the connection. ex.hint() gives a hint."),
    Wrong('03-serve-many', 'forgets the line end', r'''
def serve(listener, n):
    for _ in range(n):
        conn, address = listener.accept()
        with conn:
            data = conn.recv(1024)
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8")).encode("utf-8"))
''',
          "Client 1 of 5 sent '你好 1' and received '欢迎访问>>>>你好 1'; expected "
          "'欢迎访问>>>>你好 1\\r\\n', then the end of the connection. ex.hint() gives a "
          'hint.'),
    Wrong('03-serve-many', 'mixes bytes and str', r'''
def serve(listener, n):
    for _ in range(n):
        conn, address = listener.accept()
        with conn:
            conn.sendall("欢迎访问>>>>".encode("utf-8") + conn.recv(1024) + "\r\n")
''',
          "serve(listener, 5) raised TypeError: can't concat str to bytes. recv() "
          'gives bytes, and text in quotes is a str; they do not mix: decode what you '
          'received (data.decode("utf-8")), build the reply as a str, then encode it '
          '(reply.encode("utf-8")) for sendall(). ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'sends a str', r'''
def serve(listener, n):
    for _ in range(n):
        conn, address = listener.accept()
        with conn:
            data = conn.recv(1024)
            conn.send("欢迎访问>>>>" + data.decode() + "\r\n")
''',
          'serve(listener, 5) raised TypeError: a bytes-like object is required, not '
          '\'str\'. Sockets send bytes: write b"...", or encode a str first with '
          '.encode("utf-8"). ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'stops at an empty message', r'''
def serve(listener, n):
    for _ in range(n):
        conn, address = listener.accept()
        with conn:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          'serve(listener, 5) returned after accepting 3 clients, so clients 4 and 5 '
          'were never accepted. Client 3 sent nothing and closed its side: recv() '
          "gave b'' for it, and that is no reason to stop serving the others. Call "
          'accept() once for every client: loop n times. ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'accepts once, answers n times', r'''
def serve(listener, n):
    conn, address = listener.accept()
    with conn:
        for _ in range(n):
            data = conn.recv(1024)
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          'Client 1 of 5 received its reply, then waited for the end of the '
          'connection: your function still held its socket, waiting (in recv()?) for '
          'more. Read one message with one recv(1024), reply, then close the socket: '
          'this client waits for your close before it leaves. ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'serves one client only', r'''
def serve(listener, n):
    conn, address = listener.accept()
    with conn:
        data = conn.recv(1024)
        conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          'serve(listener, 5) returned after accepting 1 client, so clients 2 to 5 '
          'were never accepted. Call accept() once for every client: loop n times. '
          'ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'reads until the end first', r'''
def serve(listener, n):
    for _ in range(n):
        conn, address = listener.accept()
        with conn:
            data = b""
            while chunk := conn.recv(1024):
                data += chunk
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          "Client 1 of 5 sent '你好 1' and waited for a reply in vain: your function "
          'still held its socket, waiting (in recv()?) for more. Read one message '
          'with one recv(1024) and reply at once: this client waits for your reply '
          'before it closes. ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'closes the listener', r'''
def serve(listener, n):
    with listener:
        for _ in range(n):
            conn, address = listener.accept()
            with conn:
                data = conn.recv(1024)
                conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          'serve(listener, 5) closed the listening socket: a server closes a '
          'connection when it is done with a client, never its listener (a `with '
          'listener:` block closes it too). ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'non-blocking listener', r'''
def serve(listener, n):
    listener.setblocking(False)
    for _ in range(n):
        conn, address = listener.accept()
        with conn:
            data = conn.recv(1024)
            conn.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          'serve(listener, 5) raised BlockingIOError: [Errno 11] Resource temporarily '
          "unavailable. A non-blocking listener's accept() does not wait for the next "
          'client: leave the listener blocking. ex.hint() gives a hint.'),
    Wrong('03-serve-many', 'replies on the listener', r'''
def serve(listener, n):
    for _ in range(n):
        conn, address = listener.accept()
        with conn:
            data = conn.recv(1024)
            listener.sendall(("欢迎访问>>>>" + data.decode("utf-8") + "\r\n").encode("utf-8"))
''',
          'serve(listener, 5) raised BrokenPipeError: [Errno 32] Broken pipe. You '
          'sent on the listening socket, which is connected to nobody: send on the '
          'socket accept() returned. ex.hint() gives a hint.'),
    # -- 04-connect-first ------------------------------------------------------
    Wrong('04-connect-first', 'tries only the first address', r'''
def connect_first(addresses, timeout):
    return socket.create_connection(addresses[0], timeout=timeout)
''',
          'connect_first([refused, refused, listening], 1.0) raised '
          'ConnectionRefusedError: [Errno 111] Connection refused. The first address '
          'refuses, and a later one listens: when one address fails, remember the '
          'error and try the next address before giving up. ex.hint() gives a hint.'),
    Wrong('04-connect-first', 'gives up at the first failure', r'''
def connect_first(addresses, timeout):
    for address in addresses:
        try:
            return socket.create_connection(address, timeout=timeout)
        except OSError as exc:
            raise exc
''',
          'connect_first([refused, refused, listening], 1.0) raised '
          'ConnectionRefusedError: [Errno 111] Connection refused. The first address '
          'refuses, and a later one listens: when one address fails, remember the '
          'error and try the next address before giving up. ex.hint() gives a hint.'),
    Wrong('04-connect-first', 'catches only refusals', r'''
def connect_first(addresses, timeout):
    error = None
    for address in addresses:
        try:
            return socket.create_connection(address, timeout=timeout)
        except ConnectionRefusedError as exc:
            error = exc
    raise error
''',
          'connect_first([never answers, refused, listening, listening], 0.3) raised '
          'TimeoutError: timed out. That is the timeout working: the first address '
          'never answers, and the connect gave up after 0.3 s. Catch TimeoutError too '
          '(or OSError, which covers both) and go on to the next address. ex.hint() '
          'gives a hint.'),
    Wrong('04-connect-first', 'no timeout', r'''
def connect_first(addresses, timeout):
    error = None
    for address in addresses:
        try:
            return socket.create_connection(address)
        except OSError as exc:
            error = exc
    raise error
''',
          'connect_first([refused, refused, listening], 1.0) made a connect without a '
          'timeout, and a connect to an address that never answers waits for minutes. '
          'Give every try the timeout you are given: '
          'socket.create_connection(address, timeout=timeout), or '
          'sock.settimeout(timeout) before sock.connect(address). ex.hint() gives a '
          'hint.'),
    Wrong('04-connect-first', 'a timeout of its own', r'''
def connect_first(addresses, timeout):
    error = None
    for address in addresses:
        try:
            return socket.create_connection(address, timeout=1)
        except OSError as exc:
            error = exc
    raise error
''',
          'connect_first([never answers, refused, listening, listening], 0.3) gave a '
          'connect a timeout of 1 s, not the 0.3 s it was given: pass '
          "timeout=timeout, the caller's choice, not a time of your own. ex.hint() "
          'gives a hint.'),
    Wrong('04-connect-first', 'timeout set after connect', r'''
def connect_first(addresses, timeout):
    error = None
    for address in addresses:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.connect(address)
            sock.settimeout(timeout)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error
''',
          'connect_first([refused, refused, listening], 1.0) made a connect without a '
          'timeout, and a connect to an address that never answers waits for minutes. '
          'Give every try the timeout you are given: '
          'socket.create_connection(address, timeout=timeout), or '
          'sock.settimeout(timeout) before sock.connect(address). ex.hint() gives a '
          'hint.'),
    Wrong('04-connect-first', 'leaks the failed sockets', r'''
def connect_first(addresses, timeout):
    error = None
    for address in addresses:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
            return sock
        except OSError as exc:
            error = exc
    raise error
''',
          'connect_first([refused, refused, listening], 1.0) left 2 sockets of the '
          'tries that failed open. Close the socket of a failed connect before you '
          'try the next address (sock.close() in the `except` block), or use '
          'socket.create_connection(), which does that for you. ex.hint() gives a '
          'hint.'),
    Wrong('04-connect-first', 'keeps the last that works', r'''
def connect_first(addresses, timeout):
    sock, error = None, None
    for address in addresses:
        try:
            sock = socket.create_connection(address, timeout=timeout)
        except OSError as exc:
            error = exc
    if sock is None:
        raise error
    return sock
''',
          'connect_first([never answers, refused, listening, listening], 0.3) '
          'returned a socket connected to the fourth address, but the third had '
          'connected already: return the first socket that connects, as soon as it '
          'does. ex.hint() gives a hint.'),
    Wrong('04-connect-first', 'returns None when nothing works', r'''
def connect_first(addresses, timeout):
    for address in addresses:
        try:
            return socket.create_connection(address, timeout=timeout)
        except OSError:
            pass
''',
          'When no address works, connect_first([refused, never answers], 0.3) '
          'returned None; raise the last error instead, so the caller learns why it '
          'failed. ex.hint() gives a hint.'),
    Wrong('04-connect-first', 'returns the error', r'''
def connect_first(addresses, timeout):
    last_error = None
    for address in addresses:
        try:
            return socket.create_connection(address, timeout=timeout)
        except OSError as exc:
            last_error = exc
    return last_error
''',
          'When no address works, connect_first([refused, never answers], 0.3) '
          'returned the exception TimeoutError; `raise` it instead of returning it, '
          "so that the caller's `except` sees it. ex.hint() gives a hint."),
    Wrong('04-connect-first', 'raises the first error', r'''
def connect_first(addresses, timeout):
    errors = []
    for address in addresses:
        try:
            return socket.create_connection(address, timeout=timeout)
        except OSError as exc:
            errors.append(exc)
    raise errors[0]
''',
          'connect_first([refused, never answers], 0.3) raised the first error, '
          'ConnectionRefusedError; the last address timed out, so raise its '
          'TimeoutError: keep the error of each failed try (last_error = exc), and '
          'raise the last one after the loop. ex.hint() gives a hint.'),
    Wrong('04-connect-first', 'raises the name of the except clause', r'''
def connect_first(addresses, timeout):
    for address in addresses:
        try:
            return socket.create_connection(address, timeout=timeout)
        except OSError as exc:
            continue
    raise exc
''',
          'connect_first([refused, never answers], 0.3) raised UnboundLocalError: '
          "cannot access local variable 'exc' where it is not associated with a "
          'value. Python forgets the name of `except ... as exc:` when the except '
          'block ends: keep the error in a variable of your own inside the block '
          '(last_error = exc), and `raise last_error` after the loop. ex.hint() gives '
          'a hint.'),
    Wrong('04-connect-first', 'raises an error of its own', r'''
def connect_first(addresses, timeout):
    for address in addresses:
        try:
            return socket.create_connection(address, timeout=timeout)
        except OSError:
            pass
    raise ConnectionError("no address worked")
''',
          'When no address works, connect_first([refused, never answers], 0.3) should '
          'raise the last error, TimeoutError; it raised ConnectionError: no address '
          'worked. Raise the exception you caught, not one of your own. ex.hint() '
          'gives a hint.'),
    # -- 04-both-ends ----------------------------------------------------------
    Wrong('04-both-ends', 'accepts before connecting', r'''
def both_ends(listener):
    server_side, _ = listener.accept()
    client = socket.create_connection(listener.getsockname(), timeout=2)
    return client, server_side
''',
          'both_ends(listener) raised TimeoutError: accept() waited for a client that '
          'never came. Connect first, then accept. ex.hint() gives a hint.'),
    Wrong('04-both-ends', "keeps accept's pair", r'''
def both_ends(listener):
    client = socket.create_connection(listener.getsockname(), timeout=2)
    return client, listener.accept()
''',
          'The second item is a tuple: accept() returns (socket, address); return '
          'just the socket. ex.hint() gives a hint.'),
    Wrong('04-both-ends', 'returns the listener', r'''
def both_ends(listener):
    client = socket.create_connection(listener.getsockname(), timeout=2)
    return client, listener
''',
          'You returned the listener: accept() gives a NEW socket for each '
          'connection, and the listener keeps listening. ex.hint() gives a hint.'),
    Wrong('04-both-ends', 'reversed', r'''
def both_ends(listener):
    client = socket.create_connection(listener.getsockname(), timeout=2)
    server_side, _ = listener.accept()
    return server_side, client
''',
          'The order is reversed: you returned (server_side, client). Return (client, '
          'server_side), the client first. ex.hint() gives a hint.'),
    Wrong('04-both-ends', "connects to the listener's peer", r'''
def both_ends(listener):
    client = socket.create_connection(listener.getpeername(), timeout=2)
    server_side, _ = listener.accept()
    return client, server_side
''',
          'both_ends(listener) raised OSError: [Errno 107] Transport endpoint is not '
          'connected. Only a connected socket has a peer, and a listener is connected '
          'to nobody, so listener.getpeername() fails. The address to connect to is '
          "the listener's own, listener.getsockname(). ex.hint() gives a hint."),
    Wrong('04-both-ends', 'closes them in with blocks', r'''
def both_ends(listener):
    with socket.create_connection(listener.getsockname(), timeout=2) as client:
        server_side, _ = listener.accept()
        with server_side:
            return client, server_side
''',
          'both_ends() returned closed sockets: a `with` block closes its socket when '
          'the block ends. Return them open; the caller closes them when it is done. '
          'ex.hint() gives a hint.'),
    Wrong('04-both-ends', 'two clients, ends of different connections', r'''
def both_ends(listener):
    first = socket.create_connection(listener.getsockname(), timeout=2)
    client = socket.create_connection(listener.getsockname(), timeout=2)
    server_side, _ = listener.accept()
    return client, server_side
''',
          'The two sockets are not the two ends of one connection: '
          'client.getpeername() should equal server_side.getsockname(). Connect once, '
          'and accept that connection. ex.hint() gives a hint.'),
    Wrong('04-both-ends', 'a listener of its own', r'''
def both_ends(listener):
    mine = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(mine.getsockname(), timeout=2)
    server_side, _ = mine.accept()
    return client, server_side
''',
          'The server side is not a connection of the listener you were given: you '
          'made a listener of your own. Connect to listener.getsockname() and accept '
          'on listener. ex.hint() gives a hint.'),
    Wrong('04-both-ends', 'closes the listener', r'''
def both_ends(listener):
    with listener:
        client = socket.create_connection(listener.getsockname(), timeout=2)
        server_side, _ = listener.accept()
    return client, server_side
''',
          'both_ends() closed the listener it was given (a `with listener:` block '
          'does that): the listener belongs to the caller, and keeps listening. '
          'ex.hint() gives a hint.'),
    Wrong('04-both-ends', 'returns only the client', r'''
def both_ends(listener):
    client = socket.create_connection(listener.getsockname(), timeout=2)
    server_side, _ = listener.accept()
    return client
''',
          'both_ends() returned one socket; return both ends as a pair, (client, '
          'server_side). ex.hint() gives a hint.'),
    Wrong('04-both-ends', 'returns the addresses', r'''
def both_ends(listener):
    client = socket.create_connection(listener.getsockname(), timeout=2)
    server_side, address = listener.accept()
    return client.getsockname(), address
''',
          'both_ends() returned two addresses; return the two sockets, (client, '
          'server_side). ex.hint() gives a hint.'),
    Wrong('04-both-ends', 'a spare socket left open', r'''
def both_ends(listener):
    spare = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client = socket.create_connection(listener.getsockname(), timeout=2)
    server_side, _ = listener.accept()
    return client, server_side
''',
          'both_ends(listener) left a TCP socket never connected open besides the two '
          'sockets it returned: close every socket you do not return (or better, make '
          'none you do not need). ex.hint() gives a hint.'),
]

RIGHT = [  # (exercise, a right answer in another style than the shown solution)
    ("03-accept", r'''
def serve_one(listener):
    conn, address = listener.accept()
    try:
        conn.sendall(b"hello\n")
    finally:
        conn.close()
    return address
'''),
    ("03-accept", r'''
def serve_one(listener):                  # a handler thread that closes what it serves
    conn, address = listener.accept()

    def handle():
        with conn:
            conn.sendall(b"hello\n")

    threading.Thread(target=handle).start()
    return address
'''),
    ("03-wait", r'''
def wait_for_client(listener, seconds):
    ready, _, _ = select.select([listener], [], [], seconds)
    if not ready:
        return None
    return listener.accept()
'''),
    ("03-wait", r'''
def wait_for_client(listener, seconds):
    listener.settimeout(seconds)
    try:
        conn, address = listener.accept()
    except socket.timeout:
        return None
    return conn, address
'''),
    ("03-serve-many", r'''
def serve(listener, n):
    for i in range(n):
        conn, address = listener.accept()
        try:
            data = conn.recv(1024)
            if data:                      # a client that sent nothing gets no reply
                text = data.decode("utf-8")
                conn.sendall(f"欢迎访问>>>>{text}\r\n".encode("utf-8"))
        finally:
            conn.close()
'''),
    ("03-serve-many", r'''
def serve(listener, n):
    served = 0
    while served < n:
        conn, address = listener.accept()
        with conn:
            message = conn.recv(1024).decode("utf-8")
            conn.send(("欢迎访问>>>>" + message + "\r\n").encode("utf-8"))
        served += 1
'''),
    ("04-connect-first", r'''
def connect_first(addresses, timeout):
    error = None
    for host, port in addresses:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
        except OSError as exc:
            sock.close()
            error = exc
        else:
            return sock
    raise error
'''),
    ("04-connect-first", r'''
def connect_first(addresses, timeout):
    errors = []
    for address in addresses:
        try:
            return socket.create_connection(address, timeout=timeout)
        except (ConnectionRefusedError, TimeoutError) as exc:
            errors.append(exc)
    raise errors[-1]
'''),
    ("04-both-ends", r'''
def both_ends(listener):
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(2)
    client.connect(listener.getsockname())
    server_side, _ = listener.accept()
    return [client, server_side]
'''),
    ("04-both-ends", r'''
def both_ends(listener):
    address = listener.getsockname()
    client = socket.create_connection(("localhost", address[1]), timeout=2)
    return client, listener.accept()[0]
'''),
]

EXERCISES = ["03-accept", "03-wait", "03-serve-many", "04-connect-first", "04-both-ends"]


@pytest.mark.parametrize("wrong", WRONG, ids=str)
def test_a_wrong_answer_gets_its_message(wrong):
    assert_not_yet(wrong)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_shown_solution_passes(exercise):
    assert_correct(exercise)


@pytest.mark.parametrize("exercise, source", RIGHT,
                         ids=[f"{exercise}:{i}" for i, (exercise, _) in enumerate(RIGHT)])
def test_a_right_answer_in_another_style_passes(exercise, source):
    assert_correct(exercise, source)


def test_every_exercise_here_has_four_wrong_answers_or_more():
    for exercise in EXERCISES:
        assert sum(w.exercise == exercise for w in WRONG) >= 4, exercise

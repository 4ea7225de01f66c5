"""Wrong answers to the exercises of lesson 12 (TLS), each with the whole "not yet" message it
gets, word for word; and right answers in other styles than the shown solution, which must
pass. See tests/catalogue.py.

12-verify's check talks to real TLS servers made from the kernel's lab certificates: a proper
one that replies in three records with pauses (cut inside characters) and then waits for the
client to close, and three impostors in a fixed order (another host's certificate from the
right CA, a stranger CA's, an expired one). 12-which-fails runs four rounds whose broken
servers come from a fixed seed; the lesson's practice set has one server per fault.
Certificates are new in every process, but nothing in a message depends on them: verify
codes and OpenSSL's reasons, never ports or keys.
"""

import ssl

import pytest

import labkit
from catalogue import Wrong, assert_correct, assert_not_yet
from labkit.exercises.tls import NAMES, ROUNDS
from labkit.serving.tls import FAULTS, PRACTICE

pytestmark = pytest.mark.timeout(120)

WRONG = [
    Wrong('12-verify', 'CERT_NONE', r'''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE    # "it works now"
    with socket.create_connection(address, timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=address[0]) as sock:
            sock.sendall(message.encode("utf-8"))
            reply = b""
            while not reply.endswith(b"\r\n"):
                reply += sock.recv(1024)
    return reply.decode("utf-8")
''',
          'Against an impostor with a certificate from the right CA, but for the host '
          "'impostor.example', verified_echo(address, cafile, message) returned "
          "'欢迎访问>>>>你好, TLS!\\r\\n'. Your context has verify_mode CERT_NONE, so it accepts "
          'any certificate at all: encrypted, but to whom? Keep the defaults of '
          'ssl.create_default_context(cafile=cafile): CERT_REQUIRED and check_hostname '
          'True. ex.hint() gives a hint.'),
    Wrong('12-verify', 'check_hostname False', r'''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False
    with socket.create_connection(address, timeout=5) as raw:
        with context.wrap_socket(raw) as sock:
            sock.sendall(message.encode("utf-8"))
            reply = b""
            while not reply.endswith(b"\r\n"):
                reply += sock.recv(1024)
    return reply.decode("utf-8")
''',
          'Against an impostor with a certificate from the right CA, but for the host '
          "'impostor.example', verified_echo(address, cafile, message) returned "
          "'欢迎访问>>>>你好, TLS!\\r\\n'. Your context has check_hostname False: it checks that "
          'a CA it trusts signed the certificate, but not that the certificate is for the'
          ' host you meant, so any certificate from that CA will do. Leave check_hostname'
          ' True and pass server_hostname=address[0]. ex.hint() gives a hint.'),
    Wrong('12-verify', 'ignores cafile', r'''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context()
    with socket.create_connection(address, timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=address[0]) as sock:
            sock.sendall(message.encode("utf-8"))
            reply = b""
            while not reply.endswith(b"\r\n"):
                reply += sock.recv(1024)
    return reply.decode("utf-8")
''',
          'Against the real server (its certificate, for 127.0.0.1, is signed by the CA '
          'in cafile), verified_echo(address, cafile, message) raised '
          'SSLCertVerificationError: verify_code 20: unable to get local issuer '
          "certificate. Your context does not trust the CA in cafile: the system's CAs "
          'never signed this certificate. Make the context with '
          'ssl.create_default_context(cafile=cafile). ex.hint() gives a hint.'),
    Wrong('12-verify', 'catches the error and returns', r'''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    try:
        with socket.create_connection(address, timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=address[0]) as sock:
                sock.sendall(message.encode("utf-8"))
                reply = b""
                while not reply.endswith(b"\r\n"):
                    reply += sock.recv(1024)
        return reply.decode("utf-8")
    except ssl.SSLError:
        return ""
''',
          'Against an impostor with a certificate from the right CA, but for the host '
          "'impostor.example', verified_echo(address, cafile, message) returned ''. The "
          'handshake refused the certificate, but your code caught the error and returned'
          ' anyway, so the caller cannot tell an impostor from an empty reply. Do not '
          'catch ssl.SSLCertVerificationError: let it reach the caller. ex.hint() gives a'
          ' hint.'),
    Wrong('12-verify', 'replaces the error', r'''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    try:
        with socket.create_connection(address, timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=address[0]) as sock:
                sock.sendall(message.encode("utf-8"))
                reply = b""
                while not reply.endswith(b"\r\n"):
                    reply += sock.recv(1024)
        return reply.decode("utf-8")
    except ssl.SSLError as exc:
        raise ConnectionError(f"refused: {exc.reason}") from exc
''',
          'Against an impostor with a certificate from the right CA, but for the host '
          "'impostor.example', verified_echo(address, cafile, message) raised "
          'ConnectionError: refused: CERTIFICATE_VERIFY_FAILED. Refusing is right, but '
          'the caller must be able to tell why: let ssl.SSLCertVerificationError itself '
          'reach the caller, neither caught nor replaced by another exception. ex.hint() '
          'gives a hint.'),
    Wrong('12-verify', 'never closes', r'''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(address, timeout=5)
    sock = context.wrap_socket(raw, server_hostname=address[0])
    sock.sendall(message.encode("utf-8"))
    reply = b""
    while not reply.endswith(b"\r\n"):
        reply += sock.recv(1024)
    return reply.decode("utf-8")
''',
          'When the check ended, your code still had a TCP socket connected to a peer '
          'open. Close every socket you open: use `with`, or call close() in a `finally:`'
          ' block; a socket kept in a list or a variable stays open until you close it. '
          'ex.hint() gives a hint.'),
    Wrong('12-verify', 'one recv', r'''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(address, timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=address[0]) as sock:
            sock.sendall(message.encode("utf-8"))
            return sock.recv(1024).decode("utf-8")
''',
          'Against the real server (its certificate, for 127.0.0.1, is signed by the CA '
          'in cafile), verified_echo(address, cafile, message) raised UnicodeDecodeError '
          '(unexpected end of data). The reply came in three TLS records, cut inside '
          'characters and with pauses between them, and one recv() returns only what has '
          'arrived: your code decoded a piece. recv() in a loop until the reply ends with'
          ' \\r\\n, then decode the whole. ex.hint() gives a hint.'),
    Wrong('12-verify', 'one recv, decoded leniently', r'''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(address, timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=address[0]) as sock:
            sock.sendall(message.encode("utf-8"))
            return sock.recv(1024).decode("utf-8", errors="ignore")
''',
          'Against the real server (its certificate, for 127.0.0.1, is signed by the CA '
          "in cafile), verified_echo(address, cafile, message) returned '欢迎', only the "
          "start of the reply '欢迎访问>>>>你好, TLS!\\r\\n': it came in three TLS records with "
          'pauses between them, and one recv() returns only what has arrived. recv() in a'
          ' loop until the reply ends with \\r\\n. ex.hint() gives a hint.'),
    Wrong('12-verify', 'reads until close', r'''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(address, timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=address[0]) as sock:
            sock.sendall(message.encode("utf-8"))
            reply = b""
            while chunk := sock.recv(1024):
                reply += chunk
    return reply.decode("utf-8")
''',
          'Against the real server, verified_echo(address, cafile, message) did not '
          'return within 4 s. The server sent its whole reply, ending with \\r\\n, then '
          'waited for your client to close, as an echo server does: a loop that reads '
          "until recv() returns b'' waits for a close that never comes. Stop reading when"
          ' the reply ends with \\r\\n. ex.hint() gives a hint.'),
    Wrong('12-verify', 'no server_hostname', r'''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(address, timeout=5) as raw:
        with context.wrap_socket(raw) as sock:
            sock.sendall(message.encode("utf-8"))
            reply = b""
            while not reply.endswith(b"\r\n"):
                reply += sock.recv(1024)
    return reply.decode("utf-8")
''',
          'Against the real server (its certificate, for 127.0.0.1, is signed by the CA '
          'in cafile), verified_echo(address, cafile, message) raised ValueError: '
          'check_hostname requires server_hostname. A context that checks names must be '
          'told which name to expect: context.wrap_socket(raw, '
          'server_hostname=address[0]). ex.hint() gives a hint.'),
    Wrong('12-verify', 'plain TCP, the seed client', r'''
def verified_echo(address, cafile, message):
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(message.encode("utf-8"))
        return sock.recv(1024).decode("utf-8")
''',
          'Against the real server (its certificate, for 127.0.0.1, is signed by the CA '
          'in cafile), verified_echo(address, cafile, message) raised '
          'ConnectionResetError: Connection reset by peer. Your client spoke plain TCP to'
          ' a TLS server, which closed the connection when the first bytes were not a TLS'
          ' handshake. Wrap the socket first: context.wrap_socket(raw, '
          'server_hostname=address[0]). ex.hint() gives a hint.'),
    Wrong('12-verify', 'returns bytes', r'''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(address, timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=address[0]) as sock:
            sock.sendall(message.encode("utf-8"))
            reply = b""
            while not reply.endswith(b"\r\n"):
                reply += sock.recv(1024)
    return reply
''',
          'Against the real server (its certificate, for 127.0.0.1, is signed by the CA '
          "in cafile), verified_echo(address, cafile, message) returned bytes, b'\\xe6\\xac"
          '\\xa2\\xe8\\xbf\\x8e\\xe8\\xae\\xbf\\xe9\\x97\\xae>>>>\\xe4\\xbd\\xa0\\xe5\\xa5\\xbd, '
          'TLS!\\r\\n\'. Return the reply as text: reply.decode("utf-8"). ex.hint() gives a '
          'hint.'),
    Wrong('12-which-fails', 'the practice answer', r'''
def which_fails(servers, cafile):
    return {"north": "expired", "south": "ok", "west": "not tls", "east": "hostname",
            "centre": "untrusted"}
''',
          "In round 1 of 4, which_fails(servers, cafile) returned the practice servers' "
          "faults. The check's servers are new ones, broken differently in each round: "
          'decide by connecting to each server in servers, not by a fixed answer. '
          'ex.hint() gives a hint.'),
    Wrong('12-which-fails', 'a fixed answer', r'''
def which_fails(servers, cafile):
    return {"north": "expired", "south": "ok", "west": "not tls"}
''',
          "In round 1 of 4, which_fails(servers, cafile) said 'north' fails ('expired'), "
          'but it is a proper TLS server: a client that trusts cafile and checks the name'
          ' 127.0.0.1 completes the handshake. Decide by connecting to each server, not '
          'by its name or a fixed answer: the check breaks different servers in each '
          'round. ex.hint() gives a hint.'),
    Wrong('12-which-fails', 'a table of verify codes without 64', r'''
def which_fails(servers, cafile):
    reasons = {10: "expired", 20: "untrusted", 62: "hostname"}
    context = ssl.create_default_context(cafile=cafile)
    found = {}
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=address[0]):
                    found[name] = "ok"
        except ssl.SSLCertVerificationError as exc:
            found[name] = reasons[exc.verify_code]
        except ssl.SSLError:
            found[name] = "not tls"
    return found
''',
          'which_fails(servers, cafile) raised KeyError: 64, in your own code, while it '
          "handled a server's ssl.SSLCertVerificationError with verify_code 64 (an IP "
          "address mismatch). Turn every verify_code into a reason: 10 'expired', 20 "
          "'untrusted', 62 or 64 'hostname' (62 for a host name, 64 for an IP address "
          'such as 127.0.0.1). ex.hint() gives a hint.'),
    Wrong('12-which-fails', 'verify_code of every SSLError', r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    found = {}
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=address[0]):
                    found[name] = "ok"
        except ssl.SSLError as exc:
            if exc.verify_code == 10:
                found[name] = "expired"
            elif exc.verify_code == 20:
                found[name] = "untrusted"
            elif exc.verify_code in (62, 64):
                found[name] = "hostname"
            else:
                found[name] = "not tls"
    return found
''',
          "which_fails(servers, cafile) raised AttributeError: 'ssl.SSLError' object has "
          "no attribute 'verify_code', in your own code, while it handled a server's "
          'SSLError, which is not a verification error: that server does not speak TLS '
          "('not tls'). Only ssl.SSLCertVerificationError has a verify_code: catch it in "
          'an except of its own, before ssl.SSLError. ex.hint() gives a hint.'),
    Wrong('12-which-fails', 'no server_hostname', r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    found = {}
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw):
                    found[name] = "ok"
        except ssl.SSLCertVerificationError as exc:
            found[name] = {10: "expired", 20: "untrusted"}.get(exc.verify_code, "hostname")
        except ssl.SSLError:
            found[name] = "not tls"
    return found
''',
          'which_fails(servers, cafile) raised ValueError: check_hostname requires '
          'server_hostname. A context that checks names must be told which name to '
          'expect: context.wrap_socket(raw, server_hostname=address[0]). ex.hint() gives '
          'a hint.'),
    Wrong('12-which-fails', 'an address taken for host:port text', r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    found = {}
    for name, address in servers.items():
        host, port = address.split(":")
        try:
            with socket.create_connection((host, int(port)), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=host):
                    found[name] = "ok"
        except ssl.SSLCertVerificationError as exc:
            found[name] = {10: "expired", 20: "untrusted"}.get(exc.verify_code, "hostname")
        except ssl.SSLError:
            found[name] = "not tls"
    return found
''',
          "which_fails(servers, cafile) raised AttributeError: 'tuple' object has no "
          "attribute 'split', in your own code: connecting to a broken server raises "
          'ssl.SSLCertVerificationError or another ssl.SSLError, kinds of OSError, never '
          'AttributeError. Run your function on the practice servers to see the line it '
          'fails on. ex.hint() gives a hint.'),
    Wrong('12-which-fails', 'CERT_NONE', r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    found = {}
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=address[0]):
                    found[name] = "ok"
        except ssl.SSLCertVerificationError as exc:
            found[name] = "expired" if exc.verify_code == 10 else "untrusted"
        except ssl.SSLError:
            found[name] = "not tls"
    return found
''',
          "In round 1 of 4, which_fails(servers, cafile) said 'west' is 'ok', but a "
          'client that verifies cannot use it. Connect with '
          'ssl.create_default_context(cafile=cafile): a context with verify_mode '
          'CERT_NONE or check_hostname False accepts servers it should refuse. ex.hint() '
          'gives a hint.'),
    Wrong('12-which-fails', 'SSLError caught first', r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    found = {}
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=address[0]):
                    found[name] = "ok"
        except ssl.SSLError:
            found[name] = "not tls"
        except ssl.SSLCertVerificationError as exc:
            found[name] = "expired" if exc.verify_code == 10 else "untrusted"
    return found
''',
          "In round 1 of 4, which_fails(servers, cafile) said 'west' does not speak TLS, "
          'but it does: its certificate was refused, with ssl.SSLCertVerificationError. '
          'That error is a kind of ssl.SSLError, so an `except ssl.SSLError:` written '
          'before `except ssl.SSLCertVerificationError:` catches it first. Put the more '
          'particular one first. ex.hint() gives a hint.'),
    Wrong('12-which-fails', 'every certificate error is untrusted', r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    found = {}
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=address[0]):
                    found[name] = "ok"
        except ssl.SSLCertVerificationError:
            found[name] = "untrusted"
        except ssl.SSLError:
            found[name] = "not tls"
    return found
''',
          "In round 1 of 4, which_fails(servers, cafile) said 'west' fails because "
          "'untrusted', but that is not what its error says. ssl.SSLCertVerificationError"
          ' means a bad certificate, and its verify_code tells which: 10 expired, 20 an '
          'issuer you do not trust, 62 or 64 another name. Any other ssl.SSLError during '
          'the handshake means the server does not speak TLS. ex.hint() gives a hint.'),
    Wrong('12-which-fails', "the error's own words", r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    found = {}
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=address[0]):
                    found[name] = "ok"
        except ssl.SSLCertVerificationError as exc:
            found[name] = exc.verify_message
        except ssl.SSLError:
            found[name] = "not tls"
    return found
''',
          "In round 1 of 4, which_fails(servers, cafile) said 'west' is 'certificate has "
          "expired', which is not one of the reasons: 'ok', 'hostname', 'untrusted', "
          "'expired', 'not tls'. ex.hint() gives a hint."),
    Wrong('12-which-fails', "the plain server's error escapes", r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    found = {}
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=address[0]):
                    found[name] = "ok"
        except ssl.SSLCertVerificationError as exc:
            found[name] = {10: "expired", 20: "untrusted"}.get(exc.verify_code, "hostname")
    return found
''',
          'which_fails(servers, cafile) raised SSLError. Catch what connecting to a '
          'broken server raises (ssl.SSLCertVerificationError, ssl.SSLError), and turn it'
          " into that server's reason. ex.hint() gives a hint."),
    Wrong('12-which-fails', 'a list of the broken ones', r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    broken = []
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=address[0]):
                    pass
        except ssl.SSLError:
            broken.append(name)
    return broken
''',
          'In round 1 of 4, which_fails(servers, cafile) returned a list. Return a dict '
          "with one entry per server, its name to its reason, e.g. {'north': 'ok', "
          "'south': 'expired', 'west': 'not tls'}. ex.hint() gives a hint."),
    Wrong('12-which-fails', 'only the broken ones', r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    found = {}
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=address[0]):
                    pass
        except ssl.SSLCertVerificationError as exc:
            found[name] = {10: "expired", 20: "untrusted"}.get(exc.verify_code, "hostname")
        except ssl.SSLError:
            found[name] = "not tls"
    return found
''',
          "In round 1 of 4, which_fails(servers, cafile) returned the keys 'south', "
          "'west'. Return one entry for each server you were given, under the name it was"
          " given: 'north', 'south', 'west'. ex.hint() gives a hint."),
    Wrong('12-which-fails', "the system's CAs", r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context()
    found = {}
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=address[0]):
                    found[name] = "ok"
        except ssl.SSLCertVerificationError as exc:
            found[name] = {10: "expired", 20: "untrusted"}.get(exc.verify_code, "hostname")
        except ssl.SSLError:
            found[name] = "not tls"
    return found
''',
          "In round 1 of 4, which_fails(servers, cafile) said 'north' fails "
          "('untrusted'), but it is a proper TLS server whose certificate the CA in "
          'cafile signed. Does your context trust that CA? Make it with '
          'ssl.create_default_context(cafile=cafile). ex.hint() gives a hint.'),
    Wrong('12-which-fails', 'leaves the sockets open', r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    found = {}
    for name, address in servers.items():
        raw = socket.create_connection(address, timeout=5)
        try:
            context.wrap_socket(raw, server_hostname=address[0])
            found[name] = "ok"
        except ssl.SSLCertVerificationError as exc:
            found[name] = {10: "expired", 20: "untrusted"}.get(exc.verify_code, "hostname")
        except ssl.SSLError:
            found[name] = "not tls"
    return found
''',
          'When the check ended, your code still had 4 sockets (a TCP socket connected to'
          ' a peer, a TCP socket connected to a peer, a TCP socket connected to a peer, a'
          ' TCP socket connected to a peer) open. Close every socket you open: use '
          '`with`, or call close() in a `finally:` block; a socket kept in a list or a '
          'variable stays open until you close it. ex.hint() gives a hint.'),
]


RIGHT = [
    ("12-verify", "an SSLContext built by hand", r'''
def verified_echo(address, cafile, message):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # CERT_REQUIRED and check_hostname
    context.load_verify_locations(cafile)
    sock = context.wrap_socket(socket.create_connection(address, timeout=5),
                               server_hostname=address[0])
    try:
        sock.sendall(message.encode("utf-8"))
        reply = bytearray()
        while b"\r\n" not in reply:
            chunk = sock.recv(4)
            if not chunk:
                break
            reply += chunk
        return reply.decode("utf-8")
    finally:
        sock.close()
'''),
    ("12-which-fails", "by the verify message", r'''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    result = {}
    for name, (host, port) in servers.items():
        try:
            with context.wrap_socket(socket.create_connection((host, port), timeout=5),
                                     server_hostname=host):
                result[name] = "ok"
        except ssl.SSLCertVerificationError as exc:
            text = exc.verify_message.lower()
            if "expired" in text:
                result[name] = "expired"
            elif "mismatch" in text:
                result[name] = "hostname"
            else:
                result[name] = "untrusted"
        except (ssl.SSLError, ConnectionError):
            result[name] = "not tls"
    return result
'''),
]


@pytest.mark.parametrize("wrong", WRONG, ids=str)
def test_a_wrong_answer_gets_its_message(wrong, baseline):
    assert_not_yet(wrong, ssl=ssl)


@pytest.mark.parametrize("exercise", ["12-verify", "12-which-fails"])
def test_the_shown_solution_passes(exercise, baseline):
    assert_correct(exercise, ssl=ssl)


@pytest.mark.parametrize("exercise, name, source", RIGHT, ids=[f"{e}:{n}" for e, n, _ in RIGHT])
def test_a_right_answer_in_another_style_passes(exercise, name, source, baseline):
    assert_correct(exercise, source, ssl=ssl)


def test_every_exercise_here_has_four_wrong_answers_or_more():
    for exercise in ("12-verify", "12-which-fails"):
        assert sum(w.exercise == exercise for w in WRONG) >= 4


def test_no_fixed_answer_passes_every_round():
    # a fixed answer, or one that answers each name the same way every round, fails a round
    for name in NAMES:
        assert len({r[name] for r in ROUNDS}) >= 3 and "ok" in {r[name] for r in ROUNDS}
    assert {f for r in ROUNDS for f in r.values()} == set(FAULTS)
    assert all(ROUNDS[0][n] != PRACTICE[n] for n in NAMES)


def test_the_practice_servers_show_every_fault_before_the_check():
    # a learner can meet every case on the practice servers; the check's names are among
    # them, so a practice answer cut to the check's names is a fixed answer (see above)
    assert sorted(PRACTICE.values()) == sorted(FAULTS)
    assert set(NAMES) < set(PRACTICE)


@pytest.mark.parametrize("fault", FAULTS)
def test_answering_one_reason_for_every_server_fails(fault, baseline):
    source = f"def which_fails(servers, cafile):\n    return {{n: {fault!r} for n in servers}}\n"
    verdict = labkit.exercise("12-which-fails").check(
        __import__("catalogue").define(source, "which_fails"))
    assert verdict.status == "not yet"

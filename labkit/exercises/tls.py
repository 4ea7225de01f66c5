"""Exercises of lesson 12-tls: a client that verifies, and servers that fail to.

Each check runs the learner's code against real TLS servers on 127.0.0.1, made from the
kernel's :class:`~labkit.serving.tls.LabCertificates`:

- ``12-verify`` first asks the learner's client for an echo from a proper server that
  answers in three TLS records with pauses between them (so one recv() gets only the
  first piece) and then waits for the client to close. Then come three impostors, in a
  fixed order: a certificate for another host from the same CA, one from a CA the client
  was not told to trust, and one that expired in 2020. A client that verifies raises
  ssl.SSLCertVerificationError for each. What the learner's TLS socket was set to
  (verify_mode, check_hostname) names the mistake when it does not.
- ``12-which-fails`` starts three servers, north, south and west, each proper or broken in
  one of four ways, in four rounds whose assignments are drawn from a fixed seed: the same
  rounds on every run, different from the practice set the lesson shows (five servers, one
  per fault) at every name, and such that no fixed answer (nor one that answers each name
  the same way every round) passes. An exception from the learner's own code (a KeyError
  from a table of verify codes) is told apart from a connection's error, with the verify
  code it was handling.
"""

from __future__ import annotations

import random
import socket
import ssl
import time

from labkit.exercises.connect import outcome
from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, learner_sockets
from labkit.serving.servers import TCPServer
from labkit.serving.tls import FAULTS, PRACTICE, TLSServer, lab_certificates, tls_error
from labkit.wire.protocols import ECHO_PREFIX, echo

# -- 12-verify -----------------------------------------------------------------------

MESSAGE = "你好, TLS!"
_REPLY = f"{ECHO_PREFIX}{MESSAGE}\r\n"
_PIECES = (7, 19)  # the reply goes in three records, cut inside 欢 and inside 好


_replied: list[bool] = []  # set once the check's server has sent its whole reply


def _echo_in_pieces(conn) -> None:
    """Read the whole message, reply in three records with pauses, wait for the close."""
    want, got = len(MESSAGE.encode()), b""
    while len(got) < want:
        chunk = conn.recv(1024)
        if not chunk:
            return
        got += chunk
    reply = _REPLY.encode()
    cuts = (0, *_PIECES, len(reply))
    for start, end in zip(cuts, cuts[1:]):
        conn.sendall(reply[start:end])
        time.sleep(0.05)  # a slow peer: the next record is not there yet
    _replied.append(True)
    while conn.recv(1024):  # until the client closes (or the server's timeout)
        pass


_VERIFY = '''
def verified_echo(address, cafile, message):
    context = ssl.create_default_context(cafile=cafile)   # trusts that CA; checks names
    with socket.create_connection(address, timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=address[0]) as sock:
            sock.sendall(message.encode("utf-8"))
            reply = b""
            while not reply.endswith(b"\\r\\n"):           # the reply may come in pieces
                chunk = sock.recv(1024)
                if not chunk:
                    raise ConnectionError("the server closed before the end of its reply")
                reply += chunk
    return reply.decode("utf-8")
'''

_IMPOSTORS = (
    ("wrong_name", "a certificate from the right CA, but for the host 'impostor.example'"),
    ("untrusted", "a certificate for 127.0.0.1 signed by a CA that cafile does not hold"),
    ("expired", "a certificate for 127.0.0.1 from the right CA that expired in 2020"),
)

_CALL = "verified_echo(address, cafile, message)"
_UNTIL_CLOSE = ("Against the real server, " + _CALL + " {}. The server sent its whole reply, "
                "ending with \\r\\n, then waited for your client to close, as an echo server "
                "does: a loop that reads until recv() returns b'' waits for a close that never "
                "comes. Stop reading when the reply ends with \\r\\n.")


def _tls_sockets(since: int) -> list[ssl.SSLSocket]:
    return [s for s in learner_sockets()[since:] if isinstance(s, ssl.SSLSocket)]


@register("12-verify", title="A TLS client that verifies", solution=_VERIFY, hints=[
    "ssl.create_default_context(cafile=cafile) makes a context that trusts exactly the CA in "
    "that file, checks the certificate chain (CERT_REQUIRED) and checks the name "
    "(check_hostname). Keep those settings.",
    "Connect with socket.create_connection(address, timeout=5), then wrap the socket: "
    "context.wrap_socket(raw, server_hostname=address[0]). The handshake, and the check of "
    "the certificate, happen there.",
    "The reply ends with \\r\\n and may come in several pieces: recv() in a loop until it "
    "does. Do not catch ssl.SSLCertVerificationError: a client that refuses an impostor "
    "must let the error reach its caller.",
])
def _check_verify(verified_echo) -> str:
    lab = lab_certificates()
    _replied.clear()
    # the server waits 30 s for the client to close (stop() ends that), longer than the
    # call may take: a client that reads until the server closes never returns
    with TLSServer(_echo_in_pieces, lab.context("good"), name="check-12-verify",
                   timeout=30) as server:
        since = len(learner_sockets())
        try:
            value, error = outcome(verified_echo, server.address, lab.ca_file, MESSAGE,
                                   timeout=4, what=_CALL)
        except NotYet:
            if _replied:
                raise NotYet(_UNTIL_CLOSE.format("did not return within 4 s")) from None
            raise
        if isinstance(error, TimeoutError) and _replied:
            raise NotYet(_UNTIL_CLOSE.format(f"raised {tls_error(error)}"))
        _against_the_real_one(value, error, _tls_sockets(since))
    for which, what in _IMPOSTORS:
        with TLSServer(_echo_in_pieces, lab.context(which), name="check-12-impostor",
                       timeout=30) as server:
            since = len(learner_sockets())
            value, error = outcome(verified_echo, server.address, lab.ca_file, MESSAGE,
                                   timeout=4, what=_CALL)
            _against_an_impostor(value, error, what, _tls_sockets(since))
    return ("Your client got the echo from the real server, read in three pieces, and "
            "refused all three impostors with SSLCertVerificationError.")


def _against_the_real_one(value, error, tls) -> None:
    real = "Against the real server (its certificate, for 127.0.0.1, is signed by the CA in cafile)"
    if isinstance(error, ValueError) and "server_hostname" in str(error):
        raise NotYet(f"{real}, {_CALL} raised ValueError: {error}. A context that checks "
                     "names must be told which name to expect: "
                     "context.wrap_socket(raw, server_hostname=address[0]).")
    if isinstance(error, UnicodeDecodeError):
        raise NotYet(f"{real}, {_CALL} raised UnicodeDecodeError ({error.reason}). The "
                     "reply came in three TLS records, cut inside characters and with pauses "
                     "between them, and one recv() returns only what has arrived: your code "
                     "decoded a piece. recv() in a loop until the reply ends with \\r\\n, "
                     "then decode the whole.")
    if error is not None and not tls:
        raise NotYet(f"{real}, {_CALL} raised {tls_error(error)}. Your client spoke plain TCP "
                     "to a TLS server, which closed the connection when the first bytes were "
                     "not a TLS handshake. Wrap the socket first: "
                     "context.wrap_socket(raw, server_hostname=address[0]).")
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_code == 20:
        raise NotYet(f"{real}, {_CALL} raised {tls_error(error)}. Your context does not "
                     "trust the CA in cafile: the system's CAs never signed this certificate. "
                     "Make the context with ssl.create_default_context(cafile=cafile).")
    if error is not None:
        raise NotYet(f"{real}, {_CALL} raised {tls_error(error)}. It should return the "
                     "server's reply.")
    if not tls:
        raise NotYet(f"{real}, {_CALL} returned {value!r} without making a TLS socket. "
                     "Wrap the connection with context.wrap_socket(raw, "
                     "server_hostname=address[0]) and talk through what it returns.")
    if isinstance(value, (bytes, bytearray)):
        raise NotYet(f"{real}, {_CALL} returned bytes, {bytes(value)!r}. Return the reply as "
                     "text: reply.decode(\"utf-8\").")
    if not isinstance(value, str):
        raise NotYet(f"{real}, {_CALL} returned {value!r}. Return the server's reply, as a "
                     "str.")
    if value != _REPLY and _REPLY.startswith(value):
        raise NotYet(f"{real}, {_CALL} returned {value!r}, only the start of the reply "
                     f"{_REPLY!r}: it came in three TLS records with pauses between them, "
                     "and one recv() returns only what has arrived. recv() in a loop until the "
                     "reply ends with \\r\\n.")
    if value != _REPLY:
        raise NotYet(f"{real}, {_CALL} returned {value!r}; the server's reply was "
                     f"{_REPLY!r}. Return the reply whole, decoded from UTF-8.")


def _against_an_impostor(value, error, what, tls) -> None:
    if isinstance(error, ssl.SSLCertVerificationError):
        return
    context = tls[-1].context if tls else None
    said = (f"returned {value!r}" if error is None else f"raised {tls_error(error)}")
    head = f"Against an impostor with {what}, {_CALL} {said}"
    if context is not None and context.verify_mode == ssl.CERT_NONE:
        raise NotYet(f"{head}. Your context has verify_mode CERT_NONE, so it accepts any "
                     "certificate at all: encrypted, but to whom? Keep the defaults of "
                     "ssl.create_default_context(cafile=cafile): CERT_REQUIRED and "
                     "check_hostname True.")
    if context is not None and not context.check_hostname:
        raise NotYet(f"{head}. Your context has check_hostname False: it checks that a CA "
                     "it trusts signed the certificate, but not that the certificate is for "
                     "the host you meant, so any certificate from that CA will do. Leave "
                     "check_hostname True and pass server_hostname=address[0].")
    if error is None:
        raise NotYet(f"{head}. The handshake refused the certificate, but your code caught "
                     "the error and returned anyway, so the caller cannot tell an impostor "
                     "from an empty reply. Do not catch ssl.SSLCertVerificationError: let it "
                     "reach the caller.")
    raise NotYet(f"{head}. Refusing is right, but the caller must be able to tell why: let "
                 "ssl.SSLCertVerificationError itself reach the caller, neither caught nor "
                 "replaced by another exception.")


# -- 12-which-fails --------------------------------------------------------------------

NAMES = ("north", "south", "west")
_BROKEN = FAULTS[1:]


def _rounds(count: int = 4) -> list[dict]:
    """The check's rounds: {name: fault} each, the same on every run. Drawn from a fixed
    seed until no fixed answer can pass: each name is proper in one round at least and
    broken in two different ways, every fault appears, and round 1 differs from the
    practice set at every name."""
    rng = random.Random("12-which-fails")
    while True:
        rounds = [dict(zip(NAMES, rng.sample(FAULTS, len(NAMES)))) for _ in range(count)]
        per_name = [{r[n] for r in rounds} for n in NAMES]
        if (all("ok" in seen and len(seen - {"ok"}) >= 2 for seen in per_name)
                and {f for r in rounds for f in r.values()} == set(FAULTS)
                and all(rounds[0][n] != PRACTICE[n] for n in NAMES)):
            return rounds


ROUNDS = _rounds()

_WHICH = '''
def which_fails(servers, cafile):
    context = ssl.create_default_context(cafile=cafile)
    found = {}
    for name, address in servers.items():
        try:
            with socket.create_connection(address, timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=address[0]):
                    found[name] = "ok"               # the handshake worked
        except ssl.SSLCertVerificationError as exc:  # before SSLError: it is one too
            if exc.verify_code == 10:
                found[name] = "expired"
            elif exc.verify_code in (62, 64):        # host name or IP address mismatch
                found[name] = "hostname"
            else:                                    # 20: an issuer nobody trusts
                found[name] = "untrusted"
        except ssl.SSLError:                         # e.g. WRONG_VERSION_NUMBER
            found[name] = "not tls"
    return found
'''

_CALL_WHICH = "which_fails(servers, cafile)"
_REASONS = ", ".join(repr(f) for f in FAULTS)


def _start(fault: str, name: str):
    lab = lab_certificates()
    if fault == "not tls":
        return TCPServer(echo, name=name, timeout=5)
    cert = {"ok": "good", "hostname": "wrong_name", "untrusted": "untrusted",
            "expired": "expired"}[fault]
    return TLSServer(echo, lab.context(cert), name=name, timeout=5)


@register("12-which-fails", title="Which server fails, and why", solution=_WHICH, hints=[
    "For each server, connect with a context that verifies, "
    "ssl.create_default_context(cafile=cafile), and wrap the socket with "
    "server_hostname=address[0]. If the handshake works, the server is 'ok'.",
    "ssl.SSLCertVerificationError says the certificate is wrong; its verify_code says how: "
    "10 expired, 20 signed by an issuer you do not trust, 62 or 64 made for another name. "
    "Catch it before ssl.SSLError, which it is a kind of.",
    "A server that does not speak TLS at all answers the handshake with bytes that are not a "
    "TLS record: that is an ssl.SSLError that is not a verification error ('not tls').",
])
def _check_which_fails(which_fails) -> str:
    lab = lab_certificates()
    for number, faults in enumerate(ROUNDS, 1):
        servers = {}
        try:
            for name in NAMES:
                servers[name] = _start(faults[name], f"check-12-{name}")
            addresses = {name: server.address for name, server in servers.items()}
            answer = _call_which(which_fails, addresses, lab.ca_file)
        finally:
            for server in servers.values():
                server.stop()
        _compare(number, faults, answer)
    return (f"You told every server's fault in all {len(ROUNDS)} rounds, each with a "
            "different set of broken servers.")


_MEANING = {10: "the certificate has expired", 20: "an issuer the client does not trust",
            62: "a host name mismatch", 64: "an IP address mismatch"}
_CODES = ("Turn every verify_code into a reason: 10 'expired', 20 'untrusted', 62 or 64 "
          "'hostname' (62 for a host name, 64 for an IP address such as 127.0.0.1).")


def _call_which(which_fails, addresses, cafile):
    value, error = outcome(which_fails, dict(addresses), cafile, timeout=10, what=_CALL_WHICH)
    if error is None:
        return value
    if isinstance(error, OSError):
        # the type only: OpenSSL's reason for a server that is not TLS differs by version
        raise NotYet(f"{_CALL_WHICH} raised {type(error).__name__}. Catch what connecting to "
                     "a broken server raises (ssl.SSLCertVerificationError, ssl.SSLError), and "
                     "turn it into that server's reason.")
    if isinstance(error, ValueError) and "server_hostname" in str(error):
        raise NotYet(f"{_CALL_WHICH} raised ValueError: {error}. A context that checks names "
                     "must be told which name to expect: "
                     "context.wrap_socket(raw, server_hostname=address[0]).")
    said, handled = _own_error(error, addresses), error.__context__
    if isinstance(handled, ssl.SSLCertVerificationError):
        code = handled.verify_code
        meaning = f" ({_MEANING[code]})" if code in _MEANING else ""
        raise NotYet(f"{_CALL_WHICH} raised {said}, in your own code, while it handled a "
                     "server's ssl.SSLCertVerificationError with verify_code "
                     f"{code}{meaning}. {_CODES}")
    if isinstance(handled, OSError):
        raise NotYet(f"{_CALL_WHICH} raised {said}, in your own code, while it handled a "
                     f"server's {type(handled).__name__}, which is not a verification "
                     "error: that server does not speak TLS ('not tls'). Only "
                     "ssl.SSLCertVerificationError has a verify_code: catch it in an except "
                     "of its own, before ssl.SSLError.")
    raise NotYet(f"{_CALL_WHICH} raised {said}, in your own code: connecting to a broken "
                 "server raises ssl.SSLCertVerificationError or another ssl.SSLError, kinds "
                 f"of OSError, never {type(error).__name__}. Run your function on the practice "
                 "servers to see the line it fails on.")


def _own_error(error, addresses) -> str:
    """The learner's exception in one line; its type alone if the text holds a port."""
    text = tls_error(error)
    ports = {str(address[1]) for address in addresses.values()}
    return type(error).__name__ if any(port in text for port in ports) else text


def _compare(number: int, faults: dict, answer) -> None:
    where = f"In round {number} of {len(ROUNDS)}, {_CALL_WHICH}"
    if not isinstance(answer, dict):
        raise NotYet(f"{where} returned {_kind(answer)}. Return a dict with one entry per "
                     f"server, its name to its reason, e.g. {{'north': 'ok', 'south': "
                     f"'expired', 'west': 'not tls'}}.")
    if answer == PRACTICE:
        raise NotYet(f"{where} returned the practice servers' faults. The check's servers are "
                     "new ones, broken differently in each round: decide by connecting to each "
                     "server in servers, not by a fixed answer.")
    if set(answer) != set(NAMES):
        keys = ", ".join(repr(k) for k in sorted(answer, key=repr)) or "none"
        raise NotYet(f"{where} returned the keys {keys}. Return one entry for each server "
                     "you were given, under the name it was given: 'north', 'south', 'west'.")
    for name in NAMES:
        said, truth = answer[name], faults[name]
        if said not in FAULTS:
            raise NotYet(f"{where} said {name!r} is {said!r}, which is not one of the "
                         f"reasons: {_REASONS}.")
        if said == truth:
            continue
        if said == "ok":
            raise NotYet(f"{where} said {name!r} is 'ok', but a client that verifies cannot "
                         "use it. Connect with ssl.create_default_context(cafile=cafile): a "
                         "context with verify_mode CERT_NONE or check_hostname False accepts "
                         "servers it should refuse.")
        if truth == "ok" and said == "untrusted":
            raise NotYet(f"{where} said {name!r} fails ('untrusted'), but it is a proper TLS "
                         "server whose certificate the CA in cafile signed. Does your context "
                         "trust that CA? Make it with ssl.create_default_context(cafile=cafile).")
        if truth == "ok":
            raise NotYet(f"{where} said {name!r} fails ({said!r}), but it is a proper TLS "
                         "server: a client that trusts cafile and checks the name 127.0.0.1 "
                         "completes the handshake. Decide by connecting to each server, not "
                         "by its name or a fixed answer: the check breaks different servers "
                         "in each round.")
        if said == "not tls":
            raise NotYet(f"{where} said {name!r} does not speak TLS, but it does: its "
                         "certificate was refused, with ssl.SSLCertVerificationError. That "
                         "error is a kind of ssl.SSLError, so an `except ssl.SSLError:` written "
                         "before `except ssl.SSLCertVerificationError:` catches it first. Put "
                         "the more particular one first.")
        raise NotYet(f"{where} said {name!r} fails because {said!r}, but that is not what "
                     "its error says. ssl.SSLCertVerificationError means a bad certificate, "
                     "and its verify_code tells which: 10 expired, 20 an issuer you do not "
                     "trust, 62 or 64 another name. Any other ssl.SSLError during the "
                     "handshake means the server does not speak TLS.")


def _kind(value) -> str:
    if isinstance(value, socket.socket):
        return "a socket"
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"

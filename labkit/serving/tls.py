"""TLS for lesson 12: certificates made on the spot, contexts, and TLS servers in threads.

    folder = labkit.tls_folder()                    # a temporary folder this kernel owns
    ca = trustme.CA()                               # a certificate authority, in memory
    cert = ca.issue_cert("localhost", "127.0.0.1")  # the server's certificate
    server = labkit.serve_tls(labkit.echo, labkit.server_context(cert))
    ca_file = labkit.save_ca(ca, folder)            # what a client trusts
    labkit.tls_echo_client(server, "你好", cafile=ca_file)   # '欢迎访问>>>>你好\\r\\n'

Theory of operation
-------------------
A :class:`TLSServer` is a :class:`~labkit.serving.servers.TCPServer` whose handler first wraps
the accepted socket with the server's :class:`ssl.SSLContext` and does the handshake
(with its own short timeout), then runs the lesson's ordinary handler, e.g.
:func:`labkit.echo`, on the encrypted connection. A handshake that fails is the
client's doing: it is logged ("handshake failed" with OpenSSL's reason, which does not
change from run to run), never raised. ``server_side`` can be set to False, to show
the server that forgot it.

Decrypted bytes can wait inside the SSL object where ``select()`` does not see them;
so a TLS connection asks ``pending()`` before it waits for the socket.

:func:`tls_error` turns an exception from a TLS client into one short line that is the
same on every run: its type and OpenSSL's verify message or reason, without the
``(_ssl.c:1006)`` that changes from one Python build to the next.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import shutil
import socket
import ssl
import tempfile
import threading
from pathlib import Path

from labkit.serving.base import LOOPBACK, SERVERS
from labkit.serving.clients import connect
from labkit.serving.servers import Connection, TCPServer
from labkit.wire.protocols import ECHO_PREFIX, echo

__all__ = ["tls_folder", "save_ca", "server_context", "client_context", "TLSServer",
           "serve_tls", "tls_echo_client", "tls_error", "expired_cert", "LabCertificates",
           "lab_certificates", "serve_misconfigured", "FAULTS", "echo_reply"]

_folders: list[str] = []
_folder_lock = threading.Lock()


def tls_folder() -> Path:
    """A temporary folder this kernel owns, for certificate files; removed when it exits.

    The same folder on every call in one process, so re-running a cell writes over the
    old files instead of making new folders.

    >>> folder = tls_folder()
    >>> folder == tls_folder(), folder.is_dir()
    (True, True)
    """
    with _folder_lock:
        if not _folders or not os.path.isdir(_folders[0]):
            _folders[:] = [tempfile.mkdtemp(prefix="labkit-tls-")]
            atexit.register(shutil.rmtree, _folders[0], True)
        return Path(_folders[0])


def save_ca(ca, folder=None, name: str = "ca.pem") -> str:
    """Write a trustme CA's certificate (what a client trusts) to *folder*/*name*; its path.

    >>> import trustme
    >>> path = save_ca(trustme.CA(), name="doc-ca.pem")
    >>> open(path).readline().strip()
    '-----BEGIN CERTIFICATE-----'
    """
    path = Path(folder or tls_folder()) / name
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(cert) -> ssl.SSLContext:
    """A server's context holding *cert*: a trustme LeafCert, or the path of a PEM file
    with the certificate chain and the private key.

    >>> import trustme
    >>> server_context(trustme.CA().issue_cert("localhost")).protocol.name
    'PROTOCOL_TLS_SERVER'
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if isinstance(cert, (str, os.PathLike)):
        context.load_cert_chain(cert)
    else:
        cert.configure_cert(context)
    return context


def client_context(cafile) -> ssl.SSLContext:
    """A client's context that trusts the CA in *cafile* only, and checks names.

    >>> import ssl, trustme
    >>> context = client_context(save_ca(trustme.CA(), name="doc-ca.pem"))
    >>> context.check_hostname, context.verify_mode == ssl.CERT_REQUIRED
    (True, True)
    """
    return ssl.create_default_context(cafile=str(cafile))


def expired_cert(ca, *names: str):
    """A certificate from *ca* for *names* that expired long ago (valid for one day in 2020).

    >>> import trustme
    >>> from labkit import echo
    >>> ca = trustme.CA()
    >>> with serve_tls(echo, server_context(expired_cert(ca, "127.0.0.1"))) as server:
    ...     try:
    ...         tls_echo_client(server, "你好", cafile=save_ca(ca, name="doc-ca.pem"))
    ...     except ssl.SSLCertVerificationError as exc:
    ...         print(tls_error(exc))
    SSLCertVerificationError: verify_code 10: certificate has expired
    """
    return ca.issue_cert(*names, not_before=datetime.datetime(2020, 1, 1),
                         not_after=datetime.datetime(2020, 1, 2))


def tls_error(exc: BaseException) -> str:
    """One line that says what went wrong in a TLS client, the same on every run.

    >>> import ssl
    >>> tls_error(ConnectionResetError(104, "Connection reset by peer"))
    'ConnectionResetError: Connection reset by peer'
    """
    name = type(exc).__name__
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{name}: verify_code {exc.verify_code}: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError) and getattr(exc, "reason", None):
        return f"{name}: {exc.reason}"
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    text = text.split(" (_ssl.c:")[0]  # where in CPython's C code: differs between builds
    return f"{name}: {text}" if text else name


class _TLSConnection(Connection):
    """A Connection whose socket is an SSLSocket: bytes may wait, decrypted, in the SSL
    object, where select() cannot see them."""

    def _wait_readable(self) -> None:
        pending = getattr(self.sock, "pending", None)
        if pending is not None and self.sock.fileno() >= 0 and pending():
            return
        super()._wait_readable()


class TLSServer(TCPServer):
    """A TCP server that speaks TLS: each connection is wrapped with *context*, then
    *handler(conn)* runs on it as on a plain one.

    >>> import trustme
    >>> ca = trustme.CA()
    >>> context = server_context(ca.issue_cert("127.0.0.1"))
    >>> with TLSServer(echo, context) as server:
    ...     tls_echo_client(server, "你好", cafile=save_ca(ca))
    '欢迎访问>>>>你好\\r\\n'

    *server_side=False* makes the mistake of lesson 12: the server wraps its socket as a
    client would. A failed handshake is logged as "handshake failed" with its reason.
    """

    def __init__(self, handler, context: ssl.SSLContext, *, server_side: bool = True,
                 handshake_timeout: float = 5.0, host: str = LOOPBACK, port: int = 0,
                 timeout: float = 60.0, name: str | None = None, max_connections: int = 256):
        self.context, self.server_side = context, server_side
        self.handshake_timeout = handshake_timeout
        self.inner = handler
        super().__init__(self._over_tls, host=host, port=port, timeout=timeout,
                         name=name or f"tls-{getattr(handler, '__name__', 'server')}",
                         max_connections=max_connections)

    def _over_tls(self, conn: Connection) -> None:
        conn.__class__ = _TLSConnection  # same state; only _wait_readable differs
        if not self.server_side:
            # The mistake fails before a byte moves. Wait for the client's hello first, so
            # that it is unread when we close: the client then always sees a reset, not a
            # reset on one run and an end of stream on the next.
            conn._wait_readable()
        try:
            tls = self.context.wrap_socket(conn.sock, server_side=self.server_side,
                                           do_handshake_on_connect=False)
        except (ssl.SSLError, ValueError) as exc:
            conn.log("handshake failed", tls_error(exc))
            return
        conn.sock = tls  # from here stop() shuts down the TLS socket's descriptor
        try:
            tls.settimeout(self.handshake_timeout)
            tls.do_handshake()
        except (OSError, ValueError) as exc:
            if not conn.stopping:
                conn.log("handshake failed", tls_error(exc))
            return
        tls.settimeout(self.timeout)
        conn.log("handshake done", tls.version() or "")
        self.inner(conn)

    def _interrupt(self) -> None:
        with self._lock:
            conns = list(self.connections.values())
        for conn in conns:
            # the plain socket's shutdown: SSLSocket.shutdown() would also drop the SSL
            # object under a handler that is about to read from it (a ValueError, not EOF)
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn.sock, socket.SHUT_RDWR)


def serve_tls(handler, context: ssl.SSLContext, *, name: str | None = None,
              server_side: bool = True, host: str = LOOPBACK, port: int = 0,
              timeout: float = 60.0) -> TLSServer:
    """Start a :class:`TLSServer`, replacing any server of the same name (re-running a
    cell is safe). The name defaults to "tls-" and the handler's name, e.g. "tls-echo".

    >>> import trustme
    >>> from labkit import echo
    >>> ca = trustme.CA()
    >>> with serve_tls(echo, server_context(ca.issue_cert("127.0.0.1"))) as server:
    ...     server.name
    ...     tls_echo_client(server, "你好", cafile=save_ca(ca, name="doc-ca.pem"))
    'tls-echo'
    '欢迎访问>>>>你好\\r\\n'
    """
    name = name or f"tls-{getattr(handler, '__name__', 'server')}"
    return SERVERS.replace(name, lambda: TLSServer(handler, context, server_side=server_side,
                                            host=host, port=port, timeout=timeout, name=name))


def tls_echo_client(target, message: str, *, cafile=None, context=None,
                    server_hostname: str | None = None, timeout: float = 5.0) -> str:
    """Lesson 04's echo client over TLS: send *message*, read up to the reply's ``\\r\\n``.

    The context is *context*, or one that trusts *cafile*; the name checked is
    *server_hostname*, by default the host connected to.

    >>> import trustme
    >>> from labkit import echo
    >>> ca = trustme.CA()
    >>> with serve_tls(echo, server_context(ca.issue_cert("127.0.0.1"))) as server:
    ...     try:
    ...         tls_echo_client(server, "你好", cafile=save_ca(ca, name="doc-ca.pem"),
    ...                         server_hostname="example.org")
    ...     except ssl.SSLCertVerificationError as exc:
    ...         print(tls_error(exc))
    SSLCertVerificationError: verify_code 62: Hostname mismatch, certificate is not valid for 'example.org'.
    """
    if context is None:
        context = client_context(cafile) if cafile else ssl.create_default_context()
    with connect(target, timeout=timeout) as raw:
        host = raw.getpeername()[0] if server_hostname is None else server_hostname
        with context.wrap_socket(raw, server_hostname=host) as sock:
            sock.sendall(message.encode("utf-8"))
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
            return reply.decode("utf-8", errors="replace")


class LabCertificates:
    """The certificates the lesson's checks and broken servers use, made once per kernel.

    ``ca_file`` is the CA a client should trust. ``good`` is valid for localhost and
    127.0.0.1; ``wrong_name`` is from the same CA for another host; ``untrusted`` is valid
    for 127.0.0.1 but from a CA nobody trusts; ``expired`` expired in 2020.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:   # not the kernel's own set
    ...     lab = LabCertificates(folder)
    ...     lab.ca_file.endswith("lab-ca.pem"), lab.context("good").protocol.name
    (True, 'PROTOCOL_TLS_SERVER')
    """

    def __init__(self, folder=None):
        import trustme  # only lesson 12 needs it

        self.ca, self.stranger = trustme.CA(), trustme.CA()
        self.ca_file = save_ca(self.ca, folder, "lab-ca.pem")
        self.good = self.ca.issue_cert("localhost", "127.0.0.1")
        self.wrong_name = self.ca.issue_cert("impostor.example")
        self.untrusted = self.stranger.issue_cert("localhost", "127.0.0.1")
        self.expired = expired_cert(self.ca, "localhost", "127.0.0.1")

    def context(self, which: str) -> ssl.SSLContext:
        """A server context with certificate *which* ("good", "wrong_name", ...)."""
        return server_context(getattr(self, which))


_lab: list[LabCertificates] = []


def lab_certificates() -> LabCertificates:
    """The kernel's :class:`LabCertificates` (made at the first call).

    >>> lab_certificates() is lab_certificates()
    True
    """
    with _folder_lock:
        if _lab and os.path.exists(_lab[0].ca_file):
            return _lab[0]
    made = LabCertificates()
    with _folder_lock:
        _lab[:] = [made]
    return made


def echo_reply(message: str) -> str:
    """What the echo server answers to *message*.

    >>> echo_reply("你好")
    '欢迎访问>>>>你好\\r\\n'
    """
    return f"{ECHO_PREFIX}{message}\r\n"


# -- servers, some broken: lesson 12's second exercise ---------------------------

FAULTS = ("ok", "hostname", "untrusted", "expired", "not tls")
_CERT_OF = {"ok": "good", "hostname": "wrong_name", "untrusted": "untrusted",
            "expired": "expired"}
# one server per fault; north, south and west differ from round 1 of the check
PRACTICE = {"north": "expired", "south": "ok", "west": "not tls", "east": "hostname",
            "centre": "untrusted"}


def serve_misconfigured(faults=None, *, prefix: str = "which") -> dict:
    """Start one echo server per name in *faults* ({name: fault}), each broken as told;
    return {name: server}. Faults are those of ``FAULTS``: "ok" (a proper TLS server),
    "hostname" (its certificate names another host), "untrusted" (signed by a CA the
    client does not trust), "expired", "not tls" (a plain TCP echo server).

    Without *faults*, the practice set of the lesson: five servers, one per fault.
    Servers of the same names are replaced, so re-running a cell is safe.

    >>> servers = serve_misconfigured({"east": "ok", "west": "not tls"})
    >>> tls_echo_client(servers["east"], "hi", cafile=lab_certificates().ca_file)
    '欢迎访问>>>>hi\\r\\n'
    >>> for server in servers.values():
    ...     _ = server.stop()
    """
    faults = dict(PRACTICE if faults is None else faults)
    unknown = sorted(set(faults.values()) - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown fault {unknown[0]!r}; known: {', '.join(FAULTS)}")
    lab = lab_certificates()
    servers = {}
    try:
        for name, fault in faults.items():
            full = f"{prefix}-{name}"
            if fault == "not tls":
                servers[name] = SERVERS.replace(full, lambda full=full: TCPServer(echo, name=full))
            else:
                context = lab.context(_CERT_OF[fault])
                servers[name] = serve_tls(echo, context, name=full)
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers

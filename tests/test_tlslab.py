"""labkit.serving.tls: certificates in a temporary folder, the TLS server in a thread, the five
newcomer failures with their stable messages, the misconfigured servers; cleanup."""

import random
import socket
import ssl
import time

import pytest
import trustme
from hypothesis import example, given, settings
from hypothesis import strategies as st

import labkit
from labkit.exercises.connect import tcp_pair
from labkit.serving.tls import (FAULTS, TLSServer, expired_cert, lab_certificates,
                           serve_misconfigured, server_context, tls_echo_client, tls_error)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca):
    return labkit.serving.save_ca(ca)


@pytest.fixture(scope="module")
def context(ca):
    return server_context(ca.issue_cert("localhost", "127.0.0.1"))


def test_the_folder_is_one_temporary_folder_and_holds_the_ca(ca_file):
    folder = labkit.serving.tls_folder()
    assert folder == labkit.serving.tls_folder() and folder.is_dir()
    assert ca_file.startswith(str(folder))
    assert open(ca_file).read().startswith("-----BEGIN CERTIFICATE-----")


def test_the_echo_works_over_tls_and_the_server_stops_cleanly(baseline, context, ca_file):
    server = TLSServer(labkit.echo, context)
    assert tls_echo_client(server, "你好", cafile=ca_file) == "欢迎访问>>>>你好\r\n"
    assert server.log().kinds(1) == ["connected", "handshake done", "received", "sent",
                                     "end of stream", "closed"]
    started = time.monotonic()
    server.stop()
    server.stop()
    assert time.monotonic() - started < 0.5 and server.sock.fileno() == -1


def test_stop_ends_a_connection_waiting_after_its_handshake(baseline, context, ca_file):
    server = TLSServer(labkit.echo, context)
    with socket.create_connection(server.address, timeout=5) as raw:
        client = ssl.create_default_context(cafile=ca_file)
        with client.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(b"hi")
            assert sock.recv(100) == "欢迎访问>>>>hi\r\n".encode()
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 0.5
            assert server.errors == []  # the handler saw the end of its stream, not a bug
            assert "threads still running" not in str(server.events)


def _mirror(conn):
    """Send back every byte, read 1024 at a time (as the seed's server reads)."""
    while data := conn.recv(1024):
        conn.sendall(data)


@settings(max_examples=10, deadline=None)
@given(size=st.integers(min_value=1, max_value=40_000), seed=st.integers(0, 2**16))
@example(size=40_000, seed=0)  # three records, the last one 7,232 bytes: 1024 read, the rest waits
def test_bytes_waiting_inside_the_ssl_object_are_read_without_waiting(size, seed):
    data = random.Random(seed).randbytes(size)
    # a record holds up to 16 KiB; the server reads 1024 bytes of it, and the rest waits in
    # the SSL object, where select() cannot see it: without pending() the server would stall
    ca = trustme.CA()
    context = server_context(ca.issue_cert("127.0.0.1"))
    with TLSServer(_mirror, context) as server:
        with socket.create_connection(server.address, timeout=5) as raw:
            client = ssl.create_default_context(cafile=labkit.serving.save_ca(ca, name="h.pem"))
            with client.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                sock.sendall(data)
                got = b""
                while len(got) < len(data):
                    chunk = sock.recv(65536)
                    assert chunk, "the server closed early"
                    got += chunk
                assert got == data


def test_each_newcomer_failure_has_a_stable_message(baseline, ca, context, ca_file):
    def failure(**kwargs):
        with pytest.raises(OSError) as caught:
            tls_echo_client(server, "你好", **kwargs)
        return tls_error(caught.value)

    with TLSServer(labkit.echo, context) as server:
        assert failure(cafile=ca_file, server_hostname="example.org") == (
            "SSLCertVerificationError: verify_code 62: Hostname mismatch, certificate is not "
            "valid for 'example.org'.")
        assert failure(context=ssl.create_default_context()) == (
            "SSLCertVerificationError: verify_code 20: unable to get local issuer certificate")
    with TLSServer(labkit.echo, server_context(expired_cert(ca, "127.0.0.1"))) as server:
        assert failure(cafile=ca_file) == (
            "SSLCertVerificationError: verify_code 10: certificate has expired")
    with TLSServer(labkit.echo, context, server_side=False) as server:
        assert failure(cafile=ca_file) == "ConnectionResetError: Connection reset by peer"
        assert server.log().kinds(1) == ["connected", "handshake failed", "closed"]
    with TLSServer(labkit.echo, context) as server:
        with socket.create_connection(server.address, timeout=5) as plain:
            plain.sendall("你好, TLS!".encode())
            with pytest.raises(ConnectionResetError):
                plain.recv(100)
        failed = [e.detail for e in server.log() if e.kind == "handshake failed"]
        assert len(failed) == 1 and failed[0].startswith("SSLError: ")


def test_tls_error_drops_the_c_source_line(context):
    with tcp_pair() as (_, sock), pytest.raises(ssl.SSLError) as caught:
        context.wrap_socket(sock)  # server_side=True forgotten
    assert "(_ssl.c:" in str(caught.value)
    assert tls_error(caught.value) == \
        "SSLError: Cannot create a client socket with a PROTOCOL_TLS_SERVER context"
    assert tls_error(ValueError("check_hostname requires server_hostname")) == \
        "ValueError: check_hostname requires server_hostname"


def test_the_misconfigured_servers_fail_as_named(baseline):
    lab = lab_certificates()
    faults = dict(zip(["a", "b", "c", "d", "e"], FAULTS))
    servers = serve_misconfigured(faults, prefix="test")
    try:
        seen = {}
        for name, server in servers.items():
            try:
                tls_echo_client(server, "hi", cafile=lab.ca_file)
                seen[name] = "ok"
            except ssl.SSLCertVerificationError as exc:
                seen[name] = {10: "expired", 20: "untrusted", 64: "hostname"}[exc.verify_code]
            except ssl.SSLError:  # WRONG_VERSION_NUMBER on OpenSSL 3.0; worded otherwise later
                seen[name] = "not tls"
        assert seen == faults
    finally:
        labkit.stop_all()


def test_an_unknown_fault_is_refused_before_anything_starts(baseline):
    with pytest.raises(ValueError, match="unknown fault 'broken'"):
        serve_misconfigured({"a": "broken"})
    assert labkit.running() == []

"""labkit.programs.langs and the seed's Java and PHP programs, talking to Python both ways.

Java and PHP are installed in CI; elsewhere the tests that need them are skipped
with the reason. The seed's servers are started on port 0 here (they print the
port they got), so the tests never collide with a notebook on 6666 or 65533.
"""

import datetime
import functools
import re
import socket
import subprocess
import sys

import pytest

import labkit
from labkit.programs import langs
from labkit.errors import LabTimeoutError, ProgramExitedError, RuntimeMissingError
from labkit.serving.servers import TCPServer
from support import read_all, wait_read_by_peer
from testpolicy import strict

pytestmark = pytest.mark.timeout(60)

READY = "等待远程连接"  # the seed's GreetingServer prints it before each accept()
UNICODE = ["你好", "A\x00B", "😀", "服务端消息: 🎉 and ASCII", "", "\x00", "é" * 100, "𝄞\U0010ffff"]


def _missing(name):
    try:
        langs.find_runtime(name)
    except RuntimeMissingError as exc:
        return str(exc)
    return None


# .ci/run installs both runtimes: there a missing one fails the tests (with the install
# hint) instead of skipping them, as the root conftest.py does for the notebook.
needs_java = pytest.mark.skipif(bool(_missing("java")) and not strict(),
                                reason=f"needs Java: {_missing('java')}")
needs_php = pytest.mark.skipif(bool(_missing("php")) and not strict(),
                               reason=f"needs PHP: {_missing('php')}")


@pytest.fixture
def clean(baseline):
    """The resource baseline, plus: no program left running or registered."""
    yield baseline
    assert langs.stop_programs() == 0, "a test left a program running"
    assert langs.running_programs() == []


def java_reply(port):
    return f"谢谢连接我:/127.0.0.1:{port}\nGoodbye!"


def cli(*args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "labkit", *args], input=stdin,
                          capture_output=True, timeout=30)


# --- finding runtimes ------------------------------------------------------------------


def test_a_missing_runtime_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(langs.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeMissingError, match="apt-get install default-jdk-headless"):
        langs.find_runtime.__wrapped__("java")
    with pytest.raises(RuntimeMissingError, match="apt-get install php-cli"):
        langs.find_runtime.__wrapped__("php")


def test_php_without_sockets_and_an_old_java_are_refused(monkeypatch):
    monkeypatch.setattr(langs.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(langs, "_version", lambda argv, pattern: None)
    with pytest.raises(RuntimeMissingError, match="without the sockets extension"):
        langs.find_runtime.__wrapped__("php")
    monkeypatch.setattr(langs, "_version", lambda argv, pattern: "1.8.0_392")
    with pytest.raises(RuntimeMissingError, match="Java 1.8.0_392; lesson 09 needs Java 11"):
        langs.find_runtime.__wrapped__("java")


@pytest.mark.parametrize("version, major", [
    ("1.8.0_392", 8), ("11.0.21", 11), ("17.0.15", 17), ("21", 21), ("22-ea", 22), ("", None),
])
def test_java_major_version(version, major):
    assert langs._java_major(version) == major


def test_a_found_runtime_shows_no_machine_specific_detail():
    assert repr(langs.Runtime("java", "/opt/jdk/bin/java", "21.0.1", None)) == "java: found (11 or newer)"
    assert repr(langs.Runtime("php", "/usr/bin/php", "8.2.1")) == "php: found (with sockets)"


# --- programs, in general (Python children, no Java or PHP needed) ------------------------


def python_program(code):
    return [sys.executable, "-c", code]


def test_a_program_is_ready_when_it_says_so_and_its_output_is_kept(clean):
    code = "import sys,time; print('oops', file=sys.stderr, flush=True); print('booting'); " \
           "print('ready on 1234', flush=True); print('你好\\x00', flush=True); time.sleep(30)"
    with langs.Program(python_program(code), name="child", ready="ready") as program:
        assert program.ready_line == "ready on 1234" and program.port == 1234
        assert program.wait_output("你好") == "你好\x00"
        assert repr(program.new_output()) == "(no output)"
        assert program.stdout == "booting\nready on 1234\n你好\x00"
        assert repr(langs.Output(program.stdout)).endswith("你好\\x00")
        assert program.running
    assert program.returncode is not None and not program.running
    assert program.stderr == "oops"


def test_no_shell_is_involved(clean):
    done = langs.run_program(python_program("import sys; print(sys.argv[1:])") + ["$(echo hi)", "a b;c"])
    assert done.stdout == "['$(echo hi)', 'a b;c']" and done.returncode == 0


def test_a_program_that_never_gets_ready_is_stopped(clean):
    # 3 s, not less: the message names what the program printed, and on a busy machine
    # (tests run in parallel) Python may take more than a second to print anything
    with pytest.raises(LabTimeoutError, match="(?s)did not print 'ready' within 3 s.*stdout: hello"):
        langs.start_program(python_program("import time; print('hello', flush=True); time.sleep(30)"),
                            name="slow", ready="ready", timeout=3)
    assert langs.running_programs() == []


def test_a_program_that_dies_before_it_is_ready_says_why(clean):
    code = "import sys; print('Address already in use', file=sys.stderr); sys.exit(3)"
    with pytest.raises(ProgramExitedError,
                       match=r"(?s)exited \(exit code 3\).*stderr:\nAddress already in use"):
        langs.start_program(python_program(code), name="dies", ready="ready")


def test_stop_kills_a_program_that_ignores_sigterm(clean):
    code = ("import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(30)")
    program = langs.start_program(python_program(code), name="stubborn", ready="ready")
    assert program.stop(timeout=0.3) == -9
    assert program.stop() == -9  # idempotent
    assert langs.running_programs() == []


def test_starting_a_program_again_replaces_the_old_one(clean):
    argv = python_program("import time; print('ready', flush=True); time.sleep(30)")
    first = langs.start_program(argv, name="same", ready="ready")
    second = langs.start_program(argv, name="same", ready="ready")
    assert not first.running and second.running
    assert langs.running_programs() == [second]
    assert langs.stop_programs() == 1 and not second.running


def test_run_program_kills_an_overrunning_program(clean):
    with pytest.raises(LabTimeoutError, match="still running after 0.3 s"):
        langs.run_program(python_program("import time; time.sleep(30)"), timeout=0.3)


def test_output_is_utf8_with_bad_bytes_replaced(clean):
    code = "import sys; sys.stdout.buffer.write(b'ok \\xe4\\xbd\\xa0 \\xff\\n')"
    done = langs.run_program(python_program(code))
    assert done.stdout == "ok 你 \ufffd"


def test_a_finished_program_shows_its_output_stderr_and_status():
    done = langs.Finished(["x"], 1, langs.Output("out"), langs.Output("err"))
    assert repr(done) == "out\n[stderr]\nerr\n[exit status 1]"
    assert repr(langs.Finished(["x"], 0, langs.Output(""), langs.Output(""))) == "(no output)"


# --- writeUTF, explained -------------------------------------------------------------------


def test_explain_utf_byte_by_byte():
    assert langs.explain_utf("A\x00😀") == (
        "00 09              length: 9 bytes follow\n"
        "41                 'A'\n"
        "c0 80              '\\x00' U+0000 as two bytes (UTF-8 would send 00)\n"
        "ed a0 bd ed b8 80  '😀' U+1F600: two 3-byte surrogates (UTF-8 would send f0 9f 98 80)")


def test_show_changes_lists_the_marked_lines():
    assert langs.show_changes("GreetingClient.java").startswith("(no line is marked CHANGED")
    changed = langs.show_changes("server.php")
    assert changed.count("CHANGED:") == 4 and "SO_REUSEADDR" in changed
    assert "getLoopbackAddress" in langs.show_changes("GreetingServer.java")


# --- the seed's Java programs -----------------------------------------------------------------


@pytest.fixture
def java_server(clean):
    with langs.start_java("GreetingServer.java", 0, name="test-java", ready=READY) as server:
        yield server


@needs_java
def test_python_client_and_the_seeds_java_server_any_unicode(java_server):
    port = java_server.port
    for text in UNICODE:
        assert labkit.greeting_client(("127.0.0.1", port), text) == java_reply(port)
        lines = java_server.wait_output(READY).split("\n")
        assert re.fullmatch(r"远程主机地址:/127\.0\.0\.1:\d+", lines[0])
        assert "\n".join(lines[1:-1]) == text  # what Java's readUTF returned, printed as UTF-8
    assert java_server.running


@needs_java
def test_the_seeds_java_server_answers_with_exact_write_utf_bytes(java_server):
    wire = b"\x00\x09" + b"A" + b"\xc0\x80" + b"\xed\xa0\xbd\xed\xb8\x80"  # writeUTF("A\x00😀")
    assert labkit.encode_utf("A\x00😀") == wire
    with socket.create_connection(("127.0.0.1", java_server.port), timeout=5) as s:
        s.sendall(wire[:-1])
        s.sendall(wire[-1:])
        assert read_all(s) == labkit.encode_utf(java_reply(java_server.port))
    assert java_server.wait_output(READY).split("\n")[1] == "A\x00😀"


@needs_java
def test_cli_greeting_client_against_the_seeds_java_server(java_server):
    port = str(java_server.port)
    done = cli("client", "greeting", "--host", "127.0.0.1", "--port", port, "你好 😀 Java")
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout.decode() == java_reply(port) + "\n"
    assert java_server.wait_output(READY).split("\n")[1] == "你好 😀 Java"
    # argv cannot hold U+0000: "-" sends stdin, exactly
    done = cli("client", "greeting", "--port", port, "-", stdin="零\x00😀\n第二行".encode())
    assert done.returncode == 0 and done.stdout.decode() == java_reply(port) + "\n"
    assert java_server.wait_output(READY).split("\n")[1:-1] == ["零\x00😀", "第二行"]


@needs_java
def test_the_seeds_java_server_quits_on_a_probe_and_on_standard_utf8(clean):
    server = langs.start_java("GreetingServer.java", 0, name="test-java", ready=READY)
    socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    assert server.wait(5) == 0 and server.stderr.splitlines()[0] == "java.io.EOFException"
    server = langs.start_java("GreetingServer.java", 0, name="test-java", ready=READY)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(labkit.encode_frame("😀".encode(), header=2))
        assert read_all(s) == b""
    assert server.wait(5) == 0
    assert server.stderr.splitlines()[0] == \
        "java.io.UTFDataFormatException: malformed input around byte 0"
    server.stop()


@needs_java
def test_the_fixed_java_server_survives_what_kills_the_seeds(clean):
    with langs.start_java("GreetingServerFixed.java", 0, name="test-java", ready=READY) as server:
        port = server.port
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"\x00\x02\xff\xfe")
            assert read_all(s) == b""
        assert labkit.greeting_client(("127.0.0.1", port), "还在吗?") == java_reply(port)
        out = server.wait_output("还在吗").split("\n")
        assert [line for line in out if line.startswith("连接出错")] == [
            "连接出错: java.io.EOFException",
            "连接出错: java.io.UTFDataFormatException: malformed input around byte 0"]
        assert server.running and server.stderr == ""


@needs_java
def test_the_seeds_java_client_and_labkits_greeting_server(clean):
    with TCPServer(labkit.greeting) as server:
        done = langs.run_java("GreetingClient.java", "127.0.0.1", server.port)
        port = server.port
        assert done.returncode == 0 and done.stderr == ""
        assert done.stdout == (f"连接到主机:127.0.0.1 ,端口号:{port}\n"
                               f"远程主机地址:/127.0.0.1:{port}\n"
                               f"服务器响应: 谢谢连接我:/127.0.0.1:{port}\nGoodbye!")
        assert server.wait_quiet(10)
        assert re.search(r"readUTF\(\) -> 'Hello from /127\.0\.0\.1:\d+'", repr(server.events))
        assert server.errors == []


@needs_java
def test_java_single_file_launch_also_works(clean):
    with langs.start_java("GreetingServer.java", 0, name="test-java", ready=READY,
                          compiled=False) as server:
        assert labkit.greeting_client(("127.0.0.1", server.port), "😀") == java_reply(server.port)


def my_write_utf(sock, text):
    """A learner's answer: the bytes built by hand (the body from labkit is allowed)."""
    body = labkit.encode_modified_utf8(text)
    if len(body) > 65535:
        raise ValueError(f"{len(body)} bytes: writeUTF allows at most 65535")
    sock.sendall(len(body).to_bytes(2, "big") + body)


def _exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"peer closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def my_read_utf(sock):
    """A learner's answer: a loop of recv, EOF raises, modified UTF-8 decoded."""
    return labkit.decode_modified_utf8(_exactly(sock, int.from_bytes(_exactly(sock, 2), "big")))


def wraps_labkits_write_utf(sock, text):
    labkit.write_utf(sock, text)


def sends_labkits_encode_utf(sock, text):
    sock.sendall(labkit.encode_utf(text))


@needs_java
def test_the_write_utf_exercise_is_checked_against_java(clean):
    ex = labkit.exercise("09-write-utf")
    verdict = ex.check(my_write_utf)
    assert verdict and "The real Java program" in verdict.message

    def counts_characters(sock, text):
        sock.sendall(len(text).to_bytes(2, "big") + text.encode())

    def standard_utf8(sock, text):
        body = text.encode()
        sock.sendall(len(body).to_bytes(2, "big") + body)

    def returns_the_bytes(sock, text):
        body = labkit.encode_modified_utf8(text)
        return len(body).to_bytes(2, "big") + body

    def promises_too_much(sock, text):
        body = labkit.encode_modified_utf8(text)
        sock.sendall((len(body) + 1).to_bytes(2, "big") + body)

    def sends_too_long(sock, text):
        body = labkit.encode_modified_utf8(text)
        sock.sendall((len(body) & 0xFFFF).to_bytes(2, "big") + body)

    verdict = ex.check(counts_characters)
    assert not verdict and "For '你好' write_utf sent the length 2, the number of characters" \
        in verdict.message
    verdict = ex.check(standard_utf8)
    assert not verdict and "For 'A\\x00B' write_utf sent plain UTF-8" in verdict.message
    verdict = ex.check(returns_the_bytes)
    assert not verdict and verdict.message.startswith(
        "write_utf(sock, '你好') returned b'\\x00\\x06\\xe4") and "sock.sendall(...)" in verdict.message
    verdict = ex.check(promises_too_much)
    assert not verdict and "write_utf sent the length 7, but the body has 6 bytes" in verdict.message
    verdict = ex.check(sends_too_long)
    assert not verdict and "sent it: it is 65538 bytes" in verdict.message
    assert langs.running_programs() == []


@needs_java
@pytest.mark.parametrize("answer, used", [
    (labkit.write_utf, "write_utf"), (wraps_labkits_write_utf, "write_utf"),
    (sends_labkits_encode_utf, "encode_utf"),
    (lambda sock, text: labkit.wire.javautf.write_utf(sock, text), "write_utf"),
])
def test_the_write_utf_exercise_notices_labkits_own(clean, answer, used):
    verdict = labkit.exercise("09-write-utf").check(answer)
    assert not verdict and verdict.message.startswith(
        f"Write it yourself: your write_utf uses labkit.{used}, which does the whole job")
    assert labkit.write_utf is labkit.wire.javautf.write_utf  # put back after the check
    assert labkit.encode_utf is labkit.wire.javautf.encode_utf


@needs_java
def test_the_read_utf_exercise_is_checked_against_java(clean):
    ex = labkit.exercise("09-read-utf")
    verdict = ex.check(my_read_utf)
    assert verdict and "the real Java server's reply" in verdict.message

    def one_recv(sock):
        n = int.from_bytes(sock.recv(2), "big")
        return labkit.decode_modified_utf8(sock.recv(n))

    def ignores_eof(sock):
        n = int.from_bytes(labkit.recv_exactly(sock, 2), "big")
        data = b""
        while len(data) < n and (chunk := sock.recv(n - len(data))):
            data += chunk
        return labkit.decode_modified_utf8(data)

    def standard_utf8(sock):
        return _exactly(sock, int.from_bytes(_exactly(sock, 2), "big")).decode("utf-8")

    verdict = ex.check(one_recv)  # passes all at once; one byte at a time, it cannot
    assert not verdict and "length of '你好' arrived in two pieces" in verdict.message \
        and "read_utf returned '' where '你好'" in verdict.message \
        and "loop until you have both bytes of the length" in verdict.message
    verdict = ex.check(ignores_eof)
    assert not verdict and "it should raise (Java throws EOFException)" in verdict.message
    verdict = ex.check(standard_utf8)
    assert not verdict and "raised UnicodeDecodeError" in verdict.message
    assert "Java writes modified UTF-8 (C0 80 for U+0000" in verdict.message


@pytest.mark.parametrize("answer", [
    labkit.read_utf, lambda sock: labkit.read_utf(sock), lambda sock: labkit.wire.javautf.read_utf(sock),
])
def test_the_read_utf_exercise_notices_labkits_own(clean, monkeypatch, answer):
    from labkit.exercises import languagesread
    monkeypatch.setattr(languagesread, "_java_server", lambda: (None, "java was not found"))
    verdict = labkit.exercise("09-read-utf").check(answer)
    assert not verdict and verdict.message.startswith(
        "Write it yourself: your read_utf uses labkit.read_utf, which does the whole job")
    assert labkit.read_utf is labkit.wire.javautf.read_utf


def test_the_exercises_fall_back_to_labkit_without_java(clean, monkeypatch):
    from labkit.exercises import languages, languagesread
    for module in (languages, languagesread):
        monkeypatch.setattr(module, "_java_server", lambda: (None, "java was not found"))
    verdict = labkit.exercise("09-write-utf").check(my_write_utf)
    assert verdict and "labkit's greeting server, not Java (java was not found)" in verdict.message
    verdict = labkit.exercise("09-read-utf").check(my_read_utf)
    assert verdict and "labkit's frames only (java was not found)" in verdict.message

    def standard_utf8(sock, text):
        body = text.encode()
        sock.sendall(len(body).to_bytes(2, "big") + body)

    verdict = labkit.exercise("09-write-utf").check(standard_utf8)
    assert not verdict and "write_utf sent plain UTF-8" in verdict.message
    verdict = labkit.exercise("09-write-utf").check(wraps_labkits_write_utf)
    assert not verdict and "Write it yourself" in verdict.message


def test_the_solutions_shown_pass(clean, monkeypatch):
    from labkit.exercises import languages, languagesread
    for module in (languages, languagesread):
        monkeypatch.setattr(module, "_java_server", lambda: (None, "java was not found"))
    for name, fn in (("09-write-utf", "write_utf"), ("09-read-utf", "read_utf")):
        ex = labkit.exercise(name)
        space = {"labkit": labkit}
        exec(ex.solution().text, space)
        assert ex.check(space[fn]), name


# --- the seed's PHP programs -------------------------------------------------------------------


@pytest.fixture
def php_server(clean):
    with langs.start_php("server.php", 0, name="test-php", ready="listening") as server:
        yield server


@needs_php
def test_python_client_and_the_seeds_php_server(php_server):
    assert re.fullmatch(r"listening on 127\.0\.0\.1:\d+", php_server.ready_line)
    text = labkit.clock_client(("127.0.0.1", php_server.port))
    assert re.fullmatch(r"服务端消息: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text)
    with socket.create_connection(("127.0.0.1", php_server.port), timeout=5) as s:
        pieces = list(iter(lambda: s.recv(4), b""))
    data = b"".join(pieces)
    assert data.startswith("服务端消息: ".encode()) and len(data) == 36
    with pytest.raises(UnicodeDecodeError):
        pieces[0].decode()  # 服 is 3 bytes: the first 4-byte piece ends inside 务
    assert php_server.running and php_server.stderr == ""


@needs_php
def test_cli_clock_client_against_the_seeds_php_server(php_server):
    done = cli("client", "clock", "--host", "127.0.0.1", "--port", str(php_server.port))
    assert done.returncode == 0 and done.stderr == b""
    assert re.fullmatch(r"服务端消息: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n", done.stdout.decode())


@needs_php
def test_the_seeds_php_client_and_labkits_clock_server(clean):
    at = functools.partial(labkit.clock, now=lambda: datetime.datetime(2026, 1, 2, 3, 4, 5))
    with TCPServer(at, name="clock") as server:
        done = langs.run_php("client.php", "127.0.0.1", server.port)
        assert (done.returncode, done.stdout, done.stderr) == (0, "服务端消息: 2026-01-02 03:04:05", "")
        assert server.wait_quiet(10)
        assert server.events.kinds(1) == ["connected", "sent", "closed"]  # the thank-you: no one read it


@needs_php
def test_the_seeds_php_client_and_server_together(php_server):
    done = langs.run_php("client.php", "127.0.0.1", php_server.port)
    assert done.returncode == 0 and re.fullmatch(r"服务端消息: [-\d]+ [:\d]+", done.stdout)


@needs_php
def test_a_write_after_the_server_closed_is_answered_with_rst(clean):
    with TCPServer(labkit.clock) as server:
        done = langs.run_php("client_fixed.php", "127.0.0.1", server.port)
    assert done.returncode == 1
    assert done.stdout.splitlines()[1:] == [
        "read 36 bytes in 9 reads, then end of stream",
        "socket_write returned 18: the kernel took the bytes, nothing more is known",
        "pending error: [32] Broken pipe",
        "nobody read the thank-you: the server had closed, and its kernel answered with RST"]


@needs_php
def test_a_half_closing_server_reads_the_thank_you(clean):
    def clock_then_read(conn):
        labkit.clock(conn)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1024)

    with TCPServer(clock_then_read) as server:
        done = langs.run_php("client_fixed.php", "127.0.0.1", server.port)
        assert server.wait_quiet(10)
        assert "[conn 1] received 18 bytes: '接收消息成功'" in repr(server.events)
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == "pending error: none - no RST came back"


@needs_php
def test_the_seeds_php_client_stops_at_a_piece_that_is_just_zero(clean):
    # `while ($response = socket_read($sock, 4))`: the string "0" is false in PHP, so a
    # piece that is just "0" ends the loop as if the stream had ended
    def one_then_zero(conn):
        for piece in (b"1", b"0", b"23"):
            conn.sendall(piece)
            wait_read_by_peer(conn.sock)  # so that PHP reads each piece on its own

    with TCPServer(one_then_zero, name="zero") as server:
        done = langs.run_php("client.php", "127.0.0.1", server.port)
        fixed = langs.run_php("client_fixed.php", "127.0.0.1", server.port)
    assert done.stdout == "1" and done.returncode == 0
    assert fixed.stdout.splitlines()[:2] == ["1023", "read 4 bytes in 3 reads, then end of stream"]


@needs_php
def test_the_pieces_client_shows_where_php_cuts_the_text(php_server):
    done = langs.run_php("client_pieces.php", "127.0.0.1", php_server.port, 3)
    lines = done.stdout.splitlines()
    assert (done.returncode, done.stderr) == (0, "")
    assert lines[:3] == ["piece 1: e6 9c 8d e5", "piece 2: 8a a1 e7 ab", "piece 3: af e6 b6 88"]
    assert re.fullmatch(r"\.\.\. 9 pieces, 36 bytes in all; joined: 服务端消息: [-\d]+ [:\d]+", lines[3])
    assert len(lines) == 4

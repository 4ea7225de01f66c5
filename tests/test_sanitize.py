"""The nbval sanitize rules in tests/nbval-sanitize.cfg, read with nbval's own parser.

Each rule is proved on its own (what it must change, and how, and what it must leave
alone), the three port rules over the whole port range (32768-65535 become PORT, every
other number stays), and all rules together (what must survive: fixed ports, versions,
byte counts, hex dumps, ordinary numbers); the last test runs the project's pytest
configuration on a small notebook.
"""

import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from nbval.plugin import get_sanitize_patterns

import nbtool

pytestmark = pytest.mark.timeout(10)
KERNEL_THREADS = pytest.mark.no_leak_check(
    reason="jupyter_client keeps its event-loop runner threads for the rest of the process")

CFG = Path(__file__).with_name("nbval-sanitize.cfg")
TEXT = CFG.read_text(encoding="utf-8")
PATTERNS = get_sanitize_patterns(TEXT)

# The rules in file order. A pair nbval cannot parse is dropped without a word, so the
# count below is what catches a malformed one.
RULES = ["host:port", "address tuple", "named port", "fd", "memory address",
         "thread ident", "pid", "timestamp", "ipykernel path"]


def sanitize(text, patterns=PATTERNS):
    """Apply rules as nbval does (IPyNbCell.sanitize, over an OrderedDict of the pairs)."""
    for regex, replace in OrderedDict(patterns).items():
        text = re.sub(regex, replace, text)
    return text


def rule(name):
    return [PATTERNS[RULES.index(name)]]


# ---------------------------------------------------------------------------
# The file parses into exactly the rules we expect


def test_every_pair_parses():
    assert len(PATTERNS) == len(RULES)


def test_no_regex_or_replace_line_is_left_out_of_a_pair():
    regex_lines = re.findall(r"^regex:", TEXT, flags=re.M)
    replace_lines = re.findall(r"^replace:", TEXT, flags=re.M)
    assert len(regex_lines) == len(replace_lines) == len(PATTERNS)


def test_no_two_rules_share_a_regex():
    # nbval keeps the pairs in a dict keyed by regex: a duplicate would replace the first
    assert len(OrderedDict(PATTERNS)) == len(PATTERNS)


def test_every_regex_compiles():
    for regex, _ in PATTERNS:
        re.compile(regex)


def test_a_malformed_pair_is_dropped_silently_by_nbval():
    # why the count test exists: a blank line between loses the rule without a word,
    # and two spaces put a space into the regex
    assert get_sanitize_patterns("regex:  a\nreplace: b\n") == [(" a", "b")]
    assert get_sanitize_patterns("regex: a\n\nreplace: b\n") == []


# ---------------------------------------------------------------------------
# Each rule changes what it should


# ---------------------------------------------------------------------------
# The port range: 32768-65535, every system's ephemeral ports (Linux 32768-60999, macOS
# and Windows 49152-65535), in each of the three port rules

PORT_RULES = ["host:port", "address tuple", "named port"]
EPHEMERAL = [32768, 32769, 32770, 32799, 32800, 32999, 33000, 39999, 40000, 49152, 54321,
             59999, 60000, 60999, 61000, 64999, 65000, 65499, 65500, 65529, 65530, 65533,
             65535]
NOT_EPHEMERAL = [0, 80, 1023, 1024, 6666, 8080, 9998, 10000, 31999, 32767, 65536, 65540,
                 65599, 66000, 70000, 99999, 100000, 327680, 543210]
IN_CONTEXT = {  # each port rule, with the port in a place it looks at
    "host:port": ["127.0.0.1:{}", "[::1]:{}", "localhost:{}", "Hello from /127.0.0.1:{}"],
    "address tuple": ["('127.0.0.1', {})", "('::1', {}, 0, 0)", '["0.0.0.0", {}]'],
    "named port": ["port={}", "listening on port {}", "'port': {}", "localport={}",
                   "端口号为:{}..."],
}


@pytest.mark.parametrize("name", PORT_RULES)
@pytest.mark.parametrize("port", EPHEMERAL)
def test_every_port_rule_takes_every_ephemeral_port(name, port):
    for context in IN_CONTEXT[name]:
        assert sanitize(context.format(port), rule(name)) == context.format("PORT")


@pytest.mark.parametrize("name", PORT_RULES)
@pytest.mark.parametrize("port", NOT_EPHEMERAL)
def test_no_port_rule_takes_a_port_outside_the_range(name, port):
    for context in IN_CONTEXT[name]:
        text = context.format(port)
        assert sanitize(text, rule(name)) == text
        assert sanitize(text) == text


@pytest.mark.parametrize("name, context", [("host:port", "127.0.0.1:{}"),
                                           ("address tuple", "('', {})"),
                                           ("named port", "port {}.")])
def test_the_range_is_exactly_32768_to_65535(name, context):
    # every number from 0 to 99999 in its place: PORT exactly when it is in the range
    lines = sanitize("\n".join(context.format(p) for p in range(100000)), rule(name))
    taken = [p for p, line in enumerate(lines.split("\n")) if line == context.format("PORT")]
    assert taken == list(range(32768, 65536))


@pytest.mark.parametrize("before, after", [
    ("listening on 127.0.0.1:54321", "listening on 127.0.0.1:PORT"),
    ("0.0.0.0:32768", "0.0.0.0:PORT"),  # lowest ephemeral port (Linux)
    ("localhost:60999", "localhost:PORT"),  # highest on Linux
    ("127.0.0.1:49152", "127.0.0.1:PORT"),  # lowest on macOS and Windows
    ("127.0.0.1:61000", "127.0.0.1:PORT"),
    ("127.0.0.1:65535", "127.0.0.1:PORT"),  # highest on macOS and Windows
    ("[::1]:45000", "[::1]:PORT"),
    ("[::]:45000", "[::]:PORT"),
    ("http://127.0.0.1:40000/index.html", "http://127.0.0.1:PORT/index.html"),
    ("远程主机地址:/127.0.0.1:54321", "远程主机地址:/127.0.0.1:PORT"),  # Java
    ("Hello from /127.0.0.1:33333", "Hello from /127.0.0.1:PORT"),
    ("127.0.1.1:50000", "127.0.1.1:PORT"),
])
def test_host_port(before, after):
    assert sanitize(before, rule("host:port")) == after
    assert sanitize(before) == after


@pytest.mark.parametrize("before, after", [
    ("('127.0.0.1', 54321)", "('127.0.0.1', PORT)"),
    ("('0.0.0.0', 40000)", "('0.0.0.0', PORT)"),
    ("('', 40000)", "('', PORT)"),
    ("('localhost', 40000)", "('localhost', PORT)"),
    ("('::1', 54321, 0, 0)", "('::1', PORT, 0, 0)"),
    ('["127.0.0.1", 54321]', '["127.0.0.1", PORT]'),
    ("<socket.socket fd=57, family=2, type=1, proto=0, "
     "laddr=('127.0.0.1', 9998), raddr=('127.0.0.1', 54321)>",
     "<socket.socket fd=57, family=2, type=1, proto=0, "
     "laddr=('127.0.0.1', 9998), raddr=('127.0.0.1', PORT)>"),
    ("accepted ('127.0.0.1', 41234) ('127.0.0.1', 41236)",
     "accepted ('127.0.0.1', PORT) ('127.0.0.1', PORT)"),
    ("('127.0.0.1', 65535)", "('127.0.0.1', PORT)"),  # macOS and Windows hand these out
    ("raddr=('127.0.0.1', 61000)", "raddr=('127.0.0.1', PORT)"),
])
def test_address_tuple(before, after):
    assert sanitize(before, rule("address tuple")) == after


@pytest.mark.parametrize("before, after", [
    ("sconn(fd=115, laddr=addr(ip='127.0.0.1', port=54321), "
     "raddr=addr(ip='127.0.0.1', port=9998), status='ESTABLISHED')",
     "sconn(fd=115, laddr=addr(ip='127.0.0.1', port=PORT), "
     "raddr=addr(ip='127.0.0.1', port=9998), status='ESTABLISHED')"),
    ("Socket[addr=/127.0.0.1,port=9998,localport=54321]",
     "Socket[addr=/127.0.0.1,port=9998,localport=PORT]"),
    ("ServerSocket[addr=0.0.0.0/0.0.0.0,localport=40000]",
     "ServerSocket[addr=0.0.0.0/0.0.0.0,localport=PORT]"),
    ("{'host': '127.0.0.1', 'port': 54321}", "{'host': '127.0.0.1', 'port': PORT}"),
    ("listening on port 54321", "listening on port PORT"),
    ("Port: 40000", "Port: PORT"),
    ("等待远程连接,端口号为:54321...", "等待远程连接,端口号为:PORT..."),
    ("连接到主机:localhost ,端口号:40001", "连接到主机:localhost ,端口号:PORT"),
    ("Socket[addr=/127.0.0.1,port=9998,localport=65535]",
     "Socket[addr=/127.0.0.1,port=9998,localport=PORT]"),
    ("listening on port 61000", "listening on port PORT"),
])
def test_named_port(before, after):
    assert sanitize(before, rule("named port")) == after


@pytest.mark.parametrize("before, after", [
    ("fd=57", "fd=N"),
    ("<socket.socket fd=3, family=2, type=1, proto=0>", "<socket.socket fd=N, family=2, type=1, proto=0>"),
    ("<_SelectorSocketTransport fd=12 read=polling write=<idle, bufsize=0>>",
     "<_SelectorSocketTransport fd=N read=polling write=<idle, bufsize=0>>"),
])
def test_fd(before, after):
    assert sanitize(before, rule("fd")) == after


@pytest.mark.parametrize("before, after", [
    ("<object object at 0x7f4fa1cc46e0>", "<object object at 0xADDR>"),
    ("[<matplotlib.lines.Line2D at 0x7f3a2c1b5e50>]", "[<matplotlib.lines.Line2D at 0xADDR>]"),
    ("<function f at 0x1a2b3c>", "<function f at 0xADDR>"),  # short, but after "at"
    ("id is 0x55d5c0a3e2a0", "id is 0xADDR"),
    ("<Future at 0x7F3A2C1B5E50 state=pending>", "<Future at 0xADDR state=pending>"),
])
def test_memory_address(before, after):
    assert sanitize(before, rule("memory address")) == after


@pytest.mark.parametrize("before, after", [
    ("<Thread(echo, started daemon 139980003847040)>", "<Thread(echo, started daemon IDENT)>"),
    ("<_MainThread(MainThread, started 139845179431808)>", "<_MainThread(MainThread, started IDENT)>"),
])
def test_thread_ident(before, after):
    assert sanitize(before, rule("thread ident")) == after


@pytest.mark.parametrize("before, after", [
    ("java running as pid 1234", "java running as pid PID"),
    ("psutil.Process(pid=4321, name='java', status='running')",
     "psutil.Process(pid=PID, name='java', status='running')"),
    ("PID: 77", "PID: PID"),
])
def test_pid(before, after):
    assert sanitize(before, rule("pid")) == after


@pytest.mark.parametrize("before, after", [
    ("服务端消息: 2026-11-25 13:05:09", "服务端消息: YYYY-MM-DD HH:MM:SS"),
    ("2026-11-25T13:05:09.123456", "YYYY-MM-DDTHH:MM:SS"),
    ("2026-11-25 13:05:09,123 INFO ready", "YYYY-MM-DD HH:MM:SS INFO ready"),
])
def test_timestamp(before, after):
    assert sanitize(before, rule("timestamp")) == after


@pytest.mark.parametrize("before, after", [
    ("/tmp/ipykernel_1234/5678.py:3: UserWarning: careful",
     "/tmp/ipykernel_PID/N.py:3: UserWarning: careful"),
    ("/var/tmp/build-1/ipykernel_99/2608338407.py:12: DeprecationWarning: old",
     "/tmp/ipykernel_PID/N.py:12: DeprecationWarning: old"),
])
def test_ipykernel_path(before, after):
    assert sanitize(before, rule("ipykernel path")) == after


# ---------------------------------------------------------------------------
# What each rule must leave alone (applied on its own)


LEFT_ALONE = {
    "host:port": ["127.0.0.1:9998", "127.0.0.1:32767", "127.0.0.1:65536", "192.168.1.5:54321",
                  "x127.0.0.1:54321", "13:05:09", "[::2]:54321"],
    "address tuple": ["('127.0.0.1', 9998)", "('10.0.0.1', 54321)", "(1, 54321)",
                      "('127.0.0.1', 65536)", "('0.0.0.0', 0)"],
    "named port": ["port=9998", "report 54321", "sport 54321", "passport=54321",
                   "Port: 1023", "localport=65536", "端口号为:6666..."],
    "fd": ["pfd=3", "fds=4", "fd=-1", "fd = 3"],
    "memory address": ["0x7f", "0xC080", "0xFFFF", "e4 bd a0", "at 7f3a2c1b5e50"],
    "thread ident": ["started 3 clients", "started 1234", "restarted 139980003847040"],
    "pid": ["rapid 1234", "pids 12", "pid=abc", "stupid 5"],
    "timestamp": ["2026-11-25", "13:05:09", "2026-11-25 13:05"],
    "ipykernel path": ["/tmp/notes.py", "/tmp/ipykernel_x/1.py", "/tmp/ipykernel_1/a.py"],
}


def test_every_rule_has_texts_it_must_leave_alone():
    assert list(LEFT_ALONE) == RULES


@pytest.mark.parametrize("name", RULES)
def test_each_rule_leaves_alone(name):
    for text in LEFT_ALONE[name]:
        assert sanitize(text, rule(name)) == text


# ---------------------------------------------------------------------------
# What must survive every rule


@pytest.mark.parametrize("text", [
    # fixed ports the lessons use on purpose, and ports outside 32768-65535
    "127.0.0.1:9998", "localhost:6666", "0.0.0.0:8080", "127.0.0.1:1023",
    "127.0.0.1:32767", "127.0.0.1:65536", "127.0.0.1:80", "127.0.0.1:543210",
    "('127.0.0.1', 9998)", "('127.0.0.1', 65536)", "('0.0.0.0', 0)", "('127.0.0.1', 6666)",
    "port=9998", "port 6666", "localport=32767", "端口号为:6666...",
    "Socket[addr=/127.0.0.1,port=9998,localport=6666]",
    # other hosts: not sanitized (a lesson showing them tags the cell)
    "192.168.1.5:54321", "('10.0.0.1', 54321)",
    # words that merely contain port/pid/fd
    "report 54321", "sport 54321", "rapid 1234", "pids 12", "pfd=3", "fds=4",
    # a closed socket keeps fd=-1
    "<socket.socket [closed] fd=-1, family=2, type=1, proto=0>",
    # versions, byte counts, hex dumps, ordinary numbers
    "Python 3.11.7", "ipykernel 7.4.0", "received 1024 bytes", "sent 40000 bytes",
    "e4 bd a0 e5 a5 bd", "b'\\xe4\\xbd\\xa0'", "0x7f", "0xC080", "0xFFFF", "C0 80",
    "54321", "x = 54321", "recv(1024)", "[Errno 111] Connection refused",
    "started 3 clients", "2026-11-25", "13:05:09", "欢迎访问>>>>hello\r\n",
    "/tmp/notes.py", "<Figure size 640x480 with 1 Axes>",
])
def test_left_alone(text):
    assert sanitize(text) == text


def test_sanitizing_twice_changes_nothing_more():
    text = ("127.0.0.1:54321 ('::1', 40000, 0, 0) port=40000 fd=5 at 0x7f4fa1cc46e0 "
            "started 139980003847040 pid 12 2026-11-25 13:05:09 /tmp/ipykernel_1/2.py")
    once = sanitize(text)
    assert once != text
    assert sanitize(once) == once


# ---------------------------------------------------------------------------
# Inside nbval: the project's pytest configuration on a small project


@KERNEL_THREADS
@pytest.mark.timeout(120)
def test_nbval_passes_a_rerun_with_a_new_port_and_fails_a_changed_output(tmp_path):
    root = Path(__file__).resolve().parent.parent
    for name in ("pyproject.toml", "conftest.py", "tests/nbval-sanitize.cfg", "tools/nbtool.py",
                 "tools/testpolicy.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text((root / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "notebooks" / "01-port.ipynb"
    nbformat.write(new_notebook(cells=[
        new_code_cell("import socket\ns = socket.create_server(('127.0.0.1', 0))\n"
                      "print(f'listening on 127.0.0.1:{s.getsockname()[1]}')"),
        new_code_cell("'你好'.encode().hex(' ')"),
    ]), path)
    assert nbtool.run([path]) == 0

    # one small notebook needs no workers: where the configuration starts them (xdist),
    # -n 0 keeps this run in one process, which spares it their start-up time
    workers = ["-n", "0"] if "--numprocesses" in (root / "pyproject.toml").read_text() else []

    def pytest_here():
        return subprocess.run([sys.executable, "-m", "pytest", "-q", *workers, "notebooks"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=100)

    done = pytest_here()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout

    path.write_text(path.read_text(encoding="utf-8").replace("e4 bd a0", "e4 bd a1"), encoding="utf-8")
    done = pytest_here()
    assert done.returncode == 1
    assert "1 failed, 1 passed" in done.stdout

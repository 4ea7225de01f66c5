"""Run the seed's Java and PHP programs as subprocesses, so Python can talk to them.

    server = start_java("programs/GreetingServer.java", "0", ready="端口号为")  # 0: any free port
    greeting_client(("127.0.0.1", server.port), "你好")  # Python client, Java server
    server.wait_output("等待远程连接")                     # what the Java program printed
    run_php("programs/client.php", "127.0.0.1", str(php.port))  # runs to the end; its output
    stop_programs()                                    # every program started here

The programs run through :mod:`labkit.programs` (argument lists, never a shell;
a readiness line on stdout rather than a probe connection, which the seed's Java
server would die of; output kept for the cell to show; a registry by name).

Java runs compiled: the source files are compiled once with ``javac`` into a
temporary folder (cached by their content), then started with ``java -cp``: a
server is ready about 0.1 s after it starts, against 0.6-0.9 s for ``java
File.java``, which compiles in memory every time. (javac itself takes about 1 s,
once.) Without ``javac`` the single-file launch is used.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import hashlib
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from labkit.errors import LabkitError, RuntimeMissingError
from labkit.wire.javautf import encode_modified_utf8
from labkit.programs.process import Output, Program
from labkit.programs.runner import (  # noqa: F401 - stop_programs and running_programs: langs.stop_programs()
    Finished, program_path, run_program, running_programs, start_program, stop_programs)

__all__ = ["Runtime", "find_runtime", "runtimes", "java_command", "php_command", "start_java",
           "run_java", "start_php", "run_php", "show_changes", "explain_utf"]

INSTALL = {
    "java": "apt-get install default-jdk-headless (Java 11 or newer)",
    "php": "apt-get install php-cli (it includes the sockets extension)",
}
# Java's output must be UTF-8 whatever the locale (JDK 17 reads sun.*, JDK 19+ stdout.*);
# C1 only: these programs live for seconds, so start-up time is what counts.
JAVA_OPTIONS = ["-Dfile.encoding=UTF-8", "-Dsun.stdout.encoding=UTF-8",
                "-Dsun.stderr.encoding=UTF-8", "-Dstdout.encoding=UTF-8",
                "-Dstderr.encoding=UTF-8", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
PHP_OPTIONS = ["-d", "display_errors=stderr"]  # PHP's warnings on stderr, where we look for them


# --- finding the runtimes ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Runtime:
    """A language runtime that was found: its name, executable, version and how Java runs.

    >>> php = Runtime("php", "/usr/bin/php", "8.2.7")
    >>> php                                   # the same text on every machine
    php: found (with sockets)
    >>> php.version
    '8.2.7'
    """

    name: str
    path: str
    version: str
    compiler: str | None = None  # javac, when present

    def __repr__(self) -> str:  # no version or path: a notebook shows the same on every machine
        how = {"java": " (11 or newer)", "php": " (with sockets)"}.get(self.name, "")
        return f"{self.name}: found{how}"


def _version(argv, pattern):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(1) if match else None


@functools.cache
def find_runtime(name: str) -> Runtime:
    """Find ``"java"`` (11 or newer) or ``"php"`` (with sockets); RuntimeMissingError says how to install it.

    >>> find_runtime("php")                   # needs PHP, as lesson 09 does
    php: found (with sockets)
    >>> find_runtime("ruby")
    Traceback (most recent call last):
    ValueError: unknown runtime 'ruby'; expected 'java' or 'php'
    """
    if name not in INSTALL:
        raise ValueError(f"unknown runtime {name!r}; expected 'java' or 'php'")
    path = shutil.which(name)
    if path is None:
        raise RuntimeMissingError(f"{name} was not found on PATH: install it with {INSTALL[name]}")
    if name == "java":
        version = _version([path, "-version"], r'version "([^"]+)"')
        major = _java_major(version)
        if major is None or major < 11:
            raise RuntimeMissingError(
                f"{path} is Java {version or '(unknown version)'}; lesson 09 needs Java 11 or "
                f"newer: {INSTALL['java']}")
        return Runtime(name, path, version, shutil.which("javac"))
    version = _version([path, "-r", 'echo PHP_VERSION, " ", extension_loaded("sockets") ? 1 : 0;'],
                       r"^(\S+) 1$")
    if version is None:
        raise RuntimeMissingError(
            f"{path} runs without the sockets extension (php -m does not list sockets): "
            f"{INSTALL['php']}, or enable extension=sockets in php.ini")
    return Runtime(name, path, version)


def _java_major(version):
    if not version:
        return None
    parts = version.split(".")
    try:
        return int(parts[1]) if parts[0] == "1" else int(re.match(r"\d+", parts[0]).group())
    except (IndexError, ValueError, AttributeError):
        return None


def runtimes() -> dict:
    """Which runtimes are here: ``{"java": Runtime or the error message, "php": ...}``.

    >>> found = runtimes()
    >>> sorted(found)
    ['java', 'php']
    >>> isinstance(found["php"], (Runtime, str))   # a str says how to install it
    True
    """
    found = {}
    for name in INSTALL:
        try:
            found[name] = find_runtime(name)
        except RuntimeMissingError as exc:
            found[name] = str(exc)
    return found


# --- Java and PHP ----------------------------------------------------------------------

_compiled: dict[str, Path] = {}
_compile_lock = threading.Lock()


@functools.cache
def _class_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="labkit-java-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def _compile(java: Runtime, source: Path) -> Path:
    """Compile *source* once and return the folder holding its classes.

    Every .java file beside it is compiled in the same javac call (javac's own
    start-up is most of the cost), keyed by their content; if that fails, the
    file is compiled alone, so one broken neighbour does not block it.
    """
    group = sorted(source.parent.glob("*.java"))
    if source not in group:
        group = [source]
    for sources in (group, [source]):
        digest = hashlib.sha256(java.version.encode())
        for path in sources:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        key = digest.hexdigest()[:16]
        with _compile_lock:
            if key in _compiled:
                return _compiled[key]
            folder = _class_root() / key
            folder.mkdir(exist_ok=True)
            done = subprocess.run([java.compiler, "-encoding", "UTF-8", "-d", str(folder),
                                   *map(str, sources)], capture_output=True, timeout=120)
            if done.returncode == 0:
                _compiled[key] = folder
                return folder
    raise LabkitError(f"javac could not compile {source.name}:\n"
                      + done.stderr.decode("utf-8", errors="replace"))


def java_command(source, *args, compiled: bool = True) -> list[str]:
    """The argument list that runs Java *source* with *args* (compiled once, if javac is here).

    >>> argv = java_command("GreetingClient.java", "127.0.0.1", 6666, compiled=False)
    >>> argv[-3:]                             # doctest: +ELLIPSIS
    ['.../GreetingClient.java', '127.0.0.1', '6666']

    (``compiled=False`` skips javac, which takes about a second the first time.)
    """
    java = find_runtime("java")
    path = program_path(source)
    if compiled and java.compiler:
        return [java.path, *JAVA_OPTIONS, "-cp", str(_compile(java, path)), path.stem, *map(str, args)]
    return [java.path, *JAVA_OPTIONS, str(path), *map(str, args)]


def php_command(script, *args) -> list[str]:
    """The argument list that runs PHP *script* with *args*.

    >>> php_command("client.php", "127.0.0.1", 6666)     # doctest: +ELLIPSIS
    ['...php', '-d', 'display_errors=stderr', '.../client.php', '127.0.0.1', '6666']
    """
    return [find_runtime("php").path, *PHP_OPTIONS, str(program_path(script)), *map(str, args)]


def start_java(source, *args, ready=None, name: str | None = None, timeout: float = 10.0,
               compiled: bool = True) -> Program:
    """Start a Java program (e.g. a server) in the background; wait for its *ready* line.

    >>> from labkit import greeting_client
    >>> with start_java("GreetingServer.java", 0, ready="端口号为") as server:   # doctest: +SKIP
    ...     greeting_client(("127.0.0.1", server.port), "你好")
    '谢谢连接我:/127.0.0.1:38735\\nGoodbye!'

    (Skipped by doctest: javac and the JVM take a second or two to start.)
    """
    return start_program(java_command(source, *args, compiled=compiled),
                         name=name or Path(source).stem, ready=ready, timeout=timeout)


def run_java(source, *args, timeout: float = 10.0, compiled: bool = True) -> Finished:
    """Run a Java program (e.g. a client) to the end and return its output.

    >>> from labkit import serve, greeting
    >>> with serve(greeting) as server:       # doctest: +SKIP
    ...     run_java("GreetingClient.java", "127.0.0.1", server.port)
    连接到主机:127.0.0.1 ,端口号:43507
    远程主机地址:/127.0.0.1:43507
    服务器响应: 谢谢连接我:/127.0.0.1:43507
    Goodbye!

    (Skipped by doctest: javac and the JVM take a second or two to start.)
    """
    return run_program(java_command(source, *args, compiled=compiled), timeout=timeout)


def start_php(script, *args, ready=None, name: str | None = None, timeout: float = 10.0) -> Program:
    """Start a PHP script (e.g. a server) in the background; wait for its *ready* line.

    >>> from labkit import clock_client
    >>> with start_php("server.php", 0, ready="listening") as server:   # 0: any free port
    ...     clock_client(("127.0.0.1", server.port))                   # doctest: +ELLIPSIS
    '服务端消息: ...'
    """
    return start_program(php_command(script, *args), name=name or Path(script).name,
                         ready=ready, timeout=timeout)


def run_php(script, *args, timeout: float = 10.0) -> Finished:
    """Run a PHP script (e.g. a client) to the end and return its output.

    >>> from labkit import serve, clock
    >>> with serve(clock) as server:
    ...     run_php("client.php", "127.0.0.1", server.port)            # doctest: +ELLIPSIS
    服务端消息: ...
    """
    return run_program(php_command(script, *args), timeout=timeout)


# --- reading the programs ------------------------------------------------------------


def show_changes(name) -> Output:
    """The lines of a typed-in seed program marked ``CHANGED:``, with their line numbers.

    >>> show_changes("client.php")
      7: $host = $argv[1] ?? '127.0.0.1';  // CHANGED: host and port from the command line
      8: $port = (int)($argv[2] ?? 65533);  // CHANGED: (defaults as in the seed)
    """
    lines = program_path(name).read_text(encoding="utf-8").splitlines()
    marked = [f"{n:3}: {line.strip()}" for n, line in enumerate(lines, 1) if "CHANGED:" in line]
    return Output("\n".join(marked) or "(no line is marked CHANGED: it runs as the seed has it)")


def explain_utf(text: str) -> Output:
    """What Java's ``writeUTF(text)`` sends, byte by byte, one line per character.

    >>> explain_utf("A\\x00你")
    00 06     length: 6 bytes follow
    41        'A'
    c0 80     '\\x00' U+0000 as two bytes (UTF-8 would send 00)
    e4 bd a0  '你'
    """
    body = encode_modified_utf8(text)
    rows = [(f"{len(body):04x}"[:2] + " " + f"{len(body):04x}"[2:],
             f"length: {len(body)} bytes follow" + ("" if len(body) <= 0xFFFF
                                                    else " - too many: at most 65535"))]
    for char in text:
        code = ord(char)
        note = ""
        if code == 0:
            note = "U+0000 as two bytes (UTF-8 would send 00)"
        elif code > 0xFFFF:
            note = f"U+{code:X}: two 3-byte surrogates (UTF-8 would send {char.encode().hex(' ')})"
        rows.append((encode_modified_utf8(char).hex(" "), f"{char!r} {note}".rstrip()))
    width = max(len(hexes) for hexes, _ in rows)
    return Output("\n".join(f"{hexes:<{width}}  {what}" for hexes, what in rows))

"""Run the seed's Java and PHP programs as subprocesses, so Python can talk to them.

    server = start_java("programs/GreetingServer.java", "6666", ready="端口号为")
    greeting_client(("127.0.0.1", 6666), "你好")      # Python client, Java server
    server.wait_output("等待远程连接")                  # what the Java program printed
    run_php("programs/client.php", "127.0.0.1", "65533")   # runs to the end; its output
    stop_programs()                                    # every program started here

Theory of operation
-------------------
A program is started from an argument list (never through a shell), with stdin
closed and stdout and stderr on pipes. Two daemon threads read the pipes line by
line and keep the lines, decoded as UTF-8; a cell shows them when it asks, so a
program never prints into whatever cell happens to be running.

A server is ready when it says so: ``start_*`` waits for its *readiness line* on
stdout, not for a probe connection - the seed's Java server quits on any
IOException, a probe's included. ``stop()`` sends SIGTERM, then SIGKILL after a
timeout, and joins the reader threads. Programs started with ``start_*`` are
kept in a registry by name, so re-running a cell replaces the old process.

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
import time
from pathlib import Path

from .errors import LabkitError, LabTimeoutError, RuntimeMissingError
from .framing import encode_modified_utf8

__all__ = ["Program", "Finished", "Output", "Runtime", "find_runtime", "runtimes",
           "program_path", "start_program", "run_program", "running_programs", "stop_programs",
           "java_command", "php_command", "start_java", "run_java", "start_php", "run_php",
           "show_changes", "explain_utf"]

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
_PROGRAMS = Path(__file__).resolve().parent.parent / "notebooks" / "programs"


# --- finding the runtimes ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Runtime:
    """A language runtime that was found: its name, executable, version and how Java runs."""

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
    """Find ``"java"`` (11 or newer) or ``"php"`` (with sockets); RuntimeMissingError says how to install it."""
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
    """Which runtimes are here: ``{"java": Runtime or the error message, "php": ...}``."""
    found = {}
    for name in INSTALL:
        try:
            found[name] = find_runtime(name)
        except RuntimeMissingError as exc:
            found[name] = str(exc)
    return found


def program_path(name) -> Path:
    """Find a program file: as given, then in ``programs/``, then in the course's programs folder."""
    path = Path(name)
    for candidate in (path, Path("programs") / path, _PROGRAMS / path.name):
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"no program file {str(name)!r} here, in programs/ or in {_PROGRAMS}")


# --- output a cell can show -----------------------------------------------------------


_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Output(str):
    """Text a program printed; shown as is, with control characters escaped (U+0000 as \\x00)."""

    def __repr__(self) -> str:
        return _INVISIBLE.sub(lambda m: repr(m.group())[1:-1], str(self)) or "(no output)"


class Program:
    """A running program: its output so far, a readiness wait, and stop().

    >>> with Program(["php", "programs/server.php", "0"], ready="listening") as server:
    ...     server.port
    41873

    Threading contract: two reader threads own the pipes; every method may be
    called from the cell's thread at any time.
    """

    def __init__(self, argv, *, name: str | None = None, ready=None, timeout: float = 10.0,
                 cwd=None):
        self.argv = [str(a) for a in argv]
        self.name = name or Path(self.argv[0]).name
        self.ready_line: str | None = None
        self._lines = {"stdout": [], "stderr": []}
        self._cursor = 0  # stdout lines already handed out by new_output / wait_output
        self._changed = threading.Condition()
        self._stopped = False
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=cwd)
        self._readers = [
            threading.Thread(target=self._read, args=(stream, getattr(self.proc, stream)),
                             name=f"labkit-{self.name}-{stream}", daemon=True)
            for stream in ("stdout", "stderr")]
        for reader in self._readers:
            reader.start()
        if ready is not None:
            try:
                self.ready_line = self.wait_output(ready, timeout=timeout).splitlines()[-1]
            except BaseException:
                self.stop()
                raise

    def _read(self, stream: str, pipe) -> None:
        for raw in iter(pipe.readline, b""):  # b"\n" never occurs inside a UTF-8 character
            line = raw.decode("utf-8", errors="replace").removesuffix("\n").removesuffix("\r")
            with self._changed:
                self._lines[stream].append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    # -- facts ------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    @property
    def port(self) -> int:
        """The port in the readiness line (its last number): real even when 0 was asked."""
        numbers = re.findall(r"\d+", self.ready_line or "")
        if not numbers:
            raise LabkitError(f"{self.name} printed no port in its readiness line {self.ready_line!r}")
        return int(numbers[-1])

    @property
    def stdout(self) -> Output:
        """Everything printed on stdout so far."""
        with self._changed:
            return Output("\n".join(self._lines["stdout"]))

    @property
    def stderr(self) -> Output:
        """Everything printed on stderr so far."""
        with self._changed:
            return Output("\n".join(self._lines["stderr"]))

    # -- output as it comes ---------------------------------------------------------
    def new_output(self) -> Output:
        """The stdout lines printed since the last new_output() or wait_output()."""
        with self._changed:
            lines = self._lines["stdout"][self._cursor:]
            self._cursor += len(lines)
            return Output("\n".join(lines))

    def wait_output(self, expected, *, timeout: float = 5.0) -> Output:
        """Wait for a new stdout line containing *expected* (a str or a compiled regex).

        Returns the new lines up to and including it. LabTimeoutError (or
        LabkitError, if the program ends first) says what it printed instead.
        """
        def matches(line):
            return expected in line if isinstance(expected, str) else expected.search(line)

        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                lines = self._lines["stdout"]
                for at in range(self._cursor, len(lines)):
                    if matches(lines[at]):
                        got, self._cursor = lines[self._cursor:at + 1], at + 1
                        return Output("\n".join(got))
                if not any(r.is_alive() for r in self._readers) or self._stopped:
                    raise LabkitError(f"{self.name} ended (exit status {self._status()}) "
                                      f"before printing {expected!r}{self._told()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LabTimeoutError(f"{self.name} did not print {expected!r} within "
                                          f"{timeout:g} s{self._told()}")
                self._changed.wait(min(left, 0.05))  # short: a reader may end without a last notify

    def _status(self):
        try:  # its pipes are closed, so it has ended or is about to
            return self.proc.wait(1)
        except subprocess.TimeoutExpired:
            return "unknown: still running"

    def _told(self) -> str:
        out, err = self._lines["stdout"][self._cursor:], self._lines["stderr"]
        told = "".join(f"\n  stdout: {line}" for line in out[-5:])
        told += "".join(f"\n  stderr: {line}" for line in err[-5:])
        return told or "; it printed nothing"

    def wait(self, timeout: float = 5.0) -> int:
        """Wait for the program to end and its output to be read; return its exit status."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise LabTimeoutError(f"{self.name} still running after {timeout:g} s{self._told()}") from exc
        for reader in self._readers:
            reader.join(timeout)
        return code

    # -- stopping -----------------------------------------------------------------
    def stop(self, timeout: float = 2.0) -> int:
        """Terminate (SIGTERM), kill after *timeout* s if needed; return the exit status. Idempotent."""
        self._stopped = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        for pipe in (self.proc.stdout, self.proc.stderr):
            pipe.close()
        with self._changed:
            self._changed.notify_all()
        _forget(self)
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited with status {self.returncode}"
        return f"<Program {self.name!r} {state}>"


@dataclasses.dataclass
class Finished:
    """A program that ran to the end: its argv, exit status and output. Shows its output."""

    argv: list
    returncode: int
    stdout: Output
    stderr: Output

    def __repr__(self) -> str:
        parts = [repr(self.stdout)] if self.stdout or not self.stderr else []
        if self.stderr:
            parts.append(f"[stderr]\n{self.stderr!r}")
        if self.returncode:
            parts.append(f"[exit status {self.returncode}]")
        return "\n".join(parts)


# --- the registry --------------------------------------------------------------------

_registry: dict[str, Program] = {}
_registry_lock = threading.Lock()


def _forget(program: Program) -> None:
    with _registry_lock:
        if _registry.get(program.name) is program:
            del _registry[program.name]


def start_program(argv, *, name: str | None = None, ready=None, timeout: float = 10.0,
                  cwd=None) -> Program:
    """Start *argv* in the background, replacing a program of the same name; wait for *ready*."""
    name = name or Path(str(argv[0])).name
    with _registry_lock:
        old = _registry.pop(name, None)
    if old is not None:
        old.stop()
    program = Program(argv, name=name, ready=ready, timeout=timeout, cwd=cwd)
    with _registry_lock:
        _registry[name] = program
    return program


def run_program(argv, *, timeout: float = 10.0, cwd=None) -> Finished:
    """Run *argv* to the end (killed after *timeout* s: LabTimeoutError) and return its output."""
    program = Program(argv, name=Path(str(argv[0])).name, cwd=cwd)
    try:
        code = program.wait(timeout)
    finally:
        program.stop()
    return Finished(program.argv, code, program.stdout, program.stderr)


def running_programs() -> list[Program]:
    """The programs started with start_*() that are still registered."""
    with _registry_lock:
        return list(_registry.values())


def stop_programs(timeout: float = 2.0) -> int:
    """Stop every program started with start_*(); return how many were stopped.

    (``labkit.stop_all()`` stops the servers; the notebook calls both at its end.)
    """
    programs = running_programs()
    for program in programs:
        program.stop(timeout)
    return len(programs)


atexit.register(stop_programs)


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
    """The argument list that runs Java *source* with *args* (compiled once, if javac is here)."""
    java = find_runtime("java")
    path = program_path(source)
    if compiled and java.compiler:
        return [java.path, *JAVA_OPTIONS, "-cp", str(_compile(java, path)), path.stem, *map(str, args)]
    return [java.path, *JAVA_OPTIONS, str(path), *map(str, args)]


def php_command(script, *args) -> list[str]:
    """The argument list that runs PHP *script* with *args*."""
    return [find_runtime("php").path, *PHP_OPTIONS, str(program_path(script)), *map(str, args)]


def start_java(source, *args, ready=None, name: str | None = None, timeout: float = 10.0,
               compiled: bool = True) -> Program:
    """Start a Java program (e.g. a server) in the background; wait for its *ready* line."""
    return start_program(java_command(source, *args, compiled=compiled),
                         name=name or Path(source).stem, ready=ready, timeout=timeout)


def run_java(source, *args, timeout: float = 10.0, compiled: bool = True) -> Finished:
    """Run a Java program (e.g. a client) to the end and return its output."""
    return run_program(java_command(source, *args, compiled=compiled), timeout=timeout)


def start_php(script, *args, ready=None, name: str | None = None, timeout: float = 10.0) -> Program:
    """Start a PHP script (e.g. a server) in the background; wait for its *ready* line."""
    return start_program(php_command(script, *args), name=name or Path(script).name,
                         ready=ready, timeout=timeout)


def run_php(script, *args, timeout: float = 10.0) -> Finished:
    """Run a PHP script (e.g. a client) to the end and return its output."""
    return run_program(php_command(script, *args), timeout=timeout)


# --- reading the programs ------------------------------------------------------------


def show_changes(name) -> Output:
    """The lines of a typed-in seed program marked ``CHANGED:``, with their line numbers."""
    lines = program_path(name).read_text(encoding="utf-8").splitlines()
    marked = [f"{n:3}: {line.strip()}" for n, line in enumerate(lines, 1) if "CHANGED:" in line]
    return Output("\n".join(marked) or "(no line is marked CHANGED: it runs as the seed has it)")


def explain_utf(text: str) -> Output:
    """What Java's ``writeUTF(text)`` sends, byte by byte, one line per character.

        explain_utf("A\\x00")   # 00 03 (length), 41 'A', c0 80 U+0000 ...
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

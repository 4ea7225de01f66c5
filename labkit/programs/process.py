"""One program in another process: :class:`Program` starts it from an argument list,
reads its stdout and stderr in two threads, waits for its readiness line and stops it;
:class:`Output` is text it printed, as a cell shows it.

:mod:`labkit.programs.runner` keeps the programs it starts in the registry here, by name.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

from labkit.registry import Registry
from labkit.errors import LabkitError, LabTimeoutError, ProgramExitedError

__all__ = ["Output", "Program"]


# --- output a cell can show -----------------------------------------------------------


_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Output(str):
    """Text a program printed; shown as is, with control characters escaped (U+0000 as \\x00).

    >>> Output("你好\\x00\\nbye")
    你好\\x00
    bye
    >>> Output("")
    (no output)
    """

    def __repr__(self) -> str:
        return _INVISIBLE.sub(lambda m: repr(m.group())[1:-1], str(self)) or "(no output)"


_FIRST_LINE = re.compile("")  # ready=True: the first whole line, whatever it says


class Program:
    """A running program: its output so far, a readiness wait, and stop().

    >>> import sys
    >>> code = "import time; print('listening on port 41873', flush=True); time.sleep(60)"
    >>> with Program([sys.executable, "-c", code], ready="listening") as server:
    ...     server.port                   # the last number in its readiness line
    41873

    *ready* is a text (or compiled regex) its readiness line contains, or True for its
    first line, whatever it says. A Program also answers as :class:`subprocess.Popen`
    does: ``poll()``, ``wait()``, ``kill()``, ``communicate()``.

    Programs started with :func:`start_program` are also kept in a registry by name.

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
        if ready is not None and ready is not False:
            try:
                self.ready_line = self.wait_output(_FIRST_LINE if ready is True else ready,
                                                   timeout=timeout).splitlines()[-1]
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

        what = "its first line" if expected is _FIRST_LINE else repr(expected)

        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                lines = self._lines["stdout"]
                for at in range(self._cursor, len(lines)):
                    if matches(lines[at]):
                        got, self._cursor = lines[self._cursor:at + 1], at + 1
                        return Output("\n".join(got))
                if not any(r.is_alive() for r in self._readers) or self._stopped:
                    raise self._ended_before(what)
                left = deadline - time.monotonic()
                if left <= 0:
                    if expected is _FIRST_LINE:
                        raise LabTimeoutError(f"{self.name} printed no whole line within "
                                              f"{timeout:g} s{self._told()}")
                    raise LabTimeoutError(f"{self.name} did not print {what} within "
                                          f"{timeout:g} s{self._told()}")
                self._changed.wait(min(left, 0.05))  # short: a reader may end without a last notify

    def _ended_before(self, what: str) -> ProgramExitedError:
        """The error for a program whose output ended before the awaited line."""
        code = self._status()
        self._changed.release()  # the readers may still be adding stderr's last lines
        try:
            for reader in self._readers:
                reader.join(2)
        finally:
            self._changed.acquire()
        err = "\n".join(self._lines["stderr"])
        tail = "\n".join(err.strip().splitlines()[-5:]) or "(nothing)"
        message = (f"{self.name} exited (exit code {code}) before printing {what}. "
                   f"The end of what it wrote to stderr:\n{tail}")
        if "Address already in use" in err:
            message += ("\nAnother program still listens on that port: a copy started in a "
                        "terminal or in another notebook? Stop it (Ctrl-C in its terminal, "
                        "Kernel > Restart in the notebook), then run this cell again.")
        return ProgramExitedError(message, code if isinstance(code, int) else None, err)

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
        if not any(reader.is_alive() for reader in self._readers):
            for pipe in (self.proc.stdout, self.proc.stderr):
                pipe.close()  # read to the end: nothing more will come
        return code

    # -- as subprocess.Popen answers -------------------------------------------------
    def poll(self) -> int | None:
        """The exit status, or None while the program runs."""
        return self.proc.poll()

    def kill(self) -> None:
        """End the program at once (SIGKILL; TerminateProcess on Windows)."""
        if self.proc.poll() is None:
            self.proc.kill()

    def communicate(self, timeout: float = 5.0) -> tuple[str, str]:
        """Wait for the end; return what it printed that was not read yet, ``(stdout,
        stderr)``, as text with a newline after each line, as ``subprocess.Popen`` does
        (the readiness line has been read: it is not in stdout again)."""
        self.wait(timeout)
        with self._changed:
            out = self._lines["stdout"][self._cursor:]
            self._cursor = len(self._lines["stdout"])
            return ("".join(f"{line}\n" for line in out),
                    "".join(f"{line}\n" for line in self._lines["stderr"]))

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
        PROGRAMS.forget(self)
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited with status {self.returncode}"
        return f"<Program {self.name!r} {state}>"


# --- the registry --------------------------------------------------------------------

PROGRAMS = Registry()  # every program start_program() started, by name

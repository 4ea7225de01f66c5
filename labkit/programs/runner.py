"""Programs in other processes: start from an argument list, wait for readiness, show output, stop.

    server = start_program([sys.executable, "-m", "labkit", "serve", "echo"], ready="listening")
    server.stdout                    # what it printed so far (shown by the cell, never by a thread)
    run_program(["php", "client.php"])   # runs to the end; shows its output
    stop_programs()                  # every program started here

A program is started from an argument list (never through a shell), with stdin
closed and stdout and stderr on pipes. Two daemon threads read the pipes line by
line and keep the lines, decoded as UTF-8; a cell shows them when it asks, so a
program never prints into whatever cell happens to be running.

A server is ready when it says so: ``start_program`` waits for its *readiness
line* on stdout, not for a probe connection (the seed's Java server quits on any
IOException, a probe's included). ``stop()`` sends SIGTERM, then SIGKILL after a
timeout, and joins the reader threads. Programs started with ``start_program``
are kept in a registry by name, so re-running a cell replaces the old process.
``labkit.programs.langs`` builds the Java and PHP command lines on top of this.
"""

from __future__ import annotations

import atexit
import dataclasses
from pathlib import Path

from labkit.programs.process import PROGRAMS, Output, Program

__all__ = ["Finished", "program_path", "start_program", "run_program", "running_programs",
           "stop_programs"]

_PROGRAMS = Path(__file__).resolve().parents[2] / "notebooks" / "programs"


def program_path(name) -> Path:
    """Find a program file: as given, then in ``programs/``, then in the course's programs folder.

    >>> program_path("server.php").parent.name
    'programs'
    """
    path = Path(name)
    for candidate in (path, Path("programs") / path, _PROGRAMS / path.name):
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"no program file {str(name)!r} here, in programs/ or in {_PROGRAMS}")


@dataclasses.dataclass
class Finished:
    """A program that ran to the end: its argv, exit status and output. Shows its output.

    >>> Finished(["client"], 1, Output("hello"), Output("connection refused"))
    hello
    [stderr]
    connection refused
    [exit status 1]
    """

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


# --- the registry (kept in labkit.programs.process, which Program.stop() updates) ----


def start_program(argv, *, name: str | None = None, ready=None, timeout: float = 10.0,
                  cwd=None) -> Program:
    """Start *argv* in the background, replacing a program of the same name; wait for *ready*.

    The name is the command line unless *name* is given, so running a cell that
    starts a program again ends the copy it started before.

    >>> import sys
    >>> code = "import time; print('ready', flush=True); time.sleep(60)"
    >>> server = start_program([sys.executable, "-c", code], name="sleeper", ready="ready")
    >>> server
    <Program 'sleeper' running>
    >>> server.stdout
    ready
    >>> _ = server.stop()     # its exit status: ended by stop()'s SIGTERM
    >>> server.running
    False
    """
    if name is None:  # the command line, its program by file name: python3 programs/server.py 0
        name = " ".join([Path(str(argv[0])).name, *map(str, argv[1:])])
        name += "" if cwd is None else f" (in {cwd})"
    return PROGRAMS.replace(name, lambda: Program(argv, name=name, ready=ready, timeout=timeout,
                                                  cwd=cwd))


def run_program(argv, *, timeout: float = 10.0, cwd=None) -> Finished:
    """Run *argv* to the end (killed after *timeout* s: LabTimeoutError) and return its output.

    >>> import sys
    >>> run_program([sys.executable, "-c", "print('hello')"])
    hello
    """
    program = Program(argv, name=Path(str(argv[0])).name, cwd=cwd)
    try:
        code = program.wait(timeout)
    finally:
        program.stop()
    return Finished(program.argv, code, program.stdout, program.stderr)


def running_programs() -> list[Program]:
    """The programs started with start_*() that are still registered.

    >>> import sys
    >>> code = "import time; print('ready', flush=True); time.sleep(60)"
    >>> server = start_program([sys.executable, "-c", code], name="sleeper", ready="ready")
    >>> server in running_programs()
    True
    >>> _ = server.stop()
    >>> server in running_programs()
    False
    """
    return PROGRAMS.all()


def stop_programs(timeout: float = 2.0) -> int:
    """Stop every program started with start_*(); return how many were stopped.

    >>> import sys
    >>> code = "import time; print('ready', flush=True); time.sleep(60)"
    >>> server = start_program([sys.executable, "-c", code], name="sleeper", ready="ready")
    >>> stop_programs() >= 1, server.running
    (True, False)

    (``labkit.stop_all()`` stops the servers; the notebook calls both at its end.)
    """
    programs = running_programs()
    for program in programs:
        program.stop(timeout)
    return len(programs)


atexit.register(stop_programs)

"""A pre-flight check for learners and instructors: ``python -m labkit doctor``.

Each check says what it found and, when something is missing, how to fix it.
Essential checks (Python, packages, a kernel, loopback sockets) decide the exit
status; Java and PHP are only needed by lesson 09 and are reported as optional.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import socket
import sys

__all__ = ["PreflightCheck", "PreflightReport", "doctor", "runtime_check"]

PACKAGES = ("jupyterlab", "ipykernel", "nbval", "matplotlib", "ipywidgets", "psutil", "trustme")


@dataclasses.dataclass
class PreflightCheck:
    """One line of the report: what was checked, whether it passed, and the fix if not.

    >>> print(PreflightCheck("Python", True, "3.11.7"))
    ✓ Python: 3.11.7
    >>> print(PreflightCheck("PHP", False, "not found", essential=False, fix="apt-get install php-cli"))
    – PHP: not found
        fix: apt-get install php-cli
    """

    name: str
    ok: bool
    detail: str
    essential: bool = True
    fix: str = ""

    def __str__(self) -> str:
        mark = "✓" if self.ok else ("✗" if self.essential else "–")
        text = f"{mark} {self.name}: {self.detail}"
        if not self.ok and self.fix:
            text += f"\n    fix: {self.fix}"
        return text


@dataclasses.dataclass
class PreflightReport:
    """Every check, and a verdict: ready when every essential check passed.

    >>> report = PreflightReport([PreflightCheck("Python", True, "3.11.7"),
    ...                  PreflightCheck("PHP", False, "not found", essential=False)])
    >>> report.ok, report["PHP"].ok
    (True, False)
    >>> report
    ✓ Python: 3.11.7
    – PHP: not found
    labkit doctor: ready
    """

    checks: list[PreflightCheck]

    @property
    def ok(self) -> bool:
        """True when every essential check passed."""
        return all(c.ok for c in self.checks if c.essential)

    def __getitem__(self, name: str) -> PreflightCheck:
        return next(c for c in self.checks if c.name == name)

    def __str__(self) -> str:
        verdict = "ready" if self.ok else "NOT ready: fix the ✗ lines above"
        return "\n".join([*map(str, self.checks), f"labkit doctor: {verdict}"])

    __repr__ = __str__


def _python() -> PreflightCheck:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 10)
    return PreflightCheck("Python", ok, version, fix="install Python 3.10 or newer")


def _packages() -> PreflightCheck:
    found, missing = [], []
    for name in PACKAGES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    detail = ", ".join(found) + (f"; missing: {', '.join(missing)}" if missing else "")
    return PreflightCheck("packages", not missing, detail,
                 fix="python -m pip install -r requirements.txt")


def _kernel() -> PreflightCheck:
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        names = sorted(KernelSpecManager().find_kernel_specs())
    except Exception as exc:  # jupyter_client missing or broken
        return PreflightCheck("Jupyter kernel", False, f"cannot list kernels ({exc})",
                     fix="python -m pip install ipykernel")
    ok = "python3" in names
    return PreflightCheck("Jupyter kernel", ok, ", ".join(names) or "none",
                 fix="python -m ipykernel install --user")


def _loopback() -> PreflightCheck:
    try:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            with socket.create_connection(listener.getsockname(), timeout=2) as client:
                conn, _ = listener.accept()
                with conn:
                    client.sendall(b"!")
                    conn.settimeout(2)
                    ok = conn.recv(1) == b"!"
        return PreflightCheck("loopback", ok, "bind, listen, connect, send and recv on 127.0.0.1 work")
    except OSError as exc:
        return PreflightCheck("loopback", False, f"{type(exc).__name__}: {exc}",
                     fix="check that the loopback interface is up and not blocked")


_RUNTIMES = {"java": ("Java", 'version "{version}"'), "php": ("PHP", "PHP {version}")}


def runtime_check(name: str) -> PreflightCheck:
    """Java or PHP, by the rule lesson 09 and the tests use (labkit.programs.langs.find_runtime):
    Java 11 or newer, PHP with its sockets extension.

    >>> runtime_check("php").name
    'PHP'
    """
    from labkit.errors import RuntimeMissingError
    from labkit.programs.langs import INSTALL, find_runtime

    label, shown = _RUNTIMES[name]
    try:
        found = find_runtime(name)
    except RuntimeMissingError as exc:
        return PreflightCheck(label, False, f"{exc} (needed by lesson 09)", essential=False,
                     fix=INSTALL[name])
    return PreflightCheck(label, True, shown.format(version=found.version), essential=False)


def doctor() -> PreflightReport:
    """Run every check and return the report (print it, or look at ``.ok``).

    >>> report = doctor()                     # the first call takes about a second
    >>> print(report["loopback"])
    ✓ loopback: bind, listen, connect, send and recv on 127.0.0.1 work

    Printed whole, the report has one line per check (Python, packages, Jupyter kernel,
    loopback, Java, PHP) and ends ``labkit doctor: ready`` when every essential one passed.
    """
    return PreflightReport([
        _python(), _packages(), _kernel(), _loopback(),
        runtime_check("java"),
        runtime_check("php"),
    ])

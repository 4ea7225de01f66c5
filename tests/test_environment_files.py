"""The files that install the course agree with one another.

Four files say what the course needs: requirements.txt (pip, the README's commands),
environment.yml (conda, and Binder through repo2docker), apt.txt (system packages on
Binder) and .ci/run (what CI installs on a fresh machine). pyproject.toml declares
labkit's own dependencies. A change to one that the others miss would break one route
into the course without any lesson failing, so these tests read all of them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lines(name: str) -> list[str]:
    """The non-empty lines of a file, comments removed."""
    text = (ROOT / name).read_text(encoding="utf-8")
    return [line.split("#", 1)[0].strip() for line in text.splitlines()
            if line.split("#", 1)[0].strip()]


def requirement_floors(specs) -> dict[str, str]:
    """{'psutil': '>=6', ...} from requirement lines (names lowercased)."""
    floors = {}
    for spec in specs:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", spec)
        if match and not spec.startswith("-"):
            floors[match.group(1).lower()] = match.group(2).replace(" ", "")
    return floors


def conda_environment() -> tuple[list[str], list[str]]:
    """environment.yml's conda dependencies and its pip list (a small reader, no YAML library)."""
    conda, pip, section = [], [], None
    for line in lines("environment.yml"):
        if line.startswith("dependencies:"):
            section = "conda"
        elif line == "- pip:":
            section = "pip"
        elif line.startswith("- ") and section == "pip" and not line.startswith("- pip"):
            pip.append(line[2:].strip())
        elif line.startswith("- ") and section in ("conda", "pip"):
            section = "conda"
            conda.append(line[2:].strip())
    return conda, pip


def ci_apt_packages() -> set[str]:
    """Every package name .ci/run may hand to apt-get."""
    return set(re.findall(r"need\+=\(([a-z0-9.+-]+)\)", (ROOT / ".ci/run").read_text()))


def test_conda_installs_exactly_the_pip_requirements():
    conda, pip = conda_environment()
    assert pip == ["-r requirements.txt"], "environment.yml must take its pip packages from requirements.txt"
    assert "pip" in conda


def test_the_python_versions_agree():
    conda, _ = conda_environment()
    python = next(dep for dep in conda if dep.startswith("python"))
    wanted = tuple(int(n) for n in python.split("=")[1].split("."))
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert wanted >= tuple(int(n) for n in floor.removeprefix(">=").split("."))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"Python {floor.removeprefix('>=')} or newer" in readme


def test_labkits_own_dependencies_have_the_same_floors_as_requirements():
    declared = requirement_floors(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    required = requirement_floors(lines("requirements.txt"))
    for name, floor in declared.items():
        assert required.get(name) == floor, f"{name}: pyproject says {floor!r}, requirements.txt {required.get(name)!r}"
    assert "-e ." in lines("requirements.txt")  # labkit itself, from this checkout


def test_java_comes_from_one_place_on_binder_and_is_new_enough():
    conda, _ = conda_environment()
    java = [dep for dep in conda if dep.startswith("openjdk")]
    assert len(java) == 1
    assert int(re.search(r">=\s*(\d+)", java[0]).group(1)) >= 11  # lesson 09 needs Java 11+
    assert not [pkg for pkg in lines("apt.txt") if "jdk" in pkg or "jre" in pkg or "java" in pkg], \
        "environment.yml brings Java from conda: apt.txt must not install it a second time"


def test_binder_and_ci_install_the_same_system_packages():
    apt = set(lines("apt.txt"))
    assert "php-cli" in apt  # lesson 09; the sockets extension is part of it on Debian and Ubuntu
    ci = ci_apt_packages()
    assert apt <= ci, f"apt.txt installs {sorted(apt - ci)}, which CI never tests"
    # CI has Java from apt (no conda there), and its own tools: Chromium, npm, a venv, ip
    assert ci - apt == {"default-jdk-headless", "chromium", "npm", "python3-venv", "iproute2"}


def test_ci_checks_java_and_php_by_labkits_rule_and_runs_the_readme_command():
    # one detector (Java 11+, PHP with sockets): .ci/run asks labkit's, not `command -v`
    run = (ROOT / ".ci/run").read_text()
    assert "python -m labkit doctor --need java --need php" in run
    assert "command -v java" not in run and "command -v php" not in run
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "python -m pip install -r requirements.txt && python -m pytest"
    assert command in readme
    assert command.replace("install -r", "install -q -r") in run


@pytest.mark.parametrize("name", ["requirements.txt", "environment.yml", "apt.txt"])
def test_readme_names_each_install_file(name):
    assert name in (ROOT / "README.md").read_text(encoding="utf-8")

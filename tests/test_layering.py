"""labkit's house rules, read from the source: which subpackage may import which, no
reaching into another subpackage's underscore names, and no module too long to read.

The rules are the table ALLOWED below; CONTRIBUTING.md shows it as a table for people.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

LABKIT = Path(__file__).resolve().parent.parent / "labkit"
MOST_LINES = 400

# what each part of labkit may import (besides itself)
ALLOWED = {
    "errors": set(),
    "registry": set(),
    "wire": {"errors"},
    "serving": {"errors", "wire"},
    "seeing": {"errors", "wire", "serving"},
    "programs": {"errors", "wire"},
    "chat": {"errors", "wire", "serving", "seeing"},
    "course": {"errors", "wire", "serving", "seeing"},
    "classroom": {"errors", "wire", "serving", "seeing", "chat"},
    "exercises": {"errors", "wire", "serving", "seeing", "programs", "chat", "course"},
    "__main__": {"errors", "wire", "serving", "programs", "classroom"},
    "__init__": set(),  # the face imports lazily, by name, nothing at import
}
for _part, _allowed in ALLOWED.items():  # the two leaf modules serve every part
    if _part not in ("errors", "registry", "__init__"):
        _allowed |= {"errors", "registry"}
# a server never pulls in the notebook UI
SERVER_SIDE = {"labkit.chat.room", "labkit.chat.conformance", "labkit.classroom.handlers"}
EXERCISE_CORE = {"labkit.exercises.core", "labkit.exercises.watch"}


def module_name(path: Path) -> str:
    parts = path.relative_to(LABKIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(name: str) -> str:
    """The part of labkit a module belongs to: its subpackage, or its own name at the top."""
    parts = name.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def imports(path: Path):
    """(line, imported module, names taken from it) for every labkit import in *path*."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("labkit"):
                    yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("labkit"):
                names = [a.name for a in node.names]
                # "from labkit.x import y" where y is a module is an import of labkit.x.y
                yield node.lineno, target, names


def sources():
    return sorted(LABKIT.rglob("*.py"))


def test_imports_run_one_way():
    wrong = []
    for path in sources():
        here = module_name(path)
        mine = part_of(here)
        for line, target, names in imports(path):
            theirs = part_of(target) if target != "labkit" else "__init__"
            if theirs == "__init__" and target == "labkit":
                wrong.append(f"{here}:{line} imports the package face (import what you need "
                             "from its subpackage)")
                continue
            if theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(f"{here}:{line} imports {target}: {mine} may not import {theirs}")
            if here in SERVER_SIDE and theirs == "seeing":
                wrong.append(f"{here}:{line} imports {target}: server-side code stays free of "
                             "widgets and figures")
            if here in EXERCISE_CORE and target.startswith("labkit.exercises.") \
                    and target not in EXERCISE_CORE:
                wrong.append(f"{here}:{line} imports {target}: the exercise core never imports "
                             "a lesson's checks")
    assert wrong == []


def test_nothing_takes_another_subpackages_underscore_names():
    wrong = []
    for path in sources():
        here = module_name(path)
        mine = part_of(here)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        foreign_modules = set()  # local names bound to another part's modules
        for line, target, names in imports(path):
            if part_of(target) == mine or target == "labkit":
                continue
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    wrong.append(f"{here}:{line} takes {target}.{name}")
                else:
                    foreign_modules.add(name)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in foreign_modules and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                wrong.append(f"{here}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert wrong == []


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(LABKIT)))
def test_no_module_is_too_long_to_read(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MOST_LINES, f"{lines} lines: split it by concern"


def test_the_rules_catch_a_back_edge(tmp_path, monkeypatch):
    # the checker itself: a wire module importing a server must be refused
    fake = tmp_path / "labkit" / "wire"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from labkit.serving.base import _bind\n")
    monkeypatch.setattr(sys.modules[__name__], "LABKIT", tmp_path / "labkit")
    with pytest.raises(AssertionError, match="wire may not import serving"):
        test_imports_run_one_way()
    with pytest.raises(AssertionError, match="takes labkit.serving.base._bind"):
        test_nothing_takes_another_subpackages_underscore_names()

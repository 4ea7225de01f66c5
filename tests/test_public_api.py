"""labkit's public surface: a short face for learners, every other name in its subpackage.

- ``labkit.__all__`` holds at most 60 names, each found in the module that defines it;
- each subpackage's ``__all__`` is the union of its modules' ``__all__``;
- every public function and class of a module is in that module's ``__all__``;
- ``import labkit`` imports none of its modules (and so scans nothing) until a name is used.
"""

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

import labkit

pytestmark = pytest.mark.timeout(60)

SUBPACKAGES = sorted(m.name for m in pkgutil.iter_modules(labkit.__path__) if m.ispkg)
MODULES = sorted(
    [f"labkit.{m.name}" for m in pkgutil.iter_modules(labkit.__path__)
     if not m.ispkg and not m.name.startswith("_")]
    + [f"labkit.{pkg}.{m.name}" for pkg in SUBPACKAGES
       for m in pkgutil.iter_modules(importlib.import_module(f"labkit.{pkg}").__path__)])


def test_there_are_subpackages_by_concern():
    assert {"wire", "serving", "seeing", "programs", "chat", "classroom", "exercises",
            "course"} <= set(SUBPACKAGES)


@pytest.mark.parametrize("name", MODULES)
def test_every_public_function_and_class_is_in_the_modules_all(name):
    module = importlib.import_module(name)
    defined = {n for n, v in vars(module).items()
               if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v))
               and v.__module__ == module.__name__}
    exported = set(getattr(module, "__all__", ()))
    assert defined <= exported, f"public but not in __all__: {defined - exported}"
    assert all(hasattr(module, n) for n in exported)


@pytest.mark.parametrize("pkg", SUBPACKAGES)
def test_a_subpackage_exports_what_its_modules_export(pkg):
    package = importlib.import_module(f"labkit.{pkg}")
    modules = [importlib.import_module(f"labkit.{pkg}.{m.name}")
               for m in pkgutil.iter_modules(package.__path__)
               # each lesson's checks register themselves; exercise() finds them by name
               if pkg != "exercises" or m.name in ("core", "watch")]
    names = {n for m in modules for n in getattr(m, "__all__", ())}
    assert names <= set(package.__all__)
    assert len(set(package.__all__)) == len(package.__all__), "a name is exported twice"


def test_the_face_is_short_and_every_name_is_its_modules_own():
    assert len(labkit.__all__) <= 60
    assert len(set(labkit.__all__)) == len(labkit.__all__)
    for name in labkit.__all__:
        value = getattr(labkit, name)
        module = importlib.import_module(f"labkit.{labkit._WHERE[name]}")
        assert value is getattr(module, name)
        assert name in module.__all__, f"{name} is on the face but not in its module's __all__"


def test_the_generic_names_are_gone_from_the_face():
    for generic in ("Check", "Report", "call", "snapshot"):
        assert generic not in labkit.__all__
        with pytest.raises(AttributeError):
            getattr(labkit, generic)


def test_the_face_looks_a_name_up_at_each_use():
    # a check that watches labkit.wire.javautf.write_utf sees calls made as labkit.write_utf
    from labkit.wire import javautf
    original = javautf.write_utf
    try:
        javautf.write_utf = marker = lambda *args: None
        assert labkit.write_utf is marker
    finally:
        javautf.write_utf = original
    assert labkit.write_utf is original


def test_importing_labkit_imports_none_of_its_modules():
    code = ("import sys, labkit\n"
            "print(sorted(m for m in sys.modules if m.startswith('labkit.')))\n"
            "print('psutil' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30, check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "False"  # so nothing scans the socket table at import


def test_an_unknown_name_says_so():
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        labkit.nothing_here  # noqa: B018


def _public_callables():
    for name in MODULES:
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", ()):
            value = getattr(module, public)
            if ((inspect.isfunction(value) or inspect.isclass(value))
                    and value.__module__ == module.__name__):
                yield f"{name}.{public}", value


@pytest.mark.parametrize("name, value", list(_public_callables()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_public_function_and_class_has_an_example(name, value):
    # the examples run as doctests in the README's test command (the root conftest.py)
    assert ">>>" in (inspect.getdoc(value) or ""), f"{name} has no example in its docstring"

"""labkit's public surface: one __all__ in labkit/__init__.py, matching what the modules define."""

import importlib
import inspect
import pkgutil

import pytest

import labkit

pytestmark = pytest.mark.timeout(30)

MODULES = sorted(m.name for m in pkgutil.iter_modules(labkit.__path__)
                 if not m.name.startswith("_") and not m.ispkg)


@pytest.mark.parametrize("name", MODULES)
def test_every_public_function_and_class_is_in_the_modules_all(name):
    module = importlib.import_module(f"labkit.{name}")
    defined = {n for n, v in vars(module).items()
               if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v))
               and v.__module__ == module.__name__}
    assert defined <= set(module.__all__), f"public but not in __all__: {defined - set(module.__all__)}"
    assert all(hasattr(module, n) for n in module.__all__)


def test_the_package_all_is_the_union_of_the_modules():
    names = [n for m in MODULES for n in importlib.import_module(f"labkit.{m}").__all__]
    assert sorted(labkit.__all__) == sorted(names)
    assert len(set(labkit.__all__)) == len(labkit.__all__), "a name is exported twice"
    assert all(getattr(labkit, n) is not None for n in labkit.__all__)

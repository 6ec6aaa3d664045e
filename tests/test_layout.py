"""The tests' own layout: a helper that several test modules use lives in a support module
(``tests/*_support.py``, ``tests/local_network.py``, ...), never in a test module that others
import. Importing a test module from another runs its module-level code and collects nothing
new, and ties one test file to another's internals."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_test_modules(source: str, test_modules: set[str]) -> list[str]:
    """The names in ``test_modules`` that ``source`` imports, at any depth (in a function too),
    in any form (``import m``, ``from m import x``, ``from . import m``, ``from p.m import x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            dotted = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            dotted = [f"{node.module or ''}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(part for name in dotted for part in name.split(".") if part in test_modules)
    return sorted(found)


def test_the_check_sees_a_test_module_imported_in_any_form() -> None:
    modules = {"test_faults", "test_transport", "test_hook"}
    assert imported_test_modules("import test_faults\n", modules) == ["test_faults"]
    assert imported_test_modules("def f():\n    from test_transport import TLSServer\n", modules) == [
        "test_transport"
    ]
    assert imported_test_modules("from . import test_hook as h\n", modules) == ["test_hook"]
    assert imported_test_modules("from tests.test_faults import x\n", modules) == ["test_faults"]
    assert imported_test_modules("import pytest\nfrom tls_support import TLSServer\n", modules) == []


def test_no_test_module_imports_another() -> None:
    paths = sorted(TESTS.rglob("test_*.py"))
    modules = {path.stem for path in paths}
    assert {"test_faults", "test_layout"} <= modules  # the search found the tests
    imports = {
        str(path.relative_to(TESTS)): found
        for path in paths
        if (found := imported_test_modules(path.read_text(encoding="utf-8"), modules))
    }
    assert imports == {}, "move what these import into a support module (e.g. tests/tls_support.py)"

"""No two modules of the package import each other, directly or in a loop (issue 23, item 5).

The graph is read from the source with ``ast``, not by importing: every ``import`` and
``from ... import`` of a package module counts, at module level and inside functions alike
(the package defers heavy or Airflow imports into functions, and a deferred import that closes
a loop is still a loop, only one that bites later). Imports under ``if TYPE_CHECKING:`` are
left out: they never run, they only name types. An edge goes to the module named (``from
pkg.mod import name`` is ``pkg.mod``, or ``pkg.mod.name`` when that is a module itself), not
to the parent packages Python imports on the way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import airflow_provider_signal

PACKAGE = airflow_provider_signal.__name__
ROOT = Path(airflow_provider_signal.__file__).parent


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements under ``node`` that can run (not the body of ``if TYPE_CHECKING``)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for orelse in child.orelse:
                yield from _runtime_imports(ast.Module(body=[orelse], type_ignores=[]))
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from _runtime_imports(child)


def imports_of(name: str, source: str, known: set[str], is_package: bool = False) -> set[str]:
    """The package modules that module ``name`` (its text ``source``) imports when its code runs."""
    found: set[str] = set()
    for statement in _runtime_imports(ast.parse(source, name)):
        if isinstance(statement, ast.Import):
            found.update(alias.name for alias in statement.names if alias.name in known)
            continue
        base = statement.module or ""
        if statement.level:  # relative: from the package holding this module
            anchor = name.split(".")
            anchor = anchor if is_package else anchor[:-1]
            anchor = anchor[: len(anchor) - (statement.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in statement.names:
            target = f"{base}.{alias.name}"
            if target in known:
                found.add(target)
            elif base in known:
                found.add(base)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    names = set(known)
    return {
        name: imports_of(name, path.read_text(), names, path.name == "__init__.py")
        for name, path in known.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan's algorithm),
    each as a path that starts and ends at the same module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_loop_in(graph, component) for component in components]


def _loop_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest loop through the component's first module (breadth-first)."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no loop in {component}")  # a strongly connected component has one


def test_no_module_of_the_package_imports_itself_through_others() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(loop) for loop in found)


def test_imports_inside_functions_count_and_type_checking_ones_do_not() -> None:
    source = """
from typing import TYPE_CHECKING
from pkg import top
from . import sibling
if TYPE_CHECKING:
    from pkg.types_only import Name
else:
    import pkg.fallback
def later():
    from pkg.deferred import thing
    from .sub import mod
"""
    known = {"pkg", "pkg.top", "pkg.sibling", "pkg.types_only", "pkg.fallback", "pkg.deferred"}
    known |= {"pkg.sub", "pkg.sub.mod"}
    assert imports_of("pkg.here", source, known) == {
        "pkg.top",
        "pkg.sibling",
        "pkg.fallback",
        "pkg.deferred",
        "pkg.sub.mod",
    }
    assert imports_of("pkg.sub", "from . import mod\nfrom .. import top", known, is_package=True) == {
        "pkg.sub.mod",
        "pkg.top",
    }


def test_a_loop_is_found_and_named() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d2"}, "d2": set(), "e": {"f"}, "f": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"]]

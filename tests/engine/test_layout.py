"""The engine's module layout: sdblocal's imports form no cycle, and none hides in a function body.

Read from the source with ``ast`` (nothing is imported), so a cycle that only a lazy, function-level
import kept from failing at import time is caught too. Imports under ``if TYPE_CHECKING:`` count:
mypy follows them.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Mapping
from pathlib import Path

import pytest

PACKAGE = "sdblocal"
SOURCE = Path(__file__).resolve().parents[2] / "local" / PACKAGE
MODULES = {
    PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}": path
    for path in sorted(SOURCE.glob("*.py"))
}


def imported_modules(
    module: str, node: ast.Import | ast.ImportFrom, modules: Mapping[str, Path] = MODULES
) -> set[str]:
    """The sdblocal modules an import statement of ``module`` loads (the package itself for its names)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE}
    if node.level:
        package = module if module == PACKAGE else module.rsplit(".", 1)[0]
        base = ".".join([package, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    if base.split(".")[0] != PACKAGE:
        return set()
    found = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        # `from . import controls` loads a module; `from . import activate` a name of the package.
        found.add(submodule if submodule in modules else base)
    return found


def imports_of(path: Path) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement of a module, and whether it sits inside a function or class body."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, nested))
            inner = nested or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
            )
            visit(child, inner)

    visit(tree, False)
    return found


def import_graph(modules: Mapping[str, Path] = MODULES) -> dict[str, set[str]]:
    return {
        module: {
            target
            for node, _ in imports_of(path)
            for target in imported_modules(module, node, modules)
            if target != module
        }
        for module, path in modules.items()
    }


def test_the_graph_is_read_from_every_module() -> None:
    graph = import_graph()
    assert {"sdblocal", "sdblocal.model", "sdblocal.select", "sdblocal.responses"} <= set(graph)
    # The reader resolves relative imports: a few edges the layout depends on.
    assert "sdblocal.model" in graph["sdblocal.select"]
    assert "sdblocal.responses" in graph["sdblocal.urls"]
    assert "sdblocal.activation" in graph["sdblocal"]


def test_imports_of_sdblocal_are_acyclic() -> None:
    graph = import_graph()
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle in sdblocal: {' -> '.join(exc.args[1])}")
    assert set(order) == set(graph)


def test_no_function_imports_an_sdblocal_module() -> None:
    hidden = [
        f"{module}:{node.lineno}"
        for module, path in MODULES.items()
        for node, nested in imports_of(path)
        if nested and imported_modules(module, node)
    ]
    assert hidden == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("sdblocal.a", "from . import b", {"sdblocal.b"}),
        ("sdblocal.a", "from . import not_a_module", {"sdblocal"}),
        ("sdblocal.a", "from .b import name", {"sdblocal.b"}),
        ("sdblocal", "from .b import name", {"sdblocal.b"}),
        ("sdblocal.a", "import sdblocal.b", {"sdblocal.b"}),
        ("sdblocal.a", "from sdblocal import b", {"sdblocal.b"}),
        ("sdblocal.a", "from moto import core", set()),
    ],
)
def test_the_reader_resolves_imports(module: str, source: str, expected: set[str]) -> None:
    modules = {"sdblocal": Path("__init__.py"), "sdblocal.a": Path("a.py"), "sdblocal.b": Path("b.py")}
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.Import | ast.ImportFrom)
    assert imported_modules(module, node, modules) == expected


def test_the_reader_sees_a_cycle_and_a_hidden_import(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from .a import x\n    return x\n")
    modules = {"sdblocal.a": tmp_path / "a.py", "sdblocal.b": tmp_path / "b.py"}
    graph = import_graph(modules)
    assert graph == {"sdblocal.a": {"sdblocal.b"}, "sdblocal.b": {"sdblocal.a"}}
    with pytest.raises(graphlib.CycleError):
        list(graphlib.TopologicalSorter(graph).static_order())
    assert [nested for _, nested in imports_of(modules["sdblocal.b"])] == [True]

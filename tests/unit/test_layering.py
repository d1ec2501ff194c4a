"""The layer's architecture, held by its imports (docs/DESIGN.md): each package imports only the layers below it,
and no module imports itself back through others."""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "layers" / "shared"
PACKAGE = PACKAGE_ROOT / "simpledb_backup"

#: Each layer and the layers it may import, lowest first. The core is the package's top-level modules.
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "formats": {"core", "formats"},
    "aws": {"core", "formats", "aws"},
    "backup": {"core", "formats", "aws", "backup"},
    "restore": {"core", "formats", "aws", "backup", "restore"},
    "drill": {"core", "formats", "aws", "backup", "restore", "drill"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "core"
    if parts[1] in ALLOWED and parts[1] != "core":
        return parts[1]
    return "core"


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("simpledb_backup"):
            found.add(node.module)
            # ``from simpledb_backup.formats import dumpformat`` imports the submodule too.
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if (PACKAGE_ROOT / node.module.replace(".", "/") / f"{alias.name}.py").exists()
            )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("simpledb_backup"))
    return found


MODULES = {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_own_layer_and_those_below(module: str) -> None:
    upward = sorted(
        imported for imported in MODULES[module] if layer_of(imported) not in ALLOWED[layer_of(module)]
    )
    assert upward == [], f"{module} ({layer_of(module)}) imports {upward}"


def test_the_modules_import_each_other_without_cycles() -> None:
    # A package's __init__ is imported with each of its modules, so it counts as their dependency only
    # through what it imports itself.
    graph = {
        module: {imported for imported in imports if imported in MODULES}
        for module, imports in MODULES.items()
    }
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as cycle:
        pytest.fail(f"import cycle: {cycle.args[1]}")


def test_the_layering_check_sees_every_layer() -> None:
    assert {layer_of(module) for module in MODULES} == set(ALLOWED)
    assert "simpledb_backup.formats.dumpformat" in MODULES["simpledb_backup.restore.planning"]

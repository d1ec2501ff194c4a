"""The shape issue 9 set for the deployed code (layers/ and functions/): no class over 250 lines, no function over
60, so every job stays small enough to read in one go."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = sorted([*(ROOT / "layers").rglob("*.py"), *(ROOT / "functions").rglob("*.py")])
MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 60


def definitions(path: Path) -> list[tuple[str, ast.AST]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.name, node)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def length(node: ast.AST) -> int:
    assert isinstance(node, ast.stmt)
    return (node.end_lineno or node.lineno) - node.lineno + 1


@pytest.mark.parametrize("path", DEPLOYED, ids=lambda path: str(path.relative_to(ROOT)))
def test_deployed_code_keeps_its_classes_and_functions_short(path: Path) -> None:
    too_long = [
        f"{name}: {length(node)} lines"
        for name, node in definitions(path)
        if length(node) > (MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES)
    ]
    assert too_long == []


def test_the_shape_check_sees_the_code() -> None:
    assert len(DEPLOYED) > 20
    assert any(
        name == "RestoreRunner"
        for name, _ in definitions(ROOT / "layers/shared/simpledb_backup/restore/runner.py")
    )

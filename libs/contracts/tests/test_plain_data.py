"""contracts stays plain messages: its modules import the stdlib, pydantic (and its core) and each other only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SOURCE = Path(__file__).parents[1] / "src" / "contracts"


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_contracts_import_only_the_stdlib_and_pydantic() -> None:
    allowed = set(sys.stdlib_module_names) | {"pydantic", "pydantic_core", "contracts"}
    found = {
        f"{path.relative_to(SOURCE)}: {root}"
        for path in sorted(SOURCE.rglob("*.py"))
        for root in imported_roots(path) - allowed
    }
    assert found == set()

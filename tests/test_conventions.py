"""The house rules that a machine can check (CONTRIBUTING.md): they hold on every commit.

Each rule reads the source with `ast`, so a comment or a string never counts as code.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = sorted(p.parent for p in ROOT.glob("*/*/pyproject.toml"))
MAX_MODULE_LINES = 400  # CONTRIBUTING.md: split at about 300; past this the split is overdue

# Where a transaction may begin or commit: the edges named in CONTRIBUTING.md.
TRANSACTION_PLACES = {
    "libs/runtime/src/runtime/consumer.py",  # one transaction per message
    "libs/runtime/src/runtime/staged.py",  # one transaction per batch of staged messages
    "libs/runtime/src/runtime/outbox.py",  # the relay's claim
    "libs/runtime/src/runtime/service.py",  # Service.write: a write no consumed message carries
    "libs/runtime/src/runtime/migrations.py",
    "libs/runtime/src/runtime/retention.py",  # the scheduled pruning of expired rows, batch by batch
    "services/gateway/src/gateway/deps.py",  # one transaction per request
    "services/gateway/src/gateway/cli.py",  # the operator CLI
}


def production_modules() -> Iterator[Path]:
    for member in MEMBERS:
        for path in sorted((member / "src").rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def imported_modules(tree: ast.Module) -> Iterator[tuple[str, int]]:
    """Every module imported at run time (imports under `if TYPE_CHECKING:` are left out)."""
    type_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for stmt in branch.body
        for node in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def is_sql_place(path: Path) -> bool:
    name = relative(path)
    return (
        name.startswith("libs/runtime/")  # the shared glue: engine, outbox, inbox, consumer
        or path.name in ("repository.py", "models.py")
        or path.parent.name == "repository"
    )


def test_only_repositories_and_models_build_sql() -> None:
    """SQLAlchemy's query constructs belong to repositories (and tables to models); other modules
    may name `AsyncSession` and friends (`sqlalchemy.ext.asyncio`) to pass a session along."""
    found = [
        f"{relative(path)}:{line} imports {module}"
        for path in production_modules()
        if not is_sql_place(path)
        for module, line in imported_modules(parse(path))
        if module.split(".")[0] == "sqlalchemy" and not module.startswith("sqlalchemy.ext.asyncio")
    ]
    assert found == [], "SQL outside a repository or models module:\n" + "\n".join(found)


def test_transactions_begin_and_commit_only_at_the_edges() -> None:
    found = [
        f"{relative(path)}:{node.lineno} calls .{node.func.attr}()"
        for path in production_modules()
        if relative(path) not in TRANSACTION_PLACES
        for node in ast.walk(parse(path))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        # `transaction`: psycopg's, on a hot path's own connection
        and node.func.attr in ("begin", "begin_nested", "commit", "transaction")
    ]
    assert found == [], "a transaction opened outside the edges:\n" + "\n".join(found)


def test_no_production_module_looks_like_a_test() -> None:
    named_like_tests = [relative(p) for p in production_modules() if p.name.startswith("test_")]
    assert named_like_tests == []


def test_modules_stay_small() -> None:
    sizes = {relative(p): len(p.read_text().splitlines()) for p in production_modules()}
    too_big = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert too_big == {}, f"split these modules (lines): {too_big}"


def _declared(member: Path) -> set[str]:
    project = tomllib.loads((member / "pyproject.toml").read_text())["project"]
    return {
        _normalise(re.split(r"[\s\[<>=!~;]", dep, maxsplit=1)[0])
        for dep in project.get("dependencies", [])
    }


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_distribution_is_declared_by_the_package_that_imports_it() -> None:
    """A package that works only because a neighbour happens to install its dependency breaks
    the day that neighbour drops it."""
    distributions = packages_distributions()
    workspace = {member.name: member for member in MEMBERS}
    packages = {
        path.name: member
        for member in MEMBERS
        for path in (member / "src").iterdir()
        if path.is_dir()
    }
    missing: list[str] = []
    for member in MEMBERS:
        declared = _declared(member)
        own = {p for p, m in packages.items() if m == member}
        for path in sorted((member / "src").rglob("*.py")):
            for module, line in imported_modules(parse(path)):
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in own or top == "__future__":
                    continue
                if top in packages:
                    needed = {_normalise(packages[top].name), _normalise(top)}
                else:
                    needed = {_normalise(d) for d in distributions.get(top, [top])}
                if not needed & declared:
                    missing.append(
                        f"{relative(path)}:{line} imports {module} ({'/'.join(sorted(needed))})"
                    )
    assert workspace, "no workspace members found"
    assert missing == [], "imports of undeclared distributions:\n" + "\n".join(missing)

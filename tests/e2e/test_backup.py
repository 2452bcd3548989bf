"""`python -m runtime.backup`: one service's schema backed up, wiped, restored and found intact."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support import infra

STUDIO = str(Path(sys.executable).parent / "studio")  # the operator CLI of this environment

pytestmark = pytest.mark.e2e


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    with infra.fresh_database(postgres_url) as url:
        infra.migrate_all(url)
        yield url


def run(database_url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = list(argv) if argv[0] == STUDIO else [sys.executable, *argv]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def wipe(database_url: str, schema: str) -> None:
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        engine.dispose()


def snapshot(url: str) -> dict[str, object]:
    return {
        "users": infra.query(url, "SELECT id, email FROM gateway.users ORDER BY email"),
        "tokens": infra.query(url, "SELECT token_hash FROM gateway.api_tokens ORDER BY token_hash"),
        "migration": infra.query(url, "SELECT version_num FROM gateway.alembic_version"),
    }


def test_a_schema_backed_up_wiped_and_restored_is_intact(database: str, tmp_path: Path) -> None:
    for email in ("ada@example.com", "grace@example.com"):
        made = run(database, STUDIO, "token", "create", "--email", email)
        assert made.returncode == 0, made.stderr
    before = snapshot(database)
    assert len(before["users"]) == 2  # type: ignore[arg-type]
    compiler_before = infra.query(database, "SELECT version_num FROM compiler.alembic_version")
    backup = tmp_path / "gateway.dump"

    dumped = run(database, "-m", "runtime.backup", "dump", "gateway", str(backup))
    assert dumped.returncode == 0, dumped.stderr
    wipe(database, "gateway")
    assert infra.query(database, "SELECT count(*) FROM pg_namespace WHERE nspname = 'gateway'") == [
        (0,)
    ]

    restored = run(database, "-m", "runtime.backup", "restore", "gateway", str(backup))

    assert restored.returncode == 0, restored.stderr
    assert "schema 'gateway' restored from" in restored.stdout
    assert snapshot(database) == before
    # Only the gateway's schema was touched.
    assert infra.query(database, "SELECT version_num FROM compiler.alembic_version") == (
        compiler_before
    )


def test_a_restore_that_fails_leaves_the_schema_as_it_was(database: str, tmp_path: Path) -> None:
    made = run(database, STUDIO, "token", "create", "--email", "ada@example.com")
    assert made.returncode == 0, made.stderr
    before = snapshot(database)
    broken = tmp_path / "broken.dump"
    broken.write_bytes(b"PGDMP this is not a dump")

    restored = run(database, "-m", "runtime.backup", "restore", "gateway", str(broken))

    assert restored.returncode == 1
    assert restored.stderr.startswith("gateway: pg_restore failed:")
    assert snapshot(database) == before

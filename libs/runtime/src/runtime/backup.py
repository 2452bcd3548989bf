"""Back up and restore one service's schema with PostgreSQL's own tools (pg_dump, pg_restore).

    python -m runtime.backup dump gateway gateway.dump       # the schema, its data, its migrations
    python -m runtime.backup restore gateway gateway.dump    # the schema as it was at the dump

Each service owns one schema, so each is backed up and restored alone, with the same
`<SERVICE>_DATABASE_URL` / `DATABASE_URL` the service reads. A restore replaces the schema whole, in
one transaction (dropped and recreated from the dump, or left as it was): stop the service first. pg_dump must be at least the
server's major version.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from runtime.settings import CommonSettings, SettingsError, exit_on_settings_error, load_settings

SERVICES = ("gateway", "compiler", "test-runner", "publisher")


class BackupError(Exception):
    """pg_dump or pg_restore is missing or failed; the message says which and why."""


def schema_of(service: str) -> str:
    return service.replace("-", "_")


def libpq_url(url: str) -> str:
    """The URL pg_dump understands: no SQLAlchemy driver suffix."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def dump(database_url: str, schema: str, path: Path) -> None:
    """The schema's tables, data, indexes and migration history, in pg_dump's custom format."""
    _run(
        "pg_dump",
        "--format=custom",
        f"--schema={schema}",
        "--no-owner",
        "--no-privileges",
        f"--file={path}",
        f"--dbname={libpq_url(database_url)}",
    )


def restore(database_url: str, schema: str, path: Path) -> None:
    """Replace the schema with the one in `path`, in one transaction: all of it, or nothing."""
    for tool in ("pg_restore", "psql"):
        if shutil.which(tool) is None:
            raise BackupError(f"{tool} is not installed (PostgreSQL's client tools)")
    # pg_restore writes the dump as SQL; psql runs it after dropping the schema, all in one
    # transaction, so a failed restore leaves the schema as it was.
    with tempfile.TemporaryFile() as errors:
        psql = subprocess.Popen(
            [
                "psql",
                "--quiet",
                "--no-psqlrc",
                "--single-transaction",
                "--set=ON_ERROR_STOP=1",
                f"--dbname={libpq_url(database_url)}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        assert psql.stdin is not None  # asked for above
        psql.stdin.write(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE;\n'.encode())
        psql.stdin.flush()
        script = subprocess.run(
            ["pg_restore", "--no-owner", "--no-privileges", "--file=-", str(path)],
            stdout=psql.stdin,
            stderr=subprocess.PIPE,
            check=False,
        )
        # A pg_restore that failed on its own (not because psql stopped on an error and broke its
        # pipe): psql commits at the end of its input, so end it first and the drop rolls back.
        if script.returncode != 0 and psql.poll() is None:
            psql.kill()
            psql.wait()
            raise BackupError(f"pg_restore failed: {_last_line(script.stderr)}")
        psql.stdin.close()
        psql.wait()
        errors.seek(0)
        psql_errors = errors.read()
    if psql.returncode != 0:
        raise BackupError(f"psql failed: {_last_line(psql_errors)}")


def _last_line(output: bytes | str) -> str:
    text = output.decode(errors="replace") if isinstance(output, bytes) else output
    return (text.strip().splitlines() or ["no output"])[-1]


def _run(tool: str, *args: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (PostgreSQL's client tools)")
    result = subprocess.run([tool, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{tool} failed: {_last_line(result.stderr)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.backup", description="Back up or restore one service's schema."
    )
    parser.add_argument("action", choices=("dump", "restore"))
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        settings = load_settings(CommonSettings, args.service)
    except SettingsError as exc:
        exit_on_settings_error(exc)
    schema = schema_of(args.service)
    try:
        if args.action == "dump":
            dump(settings.database_url, schema, args.file)
        else:
            if not args.file.is_file():
                raise BackupError(f"no backup at {args.file}")
            restore(settings.database_url, schema, args.file)
    except BackupError as exc:
        print(f"{args.service}: {exc}", file=sys.stderr)  # noqa: T201
        raise SystemExit(1) from None
    done = "dumped to" if args.action == "dump" else "restored from"
    print(f"{args.service}: schema {schema!r} {done} {args.file}")  # noqa: T201


if __name__ == "__main__":
    main()

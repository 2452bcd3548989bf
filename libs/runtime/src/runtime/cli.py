"""Command-line pieces the services share: `python -m <service> migrate`."""

from __future__ import annotations

from pathlib import Path

from runtime.settings import CommonSettings, SettingsError, exit_on_settings_error, load_settings


def migrate_command(
    service: str, settings_cls: type[CommonSettings], migrations_dir: Path, schema: str
) -> None:
    """Create the database if needed and bring `schema` to the latest revision; errors in one line."""
    try:
        settings = load_settings(settings_cls, service)
    except SettingsError as exc:
        exit_on_settings_error(exc)
    # Alembic (and Mako under it) is for this command only: a service that serves never loads it.
    from runtime import migrations

    try:
        migrations.ensure_database(settings.database_url)
        migrations.upgrade(migrations_dir, settings.database_url, schema)
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        first = reason[0] if reason else type(exc).__name__
        raise SystemExit(f"{service}: migration failed: {first}") from None
    print(f"{service}: schema {schema!r} is up to date")  # noqa: T201

"""`studio`: the operator's command line. `studio token create --email alice@example.com` prints a new
API token as the last line of its output; `studio token revoke` revokes one."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from gateway import auth
from gateway.audit.repository import AuditRepository, ClientInfo
from gateway.models import SCHEMA
from gateway.settings import GatewaySettings
from gateway.users.repository import UserRepository
from runtime import db
from runtime.db import DatabaseUnavailableError
from runtime.settings import SettingsError, exit_on_settings_error, load_settings

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CLI = ClientInfo(ip=None, user_agent="studio CLI")  # how the audit log shows the operator's changes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studio", description="Agent Studio operator commands.")
    groups = parser.add_subparsers(dest="group", required=True)
    token = groups.add_parser("token", help="personal API tokens").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", help="create a user if needed and a new API token for them")
    create.add_argument("--email", required=True, help="the user's email address")
    create.add_argument("--name", default="cli", help="a label for the token (default: cli)")
    revoke = token.add_parser(
        "revoke", help="revoke a user's token by the prefix shown at creation"
    )
    revoke.add_argument("--email", required=True)
    revoke.add_argument(
        "--prefix", required=True, help="the first characters of the token, e.g. sas_AbC123"
    )
    return parser


async def _create(settings: GatewaySettings, email: str, name: str) -> None:
    engine = db.create_engine(settings.database_url, pool_size=1, application_name="studio-cli")
    try:
        await db.check_database(engine, SCHEMA)
        token = auth.new_token()
        async with db.create_sessionmaker(engine).begin() as session:
            users = UserRepository(session)
            user_id = await users.get_or_add_by_email(email)
            made = await users.add_token(
                user_id, name, auth.hash_token(token), auth.display_prefix(token)
            )
            await AuditRepository(session).append(
                user_id, "token_created", CLI, token_id=str(made.id), name=name
            )
    finally:
        await engine.dispose()
    print(f"Created API token {auth.display_prefix(token)}… for {email} (user {user_id}).")  # noqa: T201
    print("It is shown only once; send it as 'Authorization: Bearer <token>':")  # noqa: T201
    print(token)  # noqa: T201


async def _revoke(settings: GatewaySettings, email: str, prefix: str) -> None:
    engine = db.create_engine(settings.database_url, pool_size=1, application_name="studio-cli")
    try:
        await db.check_database(engine, SCHEMA)
        async with db.create_sessionmaker(engine).begin() as session:
            users = UserRepository(session)
            count = await users.revoke_tokens_with_prefix(email, prefix)
            if count:
                await AuditRepository(session).append(
                    await users.find_id_by_email(email), "token_revoked", CLI, prefix=prefix
                )
    finally:
        await engine.dispose()
    if count == 0:
        raise SystemExit(f"studio: no active token of {email} starts with {prefix}")
    print(f"Revoked {count} token(s) of {email} starting with {prefix}.")  # noqa: T201


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(GatewaySettings, "gateway")
    except SettingsError as exc:
        exit_on_settings_error(exc)
    email = args.email.strip().lower()
    if not EMAIL.match(email):
        raise SystemExit(f"studio: {args.email!r} is not an email address")
    try:
        if args.action == "create":
            asyncio.run(_create(settings, email, args.name))
        else:
            asyncio.run(_revoke(settings, email, args.prefix))
    except DatabaseUnavailableError as exc:
        print(f"studio: {exc}", file=sys.stderr)  # noqa: T201
        raise SystemExit(1) from None

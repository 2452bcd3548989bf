"""`studio dead-letters list | show | replay`: the dead-letter stream from the operator's command line.

After the fix for what dead-lettered a message is deployed, `replay` sends it back to its subject,
where the same durable applies it (once: the inbox still guards it) and the dead letter is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable

from runtime import broker
from runtime.dead_letter_admin import DeadLetter, DeadLetterAdmin, DeadLetterNotFoundError
from runtime.settings import CommonSettings


def add_parser(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    letters = groups.add_parser(
        "dead-letters", help="messages that could not be applied: list, show, replay"
    ).add_subparsers(dest="action", required=True)
    listing = letters.add_parser("list", help="the oldest dead letters, with their reasons")
    listing.add_argument(
        "--subject", help="only those of this subject, e.g. compiler.cmd.compile_agent.v1"
    )
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = letters.add_parser("show", help="one dead letter whole: headers and body")
    show.add_argument("sequence", type=int)
    replay = letters.add_parser("replay", help="send dead letters back to their subjects")
    replay.add_argument("sequences", type=int, nargs="+")


def run(args: argparse.Namespace, settings: CommonSettings) -> None:
    commands: dict[str, Callable[[DeadLetterAdmin], Awaitable[None]]] = {
        "list": lambda admin: _list(admin, args.subject, args.limit, args.json),
        "show": lambda admin: _show(admin, args.sequence),
        "replay": lambda admin: _replay(admin, args.sequences),
    }
    asyncio.run(_with_admin(settings, commands[args.action]))


async def _with_admin(
    settings: CommonSettings, command: Callable[[DeadLetterAdmin], Awaitable[None]]
) -> None:
    nc = await broker.connect(settings.nats_url, name="studio-cli")
    try:
        admin = DeadLetterAdmin(nc.jetstream(timeout=5), root=settings.nats_subject_root)
        await command(admin)
    finally:
        await nc.close()


def _summary(letter: DeadLetter) -> dict[str, object]:
    return {
        "sequence": letter.sequence,
        "dead_lettered_at": letter.dead_lettered_at.isoformat()
        if letter.dead_lettered_at
        else None,
        "subject": letter.subject,
        "consumer": letter.consumer,
        "deliveries": letter.deliveries,
        "reason": letter.reason,
    }


async def _list(admin: DeadLetterAdmin, subject: str | None, limit: int, as_json: bool) -> None:
    letters = await admin.list(subject=subject, limit=limit)
    for letter in letters:
        line = json.dumps(_summary(letter)) if as_json else _row(letter)
        print(line)  # noqa: T201
    if not as_json:
        print(f"{len(letters)} dead letter(s)")  # noqa: T201


def _row(letter: DeadLetter) -> str:
    when = letter.dead_lettered_at
    stamp = when.strftime("%Y-%m-%d %H:%M:%S") if when else "?"
    return f"{letter.sequence:>6}  {stamp}  {letter.subject}  {letter.consumer}  {letter.reason}"


async def _show(admin: DeadLetterAdmin, sequence: int) -> None:
    letter = await _get(admin.get, sequence)
    print(json.dumps({**_summary(letter), "headers": letter.headers}, indent=2))  # noqa: T201
    try:
        print(json.dumps(json.loads(letter.data), indent=2))  # noqa: T201
    except ValueError:
        print(letter.data.decode("utf-8", errors="replace"))  # noqa: T201


async def _replay(admin: DeadLetterAdmin, sequences: list[int]) -> None:
    for sequence in sequences:
        letter = await _get(admin.replay, sequence)
        print(f"replayed {letter.sequence} to {letter.subject}")  # noqa: T201


async def _get(read: Callable[[int], Awaitable[DeadLetter]], sequence: int) -> DeadLetter:
    try:
        return await read(sequence)
    except DeadLetterNotFoundError as exc:
        raise SystemExit(f"studio: {exc}") from None

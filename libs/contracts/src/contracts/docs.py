"""Generates CONTRACTS.md from the registry and the topology: `python -m contracts.docs`.

`python -m contracts.docs --check CONTRACTS.md` exits 1 when the file differs from what it would
generate (CI and the contract tests use it).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from contracts import registry
from contracts import subjects as s

REGENERATE = "uv run python -m contracts.docs > CONTRACTS.md"
_KIND_PREFIX = re.compile(r"^(command|event|query):\s*", re.IGNORECASE)
_KIND_NAMES = {s.Kind.COMMAND: "command", s.Kind.EVENT: "event", s.Kind.QUERY: "query"}


@dataclass(frozen=True)
class Row:
    subject: str
    kind: str
    producer: str | None
    consumers: tuple[str, ...]
    model: str
    description: str


def describe(model: type[BaseModel]) -> str:
    """The docstring's first paragraph on one line, without a leading `Command:`/`Event:`."""
    paragraph = (model.__doc__ or "").strip().split("\n\n")[0]
    text = _KIND_PREFIX.sub("", " ".join(paragraph.split()))
    return text[:1].upper() + text[1:]


def rows() -> list[Row]:
    """One row per registered subject. An event's producer is its owner; the registry does not
    record who sends a command, only that its owner handles it (and so appears as its consumer)."""
    return [
        Row(
            subject=subject.full(),
            kind=_KIND_NAMES[subject.kind],
            producer=subject.owner if subject.kind is s.Kind.EVENT else None,
            # A query has no durable: its owner answers it in a queue group.
            consumers=(
                (f"{subject.owner} (request/reply)",)
                if subject.kind is s.Kind.QUERY
                else tuple(d.name for d in s.ALL_DURABLES if d.accepts(subject.relative))
            ),
            model=f"{model.__module__}.{model.__qualname__}",
            description=describe(model),
        )
        for subject, model in registry.MODELS.items()
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "—"


def _code(items: Sequence[str | None]) -> str:
    return ", ".join(f"`{item}`" for item in items if item) or "—"


def render() -> str:
    lines = [
        "# Message contracts",
        "",
        f"Generated from `libs/contracts` by `{REGENERATE}`; do not edit by hand.",
        "Subjects are shown under the default root `studio`. Consumers are durable consumers named",
        "`<service>--<label>`. The registry names a command's handler (its owner, the one",
        "consumer) but not its senders, so commands have no producer here.",
        "",
        "| Subject | Kind | Producer | Consumers | Model | Description |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| `{r.subject}` | {r.kind} | {_code([r.producer])} | {_code(r.consumers)} "
        f"| `{r.model}` | {_cell(r.description)} |"
        for r in rows()
    ]
    lines += [
        "",
        "## Durable consumers",
        "",
        "| Durable | Service | Stream | Filter |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{d.name}` | `{d.service}` | `{d.stream.full_name()}` | `{d.filter_subject()}` |"
        for d in s.ALL_DURABLES
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.docs", description=__doc__)
    parser.add_argument("--check", metavar="PATH", type=Path, help="fail if PATH is stale")
    args = parser.parse_args(argv)
    expected = render()
    if args.check is None:
        sys.stdout.write(expected)
        return 0
    path: Path = args.check
    actual = path.read_text(encoding="utf-8") if path.exists() else None
    if actual == expected:
        return 0
    problem = "does not exist" if actual is None else "is stale"
    sys.stderr.write(f"{path} {problem}; regenerate it with `{REGENERATE}`\n")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())

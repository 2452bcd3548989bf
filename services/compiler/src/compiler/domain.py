"""Pure compilation rules: a specification's blocks → named sections → instructions. No I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

COMPILER_VERSION = "0.1.0"
BACKBONE = "System Backbone"

# Block order after the backbone, with the heading each block compiles under.
SECTION_ORDER: tuple[tuple[str, str], ...] = (
    ("audience", "Audience"),
    ("capabilities", "Capabilities"),
    ("knowledge", "Knowledge"),
    ("constraints", "Operating Rules"),
    ("workflow", "Workflow"),
    ("output", "Output Contract"),
    ("examples", "Examples"),
    ("escalation", "Escalation"),
)
BACKBONE_BLOCKS = ("persona", "mission")


class CompileError(ValueError):
    """The specification cannot be compiled; the message says what to fix."""


@dataclass(frozen=True)
class Section:
    title: str
    body: str


@dataclass(frozen=True)
class Compiled:
    sections: tuple[Section, ...]
    instructions: str
    spec_hash: str


def spec_hash(blocks: Mapping[str, Any]) -> str:
    """A stable hash of the specification: key order and whitespace do not change it."""
    canonical = json.dumps(blocks, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def compile_spec(blocks: Mapping[str, Any]) -> Compiled:
    """Render the blocks deterministically: the same blocks always give byte-identical instructions."""
    if not isinstance(blocks, Mapping):
        raise CompileError("the specification must be an object of blocks")
    backbone = "\n\n".join(
        body for name in BACKBONE_BLOCKS if (body := render_value(blocks.get(name)))
    )
    sections = [Section(BACKBONE, backbone or "You are a helpful assistant.")]
    for name, title in SECTION_ORDER:
        body = render_value(blocks.get(name))
        if body:
            sections.append(Section(title, body))
    instructions = "\n\n".join(f"## {s.title}\n{s.body}" for s in sections)
    return Compiled(tuple(sections), instructions, spec_hash(blocks))


def render_value(value: Any, depth: int = 0) -> str:
    """Plain text for a block value: strings as they are, lists as bullets, objects as labelled lines."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    indent = "  " * depth
    if isinstance(value, list):
        lines = [render_value(item, depth + 1) for item in value]
        return "\n".join(f"{indent}- {line.lstrip()}" for line in lines if line)
    if isinstance(value, Mapping):
        parts = []
        for key in sorted(value):
            rendered = render_value(value[key], depth + 1)
            if not rendered:
                continue
            label = str(key).replace("_", " ").capitalize()
            joiner = "\n" if "\n" in rendered or rendered.lstrip().startswith("- ") else " "
            parts.append(f"{indent}{label}:{joiner}{rendered}")
        return "\n".join(parts)
    raise CompileError(f"unsupported value of type {type(value).__name__}")

"""The spec coach's pure part: the prompt that asks for one block, and the check of the draft.

The model is told what the block is for, shown the spec as it stands and the author's guidance,
and must answer with JSON `{"draft": <block>}` following the block's own JSON Schema (structured
output, never scraped from prose). The draft is validated like a saved spec before anyone sees it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from pydantic import ValidationError

from contracts.coach import BlockName
from contracts.spec import SpecBlocks, used_variables

SYSTEM = (
    "You are the spec coach of Agent Studio. An author is writing the specification of an AI "
    "agent as structured blocks. Draft the one block you are asked for, consistent with what the "
    "rest of the specification already says and with the author's guidance. Be concrete and "
    "checkable; invent no facts about the author's business beyond what the spec implies. "
    'Answer only with JSON of the form {"draft": <the block>} that follows the given schema.'
)


TOPIC = re.compile(r"\b(?:about|with|on|for)\s+(.+)$", re.IGNORECASE)
POSSESSIVES = frozenset({"their", "your", "our", "his", "her", "its", "the", "a", "an"})


class DraftRejected(ValueError):
    """The provider's draft does not fit the block; the message names the problem."""


@cache
def draft_schema(block: BlockName) -> dict[str, Any]:
    """`{"draft": <block>}` with the block's JSON Schema inlined (no `$ref`s)."""
    schema = SpecBlocks.model_json_schema()
    defs = schema.get("$defs", {})
    field = schema["properties"][block]
    # Optional blocks are `anyOf: [<block>, null]`: the draft is the block itself.
    variants = [v for v in field.get("anyOf", [field]) if v.get("type") != "null"]
    return {
        "type": "object",
        "properties": {"draft": _inline(variants[0], defs)},
        "required": ["draft"],
        "additionalProperties": False,
    }


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k not in ("title", "$defs")}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def messages(block: BlockName, blocks: dict[str, Any], guidance: str) -> list[dict[str, str]]:
    description = SpecBlocks.model_fields[block].description or block
    current = json.dumps(blocks, indent=2, sort_keys=True, ensure_ascii=False)
    request = [
        f"Block to draft: {block} ({description})",
        f"The specification as it stands:\n{current}",
    ]
    if guidance.strip():
        request.append(f"The author's guidance: {guidance.strip()}")
    if blocks.get(block):
        request.append("The block already has content: improve it rather than start over.")
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "\n\n".join(request)},
    ]


def checked_draft(block: BlockName, answer: Any) -> Any:
    """The draft inside the provider's answer, valid as that block of a spec."""
    if not isinstance(answer, dict) or "draft" not in answer:
        raise DraftRejected('the answer is not of the form {"draft": ...}')
    try:
        spec = SpecBlocks.model_validate({block: answer["draft"]})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise DraftRejected(f"the draft does not fit the {block} block: {problems}") from None
    return spec.model_dump(mode="json", exclude_unset=True)[block]


def template_draft(block: BlockName, blocks: dict[str, Any], guidance: str) -> Any:
    """The offline coach: a deterministic starting point for `block`, built from what the spec says.

    It is what the coach offers when no AI model is configured; it says so (`offline`), and the
    person edits it like any draft.
    """
    spec = SpecBlocks.model_validate(blocks)
    topic = _topic(spec)
    hint = guidance.strip()
    drafts: dict[str, Any] = {
        "mission": {
            "problem": (
                spec.mission.problem
                if spec.mission and spec.mission.problem
                else f"Help people with {topic}."
            ),
            "success_criteria": [
                "Every answer states the source it relies on",
                f"Every answer is at most {_length(spec)}",
                "Never states a fact, price or policy that is not in the knowledge block",
            ],
        },
        "audience": {"description": f"People who come for help with {topic}."},
        "persona": {
            "role": spec.persona.role
            if spec.persona and spec.persona.role
            else f"assistant for {topic}",
            "voice": "clear, friendly and concise",
        },
        "capabilities": {
            "summary": f"Answers questions about {topic} and explains the next steps."
        },
        "knowledge": {"facts": [f"Replace with a fact the agent needs about {topic}."]},
        "constraints": {
            "must": [f"Stay on the subject of {topic}", "Say so when unsure instead of guessing"],
            "must_not": [
                "Invent facts, prices or policies",
                "Ask for passwords or payment details",
            ],
        },
        "workflow": {
            "steps": [
                "Restate the request in one sentence",
                "Ask for any detail that is missing to answer it",
                "Answer from the knowledge block only",
                "Check the answer against the success criteria",
                "Offer the next step, or escalate",
            ]
        },
        "output": {"format": "plain text", "length": f"at most {_length(spec)}"},
        "examples": [
            {
                "input": f"A typical question about {topic}",
                "output": "A short answer that meets every success criterion.",
            }
        ],
        "escalation": {
            "when": f"the request is outside {topic}, or no confident answer is possible",
            "action": "say so and hand over to a person with a summary of the conversation",
        },
        "variables": [
            {"name": name, "description": f"The value of {name}, given per call.", "required": True}
            for name in sorted(used_variables(spec) - {v.name for v in spec.variables or ()})
        ],
    }
    draft = drafts[block]
    if hint and block == "workflow":
        draft["steps"].insert(0, f"Follow the author's guidance: {hint}")
    elif hint and block == "constraints":
        draft["must"].append(hint)
    return checked_draft(block, {"draft": draft})


def _topic(spec: SpecBlocks) -> str:
    """What the agent deals with, as a noun phrase: what follows "about", "with" or "on" in the
    mission ("… questions about their invoices" → "invoices"), else a neutral phrase."""
    problem = (spec.mission.problem if spec.mission else "").rstrip(". ")
    match = TOPIC.search(problem)
    if match is None:
        return "the agent's mission"
    words = match.group(1).split()
    while words and words[0].lower() in POSSESSIVES:
        words = words[1:]
    return " ".join(words[:8]) or "the agent's mission"


def _length(spec: SpecBlocks) -> str:
    declared = spec.output.length if spec.output and spec.output.length else ""
    return declared.removeprefix("at most ").strip() or "150 words"

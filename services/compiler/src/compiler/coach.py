"""The spec coach's pure part: the prompt that asks for one block, and the check of the draft.

The model is told what the block is for, shown the spec as it stands and the author's guidance,
and must answer with JSON `{"draft": <block>}` following the block's own JSON Schema (structured
output, never scraped from prose). The draft is validated like a saved spec before anyone sees it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import ValidationError

from contracts.coach import BlockName
from contracts.spec import SpecBlocks

SYSTEM = (
    "You are the spec coach of Agent Studio. An author is writing the specification of an AI "
    "agent as structured blocks. Draft the one block you are asked for, consistent with what the "
    "rest of the specification already says and with the author's guidance. Be concrete and "
    "checkable; invent no facts about the author's business beyond what the spec implies. "
    'Answer only with JSON of the form {"draft": <the block>} that follows the given schema.'
)


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

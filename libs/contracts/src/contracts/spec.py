"""The structured specification of an agent: eleven optional blocks, their limits and validation.

Every field inside a block may be left empty, so half-written work can be saved; what is written
is stripped of surrounding whitespace and bounded by the limits below.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue
from pydantic import StringConstraints as Text
from pydantic_core import PydanticCustomError

from contracts.storable import NoNul, storable_json

SHORT_TEXT_MAX = 200
"""Characters in a short string: persona role and voice, output format and length."""
LONG_TEXT_MAX = 4000
"""Characters in free text: the problem, the audience, the capabilities summary, escalation."""
ITEM_MAX = 1000
"""Characters in one item of a list of strings (a criterion, a fact, a rule, a step)."""
LIST_MAX = 50
"""Items in success_criteria, facts, must, must_not and steps."""
EXAMPLES_MAX = 20
EXAMPLE_TEXT_MAX = 4000
"""Characters in an example's input and in its output."""
TOOLS_MAX = 20
VARIABLES_MAX = 30
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
"""Tool and variable names: an identifier of at most 64 characters."""
SCHEMA_KEYWORDS = frozenset({"type", "properties", "$ref", "anyOf", "oneOf", "allOf"})
"""A JSON Schema object must have at least one of these keys at its top level."""

VARIABLE_USE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")
"""A use of a variable in text: `{{name}}`, spaces allowed inside the braces."""


def _valid_name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "invalid_name",
            '"{value}" is not a valid name: start with a letter or underscore, then use only '
            "letters, digits and underscores, at most 64 characters",
            {"value": value},
        )
    return value


def _no_empty_items(items: list[str]) -> list[str]:
    empty = [str(index) for index, item in enumerate(items) if not item]
    if empty:
        which = (
            f"item at index {empty[0]} is"
            if len(empty) == 1
            else f"items at indexes {', '.join(empty)} are"
        )
        raise PydanticCustomError(
            "empty_item", "{which} empty: remove or fill in empty items", {"which": which}
        )
    return items


def _json_object(value: Any) -> Any:
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "not_json_object",
            'must be a JSON Schema object such as {"type": "object", "properties": {}}, '
            "not a JSON {kind}",
            {"kind": _json_kind(value)},
        )
    return value


def _looks_like_schema(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    if not SCHEMA_KEYWORDS & value.keys():
        raise PydanticCustomError(
            "not_json_schema",
            "does not look like a JSON Schema: it needs at least one of "
            '"type", "properties", "$ref", "anyOf", "oneOf" or "allOf" at its top level',
        )
    return value


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


ShortText = Annotated[str, Text(strip_whitespace=True, max_length=SHORT_TEXT_MAX), NoNul]
LongText = Annotated[str, Text(strip_whitespace=True, max_length=LONG_TEXT_MAX), NoNul]
ExampleText = Annotated[str, Text(strip_whitespace=True, max_length=EXAMPLE_TEXT_MAX), NoNul]
Item = Annotated[str, Text(strip_whitespace=True, max_length=ITEM_MAX), NoNul]
Items = Annotated[list[Item], Field(max_length=LIST_MAX), AfterValidator(_no_empty_items)]
Name = Annotated[
    str,
    Text(strip_whitespace=True),
    AfterValidator(_valid_name),
    Field(json_schema_extra={"pattern": NAME_PATTERN.pattern}),
]
JsonSchema = Annotated[
    dict[str, JsonValue],
    BeforeValidator(storable_json),
    BeforeValidator(_json_object),
    AfterValidator(_looks_like_schema),
]


NamedT = TypeVar("NamedT", "Tool", "Variable")


def _unique_names(entries: list[NamedT]) -> list[NamedT]:
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise PydanticCustomError(
                "duplicate_name",
                'the name "{name}" is used more than once: names must be unique',
                {"name": entry.name},
            )
        seen.add(entry.name)
    return entries


class _Block(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Mission(_Block):
    problem: LongText = Field("", description="The problem the agent solves, and for whom.")
    success_criteria: Items = Field(
        default_factory=list,
        description=f"Checkable statements of what a good answer achieves (at most {LIST_MAX}).",
    )


class Audience(_Block):
    description: LongText = Field("", description="Who talks to the agent and what they know.")


class Persona(_Block):
    role: ShortText = Field(
        "", description="The role the agent plays, e.g. 'billing support agent'."
    )
    voice: ShortText = Field("", description="How it sounds, e.g. 'warm, concise, plain English'.")


class Tool(_Block):
    name: Name = Field(description="The function name the model calls; an identifier.")
    description: LongText = Field("", description="When and why to call the tool.")
    parameters: JsonSchema | None = Field(
        None, description="JSON Schema of the arguments; omitted when the tool takes none."
    )


class Capabilities(_Block):
    summary: LongText = Field("", description="What the agent can do, in prose.")
    tools: Annotated[list[Tool], Field(max_length=TOOLS_MAX), AfterValidator(_unique_names)] = (
        Field(
            default_factory=list,
            description=f"Functions the agent may call (at most {TOOLS_MAX}, names unique).",
        )
    )


class Knowledge(_Block):
    facts: Items = Field(
        default_factory=list, description=f"Facts the agent relies on (at most {LIST_MAX})."
    )


class Constraints(_Block):
    must: Items = Field(
        default_factory=list, description=f"What the agent always does (at most {LIST_MAX})."
    )
    must_not: Items = Field(
        default_factory=list, description=f"What the agent never does (at most {LIST_MAX})."
    )


class Workflow(_Block):
    steps: Items = Field(
        default_factory=list,
        description=f"The steps the agent follows, in order (at most {LIST_MAX}).",
    )


class Output(_Block):
    format: ShortText = Field("", description="The shape of an answer, e.g. 'JSON object'.")
    length: ShortText = Field("", description="How long an answer is, e.g. 'under 120 words'.")
    json_schema: JsonSchema | None = Field(
        None, description="JSON Schema every answer must follow; omitted for free text."
    )


class Example(_Block):
    input: ExampleText = Field("", description="What the user says.")
    output: ExampleText = Field("", description="What the agent answers.")


class Escalation(_Block):
    when: LongText = Field("", description="When the agent hands over to a person.")
    action: LongText = Field("", description="What it does then, e.g. 'open a ticket'.")


class Variable(_Block):
    name: Name = Field(description="Written as {{name}} anywhere in the spec; an identifier.")
    description: LongText = Field("", description="What the value is and where it comes from.")
    required: bool = Field(True, description="Whether a caller must supply a value.")
    default: Item | None = Field(None, description="The value used when a caller gives none.")


class SpecBlocks(BaseModel):
    """An agent's specification: every block optional; an unknown block name is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mission: Mission | None = Field(None, description="What the agent is for.")
    audience: Audience | None = Field(None, description="Whom it serves.")
    persona: Persona | None = Field(None, description="Who it is.")
    capabilities: Capabilities | None = Field(None, description="What it can do, and its tools.")
    knowledge: Knowledge | None = Field(None, description="What it knows.")
    constraints: Constraints | None = Field(None, description="What it must and must not do.")
    workflow: Workflow | None = Field(None, description="How it works through a request.")
    output: Output | None = Field(None, description="What an answer looks like.")
    examples: Annotated[list[Example], Field(max_length=EXAMPLES_MAX)] | None = Field(
        None, description=f"Sample exchanges (at most {EXAMPLES_MAX})."
    )
    escalation: Escalation | None = Field(None, description="When and how it hands over.")
    variables: (
        Annotated[list[Variable], Field(max_length=VARIABLES_MAX), AfterValidator(_unique_names)]
        | None
    ) = Field(
        None, description=f"Values filled in per call (at most {VARIABLES_MAX}, names unique)."
    )


def used_variables(blocks: SpecBlocks) -> set[str]:
    """Names written as `{{ name }}` in the spec's human text.

    Every string of every block counts (examples and tool descriptions included) except the
    `variables` block itself, where a name is declared rather than used, and the JSON Schemas
    (`tools[].parameters`, `output.json_schema`), which are machine data and never substituted.
    """
    return {name for text in _texts(blocks) for name in VARIABLE_USE.findall(text)}


def _texts(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, BaseModel):
        for field in type(value).model_fields:
            if not (isinstance(value, SpecBlocks) and field == "variables"):
                yield from _texts(getattr(value, field))

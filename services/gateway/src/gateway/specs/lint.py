"""What to fix in a specification (pure): lint rules with stable codes, each with a message a
person can act on. Codes are in RULE_CODES; each rule's docstring states its heuristic exactly."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from contracts.spec import SpecBlocks, used_variables


@dataclass(frozen=True, slots=True)
class Warning:
    """One thing to fix. `field` is the path inside the block (`steps.2`), None for the block."""

    code: str
    block: str
    field: str | None
    message: str


RULE_CODES = (
    "no_success_criteria",
    "uncheckable_success_criterion",
    "contradictory_constraints",
    "undeclared_variable",
    "unused_variable",
    "example_contradicts_output_format",
    "example_exceeds_length",
    "duplicate_items",
)
BLOCK_ORDER = tuple(SpecBlocks.model_fields)

VAGUE = re.compile(
    r"\b(good|nice|helpful|better|appropriate|appropriately|high[- ]quality|user[- ]friendly"
    r"|as needed)\b",
    re.IGNORECASE,
)
"""A success criterion using one of these words is uncheckable unless it also has an anchor."""
ANCHOR = re.compile(
    r"\d|\"[^\"]+\"|“[^”]+”|\b(must include|includes?|cites?|under|at most|at least|within"
    r"|exactly|every|never|always|format)\b",
    re.IGNORECASE,
)
"""A digit, a "quoted" phrase, or a word that sets a measurable bar."""
NEGATION = re.compile(r"^(?:(?:do|does|must|should)\s+)?(?:not|never)\s+|^(?:dont|doesnt)\s+")
AFFIRMATION = re.compile(r"^(?:always|must|should)\s+")
LENGTH_BOUND = re.compile(
    r"(?P<op>under|below|fewer than|less than|at most|no more than|up to|max(?:imum)?(?: of)?"
    r"|≤|<=|<)\s*(?P<n>\d+)\s*(?P<unit>words?|sentences?|char(?:acter)?s?)\b"
    r"|(?P<n2>\d+)\s*(?P<unit2>words?|sentences?|char(?:acter)?s?)\s*"
    r"(?:or (?:fewer|less)|max(?:imum)?|at most)\b",
    re.IGNORECASE,
)
"""`under 100 words`, `at most 3 sentences`, `≤ 500 characters`, `80 words or fewer`…"""
STRICT_BOUNDS = frozenset({"under", "below", "fewer than", "less than", "<"})
LISTS = (
    ("mission", "success_criteria", "success criterion"),
    ("knowledge", "facts", "fact"),
    ("constraints", "must", "rule"),
    ("constraints", "must_not", "rule"),
    ("workflow", "steps", "step"),
)
"""The lists of strings checked for repeats, with what a person calls one item."""
JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    type(None): "null",
}


def lint(blocks: SpecBlocks) -> list[Warning]:
    """Every warning, ordered by block (as in `SpecBlocks`), then by rule (as in `RULE_CODES`)."""
    found = [warning for rule in RULES for warning in rule(blocks)]
    return sorted(found, key=lambda w: (BLOCK_ORDER.index(w.block), RULE_CODES.index(w.code)))


def _no_success_criteria(blocks: SpecBlocks) -> Iterator[Warning]:
    """Once, when any block is present but `mission.success_criteria` is empty."""
    started = any(getattr(blocks, name) is not None for name in BLOCK_ORDER)
    if started and not (blocks.mission and blocks.mission.success_criteria):
        yield Warning(
            "no_success_criteria",
            "mission",
            "success_criteria",
            "The mission has no success criteria: add at least one statement a reviewer could "
            'check, e.g. "cites the invoice number in every answer".',
        )


def _uncheckable_success_criterion(blocks: SpecBlocks) -> Iterator[Warning]:
    """Per criterion with a VAGUE word (whole word, any case) and no ANCHOR at all."""
    for index, criterion in enumerate(blocks.mission.success_criteria if blocks.mission else []):
        vague = VAGUE.search(criterion)
        if vague and not ANCHOR.search(criterion):
            yield Warning(
                "uncheckable_success_criterion",
                "mission",
                f"success_criteria.{index}",
                f'Success criterion {_quote(criterion)} cannot be checked: "{vague.group(0)}" is '
                'vague. Say what a reviewer could verify: a number ("under 120 words"), a required '
                'element ("cites the invoice number") or a rule ("never promises a refund").',
            )


def _contradictory_constraints(blocks: SpecBlocks) -> Iterator[Warning]:
    """Per pair of rules that require and forbid the same action, at the later of the two.

    The action is the normalised text without a leading negation (`not`, `never`, `do not`,
    `don't`, `must not`…) or affirmation (`always`, `must`, `should`). A `must` item requires its
    action unless negated; a `must_not` item forbids it, negated or not (people write "never X"
    under must_not to mean "X is forbidden"). So must "X" contradicts must_not "X", must_not
    "never X" and must "never X"; must "never X" and must_not "X" agree. Synonyms and partial
    overlaps never count.
    """
    if blocks.constraints is None:
        return
    rules = [
        (name, index, text, *_polarity(text, name == "must"))
        for name in ("must", "must_not")
        for index, text in enumerate(getattr(blocks.constraints, name))
    ]
    for position, (name, index, text, does, action) in enumerate(rules):
        for other_name, _, other_text, other_does, other_action in rules[:position]:
            if action and action == other_action and does != other_does:
                yield Warning(
                    "contradictory_constraints",
                    "constraints",
                    f"{name}.{index}",
                    f"{name} {_quote(text)} contradicts {other_name} {_quote(other_text)}: the "
                    "agent cannot follow both. Remove one, or reword them so they agree.",
                )


def _polarity(text: str, in_must: bool) -> tuple[bool, str]:
    """(whether the rule requires the action, the action without negation or affirmation)."""
    action = _normalise(text)
    negated = NEGATION.match(action)
    if negated:
        return False, action[negated.end() :]
    return in_must, AFFIRMATION.sub("", action)


def _undeclared_variable(blocks: SpecBlocks) -> Iterator[Warning]:
    declared = {variable.name for variable in blocks.variables or []}
    for name in sorted(used_variables(blocks) - declared):
        yield Warning(
            "undeclared_variable",
            "variables",
            None,
            f'"{{{{{name}}}}}" is used but not declared: add a variable named "{name}" with a '
            "description, or fix the spelling.",
        )


def _unused_variable(blocks: SpecBlocks) -> Iterator[Warning]:
    """Per declared variable that `used_variables` (human text only) does not find."""
    used = used_variables(blocks)
    for index, variable in enumerate(blocks.variables or []):
        if variable.name not in used:
            yield Warning(
                "unused_variable",
                "variables",
                f"{index}.name",
                f'Variable "{variable.name}" is declared but never used: write '
                f'"{{{{{variable.name}}}}}" where its value belongs, or remove it.',
            )


def _example_contradicts_output_format(blocks: SpecBlocks) -> Iterator[Warning]:
    """Per example output, when `output.format` mentions JSON or `output.json_schema` is set.

    The output must parse as JSON; with a schema, its top-level type and required keys must fit.
    """
    output = blocks.output
    if output is None or not ("json" in output.format.lower() or output.json_schema is not None):
        return
    wants = f"the output format is {_quote(output.format)}" if output.format else "a schema is set"
    for index, example in enumerate(blocks.examples or []):
        if not example.output:
            continue
        try:
            value = json.loads(example.output)
        except ValueError:
            problem = "is not valid JSON"
        else:
            problem = _schema_mismatch(value, output.json_schema or {})
        if problem:
            yield Warning(
                "example_contradicts_output_format",
                "examples",
                f"{index}.output",
                f"The example output {_quote(example.output)} {problem}, but {wants}: make "
                "the example follow the output contract, or change the contract.",
            )


def _schema_mismatch(value: object, schema: Mapping[str, object]) -> str:
    """Top level only: the value's JSON type and an object's required keys; "" when they fit."""
    expected = schema.get("type")
    allowed = [expected] if isinstance(expected, str) else expected
    if isinstance(allowed, list) and allowed and not any(_fits(value, t) for t in allowed):
        return f"is a JSON {JSON_TYPES[type(value)]}, not {' or '.join(map(str, allowed))}"
    required = schema.get("required")
    if isinstance(value, dict) and isinstance(required, list):
        missing = [str(key) for key in required if key not in value]
        if missing:
            return f'lacks the required key "{missing[0]}"'
    return ""


def _fits(value: object, json_type: object) -> bool:
    if json_type == "integer":
        integral = isinstance(value, float) and value.is_integer()
        return integral or (isinstance(value, int) and not isinstance(value, bool))
    return JSON_TYPES[type(value)] == json_type


def _example_exceeds_length(blocks: SpecBlocks) -> Iterator[Warning]:
    """Per example output and per LENGTH_BOUND found in `output.length`.

    `under`, `below`, `fewer than`, `less than` and `<` are strict (100 words is not under 100
    words); the rest are inclusive. A length without a number and a unit is never checked.
    """
    if blocks.output is None:
        return
    bounds = list(LENGTH_BOUND.finditer(blocks.output.length))
    for index, example in enumerate(blocks.examples or []):
        for bound in bounds:
            unit = _unit(bound.group("unit") or bound.group("unit2"))
            limit = int(bound.group("n") or bound.group("n2"))
            count = _count(example.output, unit)
            strict = (bound.group("op") or "").lower() in STRICT_BOUNDS
            if example.output and (count >= limit if strict else count > limit):
                yield Warning(
                    "example_exceeds_length",
                    "examples",
                    f"{index}.output",
                    f"The example output {_quote(example.output)} has {count} {unit}, but "
                    f"the output length is {_quote(blocks.output.length)}: shorten the example "
                    "or change the length.",
                )


def _unit(word: str) -> str:
    word = word.lower()
    return "words" if word.startswith("word") else "sentences" if word[0] == "s" else "characters"


def _count(text: str, unit: str) -> int:
    """Words are runs of non-space; a sentence ends at . ! or ? followed by a space or the end."""
    if unit == "words":
        return len(text.split())
    if unit == "sentences":
        return sum(1 for part in re.split(r"[.!?]+(?=\s|$)", text) if part.strip())
    return len(text)


def _duplicate_items(blocks: SpecBlocks) -> Iterator[Warning]:
    """Per repeat, at the repeat.

    Items of LISTS repeat when equal after `_normalise`; examples when input and output both are.
    """
    for block, field, label in LISTS:
        items: list[str] = getattr(getattr(blocks, block), field, [])
        for index in _repeats([_normalise(item) for item in items]):
            yield Warning(
                "duplicate_items",
                block,
                f"{field}.{index}",
                f"The {label} {_quote(items[index])} appears more than once in {block}.{field}: "
                "remove the repeat.",
            )
    examples = blocks.examples or []
    pairs = [f"{_normalise(e.input)}\n{_normalise(e.output)}" for e in examples]
    for index in _repeats(pairs):
        yield Warning(
            "duplicate_items",
            "examples",
            str(index),
            f"The example {_quote(examples[index].input)} appears more than once with the same "
            "output: remove the repeat, or change it to teach something new.",
        )


def _repeats(keys: list[str]) -> Iterator[int]:
    """The index of every key seen before."""
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key in seen:
            yield index
        seen.add(key)


def _normalise(text: str) -> str:
    """Lower case, apostrophes dropped (don't → dont), other punctuation as spaces, spaces collapsed."""
    text = re.sub("['\u2019]", "", text.lower())
    return " ".join(re.sub(r"[^\w\s]|_", " ", text).split())


def _quote(text: str, limit: int = 80) -> str:
    return f'"{text if len(text) <= limit else text[: limit - 1] + "…"}"'


RULES: tuple[Callable[[SpecBlocks], Iterator[Warning]], ...] = (
    _no_success_criteria,
    _uncheckable_success_criterion,
    _contradictory_constraints,
    _undeclared_variable,
    _unused_variable,
    _example_contradicts_output_format,
    _example_exceeds_length,
    _duplicate_items,
)

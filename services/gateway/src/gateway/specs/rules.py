"""How complete a specification is, from 0 to 100 (pure).

Completeness adds the weight of every filled field (a string that is not empty, a list with at least
one item). Filling a field only ever adds, so the score never drops as a spec is written; the
optional `capabilities.tools`, `output.json_schema` and `variables` never count.

    mission.problem           15    knowledge.facts         6    output.length       3
    mission.success_criteria  15    constraints.must        6    examples            8
    audience.description       6    constraints.must_not    6    escalation.when     3
    persona.role               6    workflow.steps          8    escalation.action   3
    persona.voice              4    output.format           5
    capabilities.summary       6

`examples` gives partial credit for complete examples (input and output both written): 4 for the
first, 2 more for the second, 2 more for the third; more examples add nothing.

The lint rules are in `specs.lint`.
"""

from __future__ import annotations

from contracts.spec import SpecBlocks

FIELD_WEIGHTS: dict[tuple[str, str], int] = {
    ("mission", "problem"): 15,
    ("mission", "success_criteria"): 15,
    ("audience", "description"): 6,
    ("persona", "role"): 6,
    ("persona", "voice"): 4,
    ("capabilities", "summary"): 6,
    ("knowledge", "facts"): 6,
    ("constraints", "must"): 6,
    ("constraints", "must_not"): 6,
    ("workflow", "steps"): 8,
    ("output", "format"): 5,
    ("output", "length"): 3,
    ("escalation", "when"): 3,
    ("escalation", "action"): 3,
}
EXAMPLE_WEIGHTS = (4, 2, 2)
"""Credit for the first, second and third complete example."""


def completeness(blocks: SpecBlocks) -> int:
    """0 for an empty spec, 100 when every counted field is filled (weights in the module doc)."""
    score = sum(
        weight
        for (block, field), weight in FIELD_WEIGHTS.items()
        if getattr(getattr(blocks, block), field, None)
    )
    complete = sum(1 for example in blocks.examples or [] if example.input and example.output)
    return score + sum(EXAMPLE_WEIGHTS[:complete])

"""Unit tests of the specification model: limits, names, JSON Schemas, stripping, variables used."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from contracts import spec
from contracts.spec import SpecBlocks, used_variables
from tests.support.specs import billing_support_spec


def errors(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[tuple[Any, ...], str]]:
    return [(tuple(e["loc"]), e["type"]) for e in exc.value.errors()]


def only_message(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    [error] = exc.value.errors()
    return error["msg"]


def test_empty_spec_is_valid_and_has_no_blocks() -> None:
    blocks = SpecBlocks.model_validate({})

    assert blocks.model_dump(exclude_none=True) == {}


def test_billing_spec_round_trips_through_json() -> None:
    blocks = SpecBlocks.model_validate(billing_support_spec())

    assert SpecBlocks.model_validate_json(blocks.model_dump_json()) == blocks
    assert blocks.model_dump(exclude_none=True) == billing_support_spec()


def test_unknown_block_is_rejected_naming_it() -> None:
    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({"mission": {}, "goals": {"x": 1}})

    assert errors(exc) == [(("goals",), "extra_forbidden")]


def test_unknown_field_inside_a_block_is_rejected_naming_it() -> None:
    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({"mission": {"sucess_criteria": ["typo"]}})

    assert errors(exc) == [(("mission", "sucess_criteria"), "extra_forbidden")]


def test_half_written_blocks_are_accepted_with_empty_defaults() -> None:
    blocks = SpecBlocks.model_validate(
        {"mission": {"problem": "Answer invoice questions"}, "persona": {}, "examples": [{}]}
    )

    assert blocks.mission == spec.Mission(problem="Answer invoice questions", success_criteria=[])
    assert blocks.persona == spec.Persona(role="", voice="")
    assert blocks.examples == [spec.Example(input="", output="")]


def test_strings_are_stripped_everywhere() -> None:
    blocks = SpecBlocks.model_validate(
        {
            "mission": {"problem": "  Answer  \n", "success_criteria": ["\tcites the invoice "]},
            "capabilities": {"tools": [{"name": " lookup ", "description": " Fetch "}]},
            "variables": [{"name": " plan\n", "default": " basic "}],
        }
    )

    assert blocks.mission == spec.Mission(problem="Answer", success_criteria=["cites the invoice"])
    assert blocks.capabilities is not None
    assert blocks.capabilities.tools[0].name == "lookup"
    assert blocks.capabilities.tools[0].description == "Fetch"
    assert blocks.variables is not None
    assert (blocks.variables[0].name, blocks.variables[0].default) == ("plan", "basic")


def test_spec_is_frozen() -> None:
    blocks = SpecBlocks.model_validate({"persona": {"role": "agent"}})

    with pytest.raises(ValidationError):
        blocks.persona = None  # type: ignore[misc]


TEXT_LIMITS = [
    ("persona", "role", spec.SHORT_TEXT_MAX),
    ("persona", "voice", spec.SHORT_TEXT_MAX),
    ("output", "format", spec.SHORT_TEXT_MAX),
    ("output", "length", spec.SHORT_TEXT_MAX),
    ("mission", "problem", spec.LONG_TEXT_MAX),
    ("audience", "description", spec.LONG_TEXT_MAX),
    ("capabilities", "summary", spec.LONG_TEXT_MAX),
    ("escalation", "when", spec.LONG_TEXT_MAX),
    ("escalation", "action", spec.LONG_TEXT_MAX),
]
LISTS = [
    ("mission", "success_criteria"),
    ("knowledge", "facts"),
    ("constraints", "must"),
    ("constraints", "must_not"),
    ("workflow", "steps"),
]


@pytest.mark.parametrize(("block", "field", "limit"), TEXT_LIMITS)
def test_text_at_its_limit_is_accepted_and_one_more_character_is_rejected(
    block: str, field: str, limit: int
) -> None:
    SpecBlocks.model_validate({block: {field: "x" * limit}})

    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({block: {field: "x" * (limit + 1)}})

    assert errors(exc) == [((block, field), "string_too_long")]


@pytest.mark.parametrize(("block", "field"), LISTS)
def test_list_item_over_its_limit_is_rejected_at_its_index(block: str, field: str) -> None:
    SpecBlocks.model_validate({block: {field: ["x" * spec.ITEM_MAX]}})

    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({block: {field: ["ok", "x" * (spec.ITEM_MAX + 1)]}})

    assert errors(exc) == [((block, field, 1), "string_too_long")]


@pytest.mark.parametrize(("block", "field"), LISTS)
def test_list_over_its_size_is_rejected(block: str, field: str) -> None:
    SpecBlocks.model_validate({block: {field: [f"item {i}" for i in range(spec.LIST_MAX)]}})

    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({block: {field: [f"item {i}" for i in range(spec.LIST_MAX + 1)]}})

    assert errors(exc) == [((block, field), "too_long")]


@pytest.mark.parametrize(("block", "field"), LISTS)
def test_empty_or_blank_list_item_is_rejected_naming_its_index(block: str, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({block: {field: ["first", "  \n"]}})

    assert errors(exc) == [((block, field), "empty_item")]
    assert only_message(exc) == "item at index 1 is empty: remove or fill in empty items"


def test_every_empty_item_is_named() -> None:
    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({"workflow": {"steps": ["", "ask", " "]}})

    assert only_message(exc) == "items at indexes 0, 2 are empty: remove or fill in empty items"


def test_examples_over_their_count_are_rejected() -> None:
    example = {"input": "hi", "output": "hello"}
    SpecBlocks.model_validate({"examples": [example] * spec.EXAMPLES_MAX})

    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({"examples": [example] * (spec.EXAMPLES_MAX + 1)})

    assert errors(exc) == [(("examples",), "too_long")]


@pytest.mark.parametrize("field", ["input", "output"])
def test_example_text_over_its_limit_is_rejected(field: str) -> None:
    SpecBlocks.model_validate({"examples": [{field: "x" * spec.EXAMPLE_TEXT_MAX}]})

    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({"examples": [{}, {field: "x" * (spec.EXAMPLE_TEXT_MAX + 1)}]})

    assert errors(exc) == [(("examples", 1, field), "string_too_long")]


def test_tools_over_their_count_are_rejected() -> None:
    tools = [{"name": f"tool_{i}"} for i in range(spec.TOOLS_MAX + 1)]
    SpecBlocks.model_validate({"capabilities": {"tools": tools[:-1]}})

    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({"capabilities": {"tools": tools}})

    assert errors(exc) == [(("capabilities", "tools"), "too_long")]


def test_variables_over_their_count_are_rejected() -> None:
    variables = [{"name": f"var_{i}"} for i in range(spec.VARIABLES_MAX + 1)]
    SpecBlocks.model_validate({"variables": variables[:-1]})

    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({"variables": variables})

    assert errors(exc) == [(("variables",), "too_long")]


def test_variable_default_over_its_limit_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate(
            {"variables": [{"name": "plan", "default": "x" * (spec.ITEM_MAX + 1)}]}
        )

    assert errors(exc) == [(("variables", 0, "default"), "string_too_long")]


def test_tool_and_variable_without_a_name_are_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({"capabilities": {"tools": [{}]}, "variables": [{}]})

    assert errors(exc) == [
        (("capabilities", "tools", 0, "name"), "missing"),
        (("variables", 0, "name"), "missing"),
    ]


@pytest.mark.parametrize("name", ["a", "_private", "lookup_invoice", "Plan2", "a" * 64])
def test_identifier_names_are_accepted(name: str) -> None:
    SpecBlocks.model_validate({"capabilities": {"tools": [{"name": name}]}})
    SpecBlocks.model_validate({"variables": [{"name": name}]})


@pytest.mark.parametrize("name", ["", "2fast", "has-dash", "has space", "plan.b", "é", "a" * 65])
def test_names_that_are_not_identifiers_are_rejected_quoting_them(name: str) -> None:
    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate(
            {"capabilities": {"tools": [{"name": name}]}, "variables": [{"name": name}]}
        )

    assert errors(exc) == [
        (("capabilities", "tools", 0, "name"), "invalid_name"),
        (("variables", 0, "name"), "invalid_name"),
    ]
    assert f'"{name}" is not a valid name' in exc.value.errors()[0]["msg"]


def test_duplicate_tool_name_is_rejected_naming_it() -> None:
    tools = [{"name": "lookup"}, {"name": "refund"}, {"name": " lookup "}]

    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({"capabilities": {"tools": tools}})

    assert errors(exc) == [(("capabilities", "tools"), "duplicate_name")]
    assert only_message(exc) == 'the name "lookup" is used more than once: names must be unique'


def test_duplicate_variable_name_is_rejected_naming_it() -> None:
    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate({"variables": [{"name": "plan"}, {"name": "plan"}]})

    assert errors(exc) == [(("variables",), "duplicate_name")]
    assert '"plan"' in only_message(exc)


def test_same_name_for_a_tool_and_a_variable_is_allowed() -> None:
    SpecBlocks.model_validate(
        {"capabilities": {"tools": [{"name": "plan"}]}, "variables": [{"name": "plan"}]}
    )


SCHEMA_PLACES = [
    (lambda schema: {"capabilities": {"tools": [{"name": "t", "parameters": schema}]}},
     ("capabilities", "tools", 0, "parameters")),
    (lambda schema: {"output": {"json_schema": schema}}, ("output", "json_schema")),
]  # fmt: skip


@pytest.mark.parametrize(("place", "loc"), SCHEMA_PLACES)
@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object"},
        {"properties": {"a": {"type": "string"}}},
        {"$ref": "#/$defs/Answer", "$defs": {"Answer": {"type": "object"}}},
        {"anyOf": [{"type": "string"}, {"type": "null"}]},
        {"oneOf": [{"type": "string"}]},
        {"allOf": [{"type": "object"}]},
    ],
)
def test_json_schema_objects_are_accepted(
    place: Any, loc: tuple[Any, ...], schema: dict[str, Any]
) -> None:
    SpecBlocks.model_validate(place(schema))


@pytest.mark.parametrize(("place", "loc"), SCHEMA_PLACES)
@pytest.mark.parametrize(
    ("value", "kind"), [([], "array"), ("object", "string"), (3, "number"), (True, "boolean")]
)
def test_json_schema_that_is_not_an_object_is_rejected(
    place: Any, loc: tuple[Any, ...], value: object, kind: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate(place(value))

    assert errors(exc) == [(loc, "not_json_object")]
    assert only_message(exc).endswith(f"not a JSON {kind}")


@pytest.mark.parametrize(("place", "loc"), SCHEMA_PLACES)
@pytest.mark.parametrize("value", [{}, {"answer": "string"}, {"description": "an answer"}])
def test_object_that_does_not_look_like_a_json_schema_is_rejected(
    place: Any, loc: tuple[Any, ...], value: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as exc:
        SpecBlocks.model_validate(place(value))

    assert errors(exc) == [(loc, "not_json_schema")]
    assert "does not look like a JSON Schema" in only_message(exc)


@pytest.mark.parametrize(("place", "loc"), SCHEMA_PLACES)
def test_json_schema_may_be_omitted_or_null(place: Any, loc: tuple[Any, ...]) -> None:
    SpecBlocks.model_validate(place(None))


def test_every_field_has_a_description_for_the_openapi_schema() -> None:
    models: list[type[BaseModel]] = [
        SpecBlocks,
        spec.Mission,
        spec.Audience,
        spec.Persona,
        spec.Tool,
        spec.Capabilities,
        spec.Knowledge,
        spec.Constraints,
        spec.Workflow,
        spec.Output,
        spec.Example,
        spec.Escalation,
        spec.Variable,
    ]

    undescribed = [
        f"{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if not field.description
    ]

    assert undescribed == []


class TestUsedVariables:
    def test_empty_spec_uses_none(self) -> None:
        assert used_variables(SpecBlocks()) == set()

    def test_billing_spec_uses_its_company_name(self) -> None:
        assert used_variables(SpecBlocks.model_validate(billing_support_spec())) == {"company_name"}

    def test_names_are_found_with_or_without_inner_spaces_in_every_text_field(self) -> None:
        blocks = SpecBlocks.model_validate(
            {
                "mission": {"problem": "Help {{customer}}", "success_criteria": ["{{ plan }}"]},
                "persona": {"role": "agent for {{  company_name  }}"},
                "capabilities": {"tools": [{"name": "t", "description": "uses {{tool_hint}}"}]},
                "constraints": {"must_not": ["mention {{competitor}}"]},
                "examples": [{"input": "{{question}}", "output": "{{answer}} and {{plan}}"}],
            }
        )

        assert used_variables(blocks) == {
            "customer",
            "plan",
            "company_name",
            "tool_hint",
            "competitor",
            "question",
            "answer",
        }

    def test_the_variables_block_and_json_schemas_do_not_count_as_uses(self) -> None:
        templated = {"type": "string", "description": "{{in_schema}}"}
        blocks = SpecBlocks.model_validate(
            {
                "capabilities": {"tools": [{"name": "t", "parameters": templated}]},
                "output": {"json_schema": templated},
                "variables": [{"name": "plan", "description": "{{plan}}", "default": "{{other}}"}],
            }
        )

        assert used_variables(blocks) == set()

    def test_text_that_is_not_a_variable_reference_is_ignored(self) -> None:
        blocks = SpecBlocks.model_validate(
            {"mission": {"problem": "{single} {{ 2fast }} {{two words}} {{}} {{ ok_1 }}"}}
        )

        assert used_variables(blocks) == {"ok_1"}

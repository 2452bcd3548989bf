"""The compiler's pure rules: section rendering, determinism, variables, golden outputs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from compiler import domain
from contracts.compiler import CompileAgentV1
from contracts.spec import SpecBlocks, Variable

GOLDEN = Path(__file__).parent.parent / "golden"


def compile_blocks(blocks: dict[str, Any]) -> domain.Compiled:
    return domain.compile_spec(domain.parse(blocks), domain.spec_hash(blocks))


def fixed_tokens(text: str) -> domain.TokenCount:
    return domain.TokenCount(len(text.split()), "test: words")


@pytest.mark.parametrize("name", ["billing_support", "json_triage", "minimal"])
def test_golden_specs_compile_to_their_exact_instructions(name: str) -> None:
    blocks = json.loads((GOLDEN / f"{name}.spec.json").read_text())["blocks"]
    expected = (GOLDEN / f"{name}.instructions.md").read_text()
    assert compile_blocks(blocks).instructions + "\n" == expected


def test_the_first_section_is_the_system_backbone_and_the_order_is_fixed() -> None:
    blocks = json.loads((GOLDEN / "billing_support.spec.json").read_text())["blocks"]
    titles = [s.title for s in compile_blocks(blocks).sections]
    assert titles == [
        "System Backbone",
        "Capabilities",
        "Knowledge",
        "Operating Rules",
        "Workflow",
        "Output Contract",
        "Examples",
        "Escalation",
    ]


def test_the_same_spec_always_compiles_to_byte_identical_instructions() -> None:
    blocks = json.loads((GOLDEN / "billing_support.spec.json").read_text())["blocks"]
    reordered = {key: blocks[key] for key in reversed(list(blocks))}
    first, second = compile_blocks(blocks), compile_blocks(reordered)
    assert first.instructions.encode() == second.instructions.encode()
    assert domain.spec_hash(blocks) == domain.spec_hash(reordered)


def test_empty_blocks_leave_no_empty_headings() -> None:
    compiled = compile_blocks(
        {"persona": {"role": "tutor"}, "constraints": {"must": [], "must_not": []}, "examples": []}
    )
    assert compiled.instructions == "## System Backbone\nRole: tutor"


def test_an_empty_spec_gets_a_default_backbone_only() -> None:
    assert compile_blocks({}).instructions == "## System Backbone\nYou are a helpful assistant."


def test_tool_parameters_are_listed_with_optional_ones_marked() -> None:
    compiled = compile_blocks(
        {
            "capabilities": {
                "tools": [
                    {
                        "name": "search",
                        "description": "Search the docs.",
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "query": {"type": "string"},
                                "limit": {"type": "integer"},
                            },
                            "required": ["query"],
                        },
                    },
                    {"name": "now", "description": ""},
                ]
            }
        }
    )
    assert compiled.sections[1].body == "Tools:\n- search(query, limit?): Search the docs.\n- now()"


def test_escalation_with_only_an_action_gets_a_default_trigger() -> None:
    compiled = compile_blocks({"escalation": {"action": "hand over to a person"}})
    assert compiled.sections[-1].body == (
        "When you cannot complete the mission: hand over to a person"
    )


def test_a_variable_used_but_not_declared_fails_with_the_names() -> None:
    blocks = {
        "mission": {"problem": "Help {{ team }} with {{product}}"},
        "variables": [{"name": "team"}],
    }
    with pytest.raises(domain.CompileError, match=r"^variables used but not declared: product$"):
        compile_blocks(blocks)


def test_an_invalid_spec_fails_naming_the_field() -> None:
    with pytest.raises(domain.CompileError, match=r"persona\.role"):
        domain.parse({"persona": {"role": "x" * 500}})
    with pytest.raises(domain.CompileError, match=r"colour"):
        domain.parse({"colour": {}})


class TestRender:
    variables = (
        Variable(name="company", required=True),
        Variable(name="tone", required=False, default="friendly"),
        Variable(name="region", required=False),
    )

    def test_values_and_defaults_fill_the_placeholders(self) -> None:
        text = "{{company}} / {{ tone }} / [{{region}}]"
        assert domain.render(text, self.variables, {"company": "Acme"}) == "Acme / friendly / []"

    def test_a_missing_required_value_fails_with_the_names(self) -> None:
        with pytest.raises(
            domain.CompileError, match=r"^missing values for required variables: company$"
        ):
            domain.render("{{company}}", self.variables, {"tone": "dry"})

    def test_an_undeclared_placeholder_fails_rather_than_rendering_a_blank(self) -> None:
        with pytest.raises(domain.CompileError, match=r"^variables used but not declared: city$"):
            domain.render("{{company}} in {{city}}", self.variables, {"company": "Acme"})


class TestCompileCommand:
    def command(self, blocks: dict[str, Any]) -> CompileAgentV1:
        return CompileAgentV1(
            compilation_id=uuid.uuid4(), agent_id=uuid.uuid4(), spec_revision=4, blocks=blocks
        )

    def test_a_good_spec_succeeds_with_its_token_count(self) -> None:
        outcome = domain.compile_command(self.command({"persona": {"role": "tutor"}}), fixed_tokens)
        assert outcome.status == "succeeded"
        assert outcome.instructions == "## System Backbone\nRole: tutor"
        assert (outcome.token_count, outcome.token_count_method) == (5, "test: words")
        assert outcome.compiler_version == domain.COMPILER_VERSION

    def test_a_bad_spec_fails_with_the_reason(self) -> None:
        outcome = domain.compile_command(
            self.command({"mission": {"problem": "{{who}}"}}), fixed_tokens
        )
        assert (outcome.status, outcome.error) == ("failed", "variables used but not declared: who")
        assert outcome.instructions is None

    def test_a_reused_outcome_keeps_the_result_under_the_new_ids(self) -> None:
        first = domain.compile_command(self.command({"persona": {"role": "tutor"}}), fixed_tokens)
        second_cmd = self.command({"persona": {"role": "tutor"}})
        reused = first.reused_for(second_cmd)
        assert (reused.compilation_id, reused.reused_from) == (
            second_cmd.compilation_id,
            first.compilation_id,
        )
        assert reused.instructions == first.instructions


def test_spec_blocks_round_trip_through_the_compiled_event() -> None:
    blocks = json.loads((GOLDEN / "billing_support.spec.json").read_text())["blocks"]
    spec = SpecBlocks.model_validate(blocks)
    assert spec.model_dump(mode="json", exclude_none=True) == blocks

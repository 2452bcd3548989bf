"""Unit tests of the compiler's pure rules: blocks → sections → instructions, and the spec hash."""

from __future__ import annotations

from typing import Any

import pytest

from compiler import domain
from compiler.domain import CompileError, compile_spec, render_value

REALISTIC_SPEC: dict[str, Any] = {
    "persona": "  You are Ada, a patient billing specialist at Acme Cloud.\n",
    "mission": {
        "goal": "Resolve billing questions in the first reply.",
        "success_criteria": [
            "The customer's question is answered",
            "No account data is exposed",
        ],
    },
    "constraints": {
        "must": ["Cite the help-centre article you used", "Ask before issuing a refund"],
        "must_not": ["Promise delivery dates", "Share internal ticket links"],
    },
    "workflow": [
        "Greet the customer by name",
        "Identify the invoice in question",
        "Explain the charge line by line",
    ],
    "output": {"format": "markdown", "max_words": 200, "include_signature": True},
    "examples": [
        {
            "input": "Why was I charged twice?",
            "output": "You were charged once; the second line is a hold.",
        },
        {"input": "Can I get a refund?", "output": "I can ask for one. Shall I?"},
    ],
}

REALISTIC_INSTRUCTIONS = """\
## System Backbone
You are Ada, a patient billing specialist at Acme Cloud.

Goal: Resolve billing questions in the first reply.
Success criteria:
  - The customer's question is answered
  - No account data is exposed

## Operating Rules
Must:
  - Cite the help-centre article you used
  - Ask before issuing a refund
Must not:
  - Promise delivery dates
  - Share internal ticket links

## Workflow
- Greet the customer by name
- Identify the invoice in question
- Explain the charge line by line

## Output Contract
Format: markdown
Include signature: true
Max words: 200

## Examples
- Input: Why was I charged twice?
  Output: You were charged once; the second line is a hold.
- Input: Can I get a refund?
  Output: I can ask for one. Shall I?"""

ALL_BLOCKS: dict[str, Any] = {
    "persona": "You are Ada.",
    "mission": "Help with billing.",
    "audience": "Small businesses",
    "capabilities": ["Read invoices"],
    "knowledge": {"source": "Help centre"},
    "constraints": {"must": ["Be polite"]},
    "workflow": ["Greet"],
    "output": "Markdown",
    "examples": [{"input": "Hi", "output": "Hello"}],
    "escalation": "Hand over to a human after two failed attempts.",
}


class TestCompileSpec:
    def test_first_section_is_system_backbone(self) -> None:
        compiled = compile_spec({"persona": "You are Ada.", "workflow": ["Greet"]})

        assert compiled.sections[0] == domain.Section("System Backbone", "You are Ada.")
        assert compiled.instructions.startswith("## System Backbone\nYou are Ada.\n\n")

    def test_backbone_joins_persona_then_mission_with_a_blank_line(self) -> None:
        compiled = compile_spec({"mission": "Help with billing.", "persona": "You are Ada."})

        assert compiled.sections == (
            domain.Section("System Backbone", "You are Ada.\n\nHelp with billing."),
        )

    def test_same_blocks_twice_give_byte_identical_instructions(self) -> None:
        first = compile_spec(REALISTIC_SPEC)
        second = compile_spec(REALISTIC_SPEC)

        assert first.instructions.encode() == second.instructions.encode()
        assert first == second

    def test_key_order_of_blocks_changes_neither_instructions_nor_spec_hash(self) -> None:
        reordered = {
            key: dict(reversed(value.items())) if isinstance(value, dict) else value
            for key, value in reversed(REALISTIC_SPEC.items())
        }
        assert list(reordered) != list(REALISTIC_SPEC)

        original = compile_spec(REALISTIC_SPEC)
        shuffled = compile_spec(reordered)

        assert shuffled.instructions == original.instructions
        assert shuffled.spec_hash == original.spec_hash

    def test_different_blocks_give_a_different_spec_hash(self) -> None:
        changed = {**REALISTIC_SPEC, "workflow": ["Greet the customer by name"]}

        assert compile_spec(changed).spec_hash != compile_spec(REALISTIC_SPEC).spec_hash

    def test_spec_hash_is_a_sha256_hex_digest(self) -> None:
        digest = compile_spec({"workflow": ["Greet"]}).spec_hash

        assert len(digest) == 64
        assert set(digest) <= set("0123456789abcdef")

    def test_spec_with_only_workflow_has_default_backbone_then_workflow(self) -> None:
        compiled = compile_spec({"workflow": ["Greet", "Help"]})

        assert compiled.sections == (
            domain.Section("System Backbone", "You are a helpful assistant."),
            domain.Section("Workflow", "- Greet\n- Help"),
        )
        assert compiled.instructions == (
            "## System Backbone\nYou are a helpful assistant.\n\n## Workflow\n- Greet\n- Help"
        )

    def test_empty_blocks_leave_no_empty_headings(self) -> None:
        compiled = compile_spec(
            {
                "persona": "   ",
                "audience": "",
                "capabilities": [],
                "knowledge": {},
                "constraints": {"must": [], "must_not": [""]},
                "workflow": ["Greet"],
                "output": None,
                "examples": [{}],
            }
        )

        assert [s.title for s in compiled.sections] == ["System Backbone", "Workflow"]
        assert compiled.sections[0].body == "You are a helpful assistant."
        assert compiled.instructions.count("## ") == 2

    def test_sections_follow_the_fixed_order_whatever_the_input_order(self) -> None:
        compiled = compile_spec(dict(reversed(ALL_BLOCKS.items())))

        assert [s.title for s in compiled.sections] == [
            "System Backbone",
            "Audience",
            "Capabilities",
            "Knowledge",
            "Operating Rules",
            "Workflow",
            "Output Contract",
            "Examples",
            "Escalation",
        ]

    def test_blocks_outside_the_known_ones_are_not_rendered(self) -> None:
        compiled = compile_spec({"workflow": ["Greet"], "notes": "internal scratch"})

        assert "internal scratch" not in compiled.instructions
        assert [s.title for s in compiled.sections] == ["System Backbone", "Workflow"]

    @pytest.mark.parametrize("blocks", [["workflow"], "workflow", None, 42])
    def test_non_mapping_spec_raises_compile_error(self, blocks: Any) -> None:
        with pytest.raises(CompileError, match=r"^the specification must be an object of blocks$"):
            compile_spec(blocks)

    def test_unsupported_value_in_a_block_raises_compile_error_naming_the_type(self) -> None:
        with pytest.raises(CompileError, match=r"^unsupported value of type set$"):
            compile_spec({"workflow": ["Greet", {"tools": {"search"}}]})

    def test_realistic_spec_compiles_to_the_golden_instructions(self) -> None:
        compiled = compile_spec(REALISTIC_SPEC)

        assert compiled.instructions == REALISTIC_INSTRUCTIONS
        assert [s.title for s in compiled.sections] == [
            "System Backbone",
            "Operating Rules",
            "Workflow",
            "Output Contract",
            "Examples",
        ]


class TestRenderValue:
    def test_string_is_stripped(self) -> None:
        assert render_value("  Be kind.\n\n") == "Be kind."

    @pytest.mark.parametrize("value", [None, "", [], {}])
    def test_empty_value_renders_as_empty_text(self, value: Any) -> None:
        assert render_value(value) == ""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(True, "true"), (False, "false"), (0, "0"), (42, "42"), (2.5, "2.5"), (-1.0, "-1.0")],
    )
    def test_booleans_and_numbers_render_as_json(self, value: Any, expected: str) -> None:
        assert render_value(value) == expected

    def test_list_renders_as_bullets_skipping_empty_items(self) -> None:
        assert render_value([" Greet ", "", None, "Help", 3]) == "- Greet\n- Help\n- 3"

    def test_object_renders_as_labelled_lines_in_key_order(self) -> None:
        rendered = render_value({"tone": "warm", "max_words": 120, "reading_level": "plain"})

        assert rendered == "Max words: 120\nReading level: plain\nTone: warm"

    def test_object_skips_keys_with_empty_values(self) -> None:
        assert render_value({"tone": "warm", "notes": "", "rules": []}) == "Tone: warm"

    def test_list_inside_object_goes_on_indented_lines_below_its_label(self) -> None:
        rendered = render_value({"must": ["Be polite", "Cite sources"]})

        assert rendered == "Must:\n  - Be polite\n  - Cite sources"

    def test_multiline_string_inside_object_goes_below_its_label(self) -> None:
        assert render_value({"note": "line one\nline two"}) == "Note:\nline one\nline two"

    def test_object_inside_list_renders_as_one_bullet_with_aligned_lines(self) -> None:
        rendered = render_value([{"input": "Hi", "output": "Hello"}])

        assert rendered == "- Input: Hi\n  Output: Hello"

    @pytest.mark.parametrize(
        ("value", "type_name"),
        [({"a", "b"}, "set"), (object(), "object"), (("a", "b"), "tuple"), (b"raw", "bytes")],
    )
    def test_unsupported_value_raises_compile_error_naming_the_type(
        self, value: Any, type_name: str
    ) -> None:
        with pytest.raises(CompileError, match=rf"^unsupported value of type {type_name}$"):
            render_value(value)

    def test_unsupported_value_nested_in_a_list_raises_compile_error(self) -> None:
        with pytest.raises(CompileError, match=r"^unsupported value of type object$"):
            render_value(["fine", object()])

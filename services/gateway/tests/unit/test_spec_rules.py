"""Unit tests of the spec rules: the completeness score and every lint rule, firing and not."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any

import pytest

from contracts.spec import SpecBlocks
from gateway.specs.lint import RULE_CODES, Warning, lint
from gateway.specs.rules import EXAMPLE_WEIGHTS, FIELD_WEIGHTS, completeness
from tests.support.specs import billing_support_spec

Spec = dict[str, Any]


def score(data: Spec) -> int:
    return completeness(SpecBlocks.model_validate(data))


def warnings(data: Spec) -> list[Warning]:
    return lint(SpecBlocks.model_validate(data))


def only(data: Spec, code: str) -> list[Warning]:
    return [warning for warning in warnings(data) if warning.code == code]


def fill(block: str, field: str, value: object) -> Callable[[Spec], None]:
    def step(data: Spec) -> None:
        data.setdefault(block, {})[field] = value

    return step


def add_example(example: dict[str, str]) -> Callable[[Spec], None]:
    def step(data: Spec) -> None:
        data.setdefault("examples", []).append(example)

    return step


def declare_variables(variables: list[dict[str, Any]]) -> Callable[[Spec], None]:
    def step(data: Spec) -> None:
        data["variables"] = variables

    return step


def filling_steps() -> list[tuple[str, Callable[[Spec], None]]]:
    """One step per field of the billing spec; the three optional fields are steps too."""
    full = billing_support_spec()
    steps = [
        (f"{block}.{field}", fill(block, field, full[block][field]))
        for block, field in [*FIELD_WEIGHTS, ("capabilities", "tools"), ("output", "json_schema")]
    ]
    steps += [(f"examples.{i}", add_example(example)) for i, example in enumerate(full["examples"])]
    return [*steps, ("variables", declare_variables(full["variables"]))]


OPTIONAL = {"capabilities.tools", "output.json_schema", "variables"}
COUNTED_BLOCKS = sorted({block for block, _ in FIELD_WEIGHTS})


class TestCompleteness:
    def test_empty_spec_scores_0(self) -> None:
        assert completeness(SpecBlocks()) == 0

    def test_blocks_present_but_empty_score_0(self) -> None:
        assert score({name: {} for name in COUNTED_BLOCKS} | {"examples": [{}]}) == 0

    def test_complete_billing_spec_scores_100(self) -> None:
        assert score(billing_support_spec()) == 100

    def test_weights_of_the_counted_fields_sum_to_100(self) -> None:
        assert sum(FIELD_WEIGHTS.values()) + sum(EXAMPLE_WEIGHTS) == 100

    def test_mission_counts_most(self) -> None:
        assert score({"mission": {"problem": "Answer invoice questions"}}) == 15
        assert score({"mission": {"success_criteria": ["cites the invoice"]}}) == 15
        assert max(FIELD_WEIGHTS.values()) == 15

    @pytest.mark.parametrize(("count", "expected"), [(1, 4), (2, 6), (3, 8), (5, 8)])
    def test_examples_give_partial_credit_up_to_three(self, count: int, expected: int) -> None:
        examples = [{"input": f"question {i}", "output": f"answer {i}"} for i in range(count)]

        assert score({"examples": examples}) == expected

    def test_example_counts_only_with_both_input_and_output(self) -> None:
        assert score({"examples": [{"input": "hi"}, {"output": "hello"}]}) == 0

    def test_optional_fields_do_not_change_the_score(self) -> None:
        full = billing_support_spec()
        optional_only = {
            "capabilities": {"tools": full["capabilities"]["tools"]},
            "output": {"json_schema": full["output"]["json_schema"]},
            "variables": full["variables"],
        }
        del full["capabilities"]["tools"], full["output"]["json_schema"], full["variables"]

        assert score(optional_only) == 0
        assert score(full) == 100

    @pytest.mark.parametrize("seed", range(8))
    def test_filling_fields_in_any_order_never_lowers_the_score(self, seed: int) -> None:
        steps = filling_steps()
        random.Random(seed).shuffle(steps)
        data: Spec = {}
        scores = [score(data)]

        for name, step in steps:
            step(data)
            scores.append(score(data))
            if name in OPTIONAL:
                assert scores[-1] == scores[-2], name

        assert scores == sorted(scores)
        assert scores[-1] == 100


def test_billing_spec_has_no_warnings() -> None:
    assert warnings(billing_support_spec()) == []


def test_empty_spec_has_no_warnings() -> None:
    assert lint(SpecBlocks()) == []


def test_warning_is_frozen() -> None:
    warning = Warning("duplicate_items", "workflow", "steps.1", "repeat")

    with pytest.raises(dataclasses.FrozenInstanceError):
        warning.code = "other"  # type: ignore[misc]


class TestNoSuccessCriteria:
    @pytest.mark.parametrize(
        "data",
        [{"persona": {"role": "agent"}}, {"mission": {"problem": "Answer"}}, {"mission": {}}],
    )
    def test_fires_when_the_spec_is_started_without_criteria(self, data: Spec) -> None:
        [warning] = warnings(data)

        assert (warning.code, warning.block, warning.field) == (
            "no_success_criteria",
            "mission",
            "success_criteria",
        )
        assert "add at least one statement a reviewer could check" in warning.message

    def test_does_not_fire_with_a_criterion(self) -> None:
        assert warnings({"mission": {"success_criteria": ["cites the invoice number"]}}) == []


class TestUncheckableSuccessCriterion:
    @pytest.mark.parametrize(
        ("criterion", "term"),
        [
            ("Answers are helpful", "helpful"),
            ("Gives a GOOD explanation", "GOOD"),
            ("Tone is appropriate for customers", "appropriate"),
            ("Replies are high-quality", "high-quality"),
            ("Escalates as needed", "as needed"),
        ],
    )
    def test_fires_on_a_vague_criterion_without_an_anchor(self, criterion: str, term: str) -> None:
        data = {"mission": {"success_criteria": ["Cites the invoice number", criterion]}}

        [warning] = warnings(data)

        assert (warning.code, warning.block, warning.field) == (
            "uncheckable_success_criterion",
            "mission",
            "success_criteria.1",
        )
        assert f'Success criterion "{criterion}" cannot be checked: "{term}" is vague' in (
            warning.message
        )

    @pytest.mark.parametrize(
        "criterion",
        [
            "Explains the charge",
            "Mentions the goodwill credit",
            "Gives a good answer in 3 sentences",
            "Helpful answers that cite the invoice number",
            'Helpful: ends with "Anything else?"',
            "A better answer at most once per ticket",
            "Always gives a nice greeting",
        ],
    )
    def test_does_not_fire_without_a_vague_word_or_with_an_anchor(self, criterion: str) -> None:
        assert (
            only({"mission": {"success_criteria": [criterion]}}, "uncheckable_success_criterion")
            == []
        )


class TestContradictoryConstraints:
    @pytest.mark.parametrize(
        ("constraints", "field", "quoted"),
        [
            ({"must": ["Offer a refund"], "must_not": ["offer a  refund!"]}, "must_not.0",
             'must_not "offer a  refund!" contradicts must "Offer a refund"'),
            ({"must": ["Share the balance", "Never share the balance."]}, "must.1",
             'must "Never share the balance." contradicts must "Share the balance"'),
            ({"must": ["Share card numbers"], "must_not": ["Don't share card numbers"]}, "must_not.0",
             "must_not \"Don't share card numbers\" contradicts must \"Share card numbers\""),
            ({"must": ["Always reply in English"], "must_not": ["reply in English"]}, "must_not.0",
             'must_not "reply in English" contradicts must "Always reply in English"'),
        ],
    )  # fmt: skip
    def test_fires_on_an_action_both_required_and_forbidden(
        self, constraints: Spec, field: str, quoted: str
    ) -> None:
        [warning] = only({"constraints": constraints}, "contradictory_constraints")

        assert (warning.block, warning.field) == ("constraints", field)
        assert warning.message.startswith(quoted)
        assert "the agent cannot follow both" in warning.message

    @pytest.mark.parametrize(
        "constraints",
        [
            {"must": ["Never share card numbers"], "must_not": ["Share card numbers"]},
            {"must": ["Offer a refund"], "must_not": ["Offer a refund above 500 EUR"]},
            {"must": ["Not apologise more than once"], "must_not": ["apologise more than once"]},
            {"must_not": ["Share card numbers", "Never share card numbers"]},
        ],
    )
    def test_does_not_fire_on_rules_that_agree_or_differ(self, constraints: Spec) -> None:
        assert only({"constraints": constraints}, "contradictory_constraints") == []


class TestVariables:
    def test_undeclared_variable_fires_naming_it(self) -> None:
        data = {"mission": {"problem": "Help {{ customer }} with {{plan}}"}}

        assert only(data, "undeclared_variable") == [
            Warning(
                "undeclared_variable",
                "variables",
                None,
                '"{{customer}}" is used but not declared: add a variable named "customer" with '
                "a description, or fix the spelling.",
            ),
            Warning(
                "undeclared_variable",
                "variables",
                None,
                '"{{plan}}" is used but not declared: add a variable named "plan" with '
                "a description, or fix the spelling.",
            ),
        ]

    def test_unused_variable_fires_at_its_name(self) -> None:
        data = {
            "mission": {"problem": "Help {{plan}}"},
            "variables": [{"name": "plan"}, {"name": "tier"}],
        }

        [warning] = only(data, "unused_variable")

        assert (warning.block, warning.field) == ("variables", "1.name")
        assert warning.message.startswith('Variable "tier" is declared but never used')

    def test_declared_and_used_variables_do_not_fire(self) -> None:
        data = {"persona": {"role": "agent for {{company}}"}, "variables": [{"name": "company"}]}

        assert only(data, "undeclared_variable") == only(data, "unused_variable") == []


class TestExampleContradictsOutputFormat:
    @pytest.mark.parametrize(
        ("output", "answer", "problem"),
        [
            ({"format": "JSON"}, "Your invoice is paid.", "is not valid JSON"),
            ({"format": "a json object"}, "{'answer': 1}", "is not valid JSON"),
            ({"json_schema": {"type": "object"}}, "Paid.", "is not valid JSON"),
            ({"json_schema": {"type": "object"}}, '["paid"]', "is a JSON array, not object"),
            ({"json_schema": {"type": ["object", "null"]}}, "3", "is a JSON number, not object or null"),
            ({"json_schema": {"type": "integer"}}, "3.5", "is a JSON number, not integer"),
            ({"json_schema": {"type": "object", "required": ["invoice_id"]}}, '{"answer": "Paid."}',
             'lacks the required key "invoice_id"'),
        ],
    )  # fmt: skip
    def test_fires_on_an_example_that_breaks_the_json_contract(
        self, output: Spec, answer: str, problem: str
    ) -> None:
        data = {"output": output, "examples": [{"input": "not answered yet"}, {"output": answer}]}

        [warning] = only(data, "example_contradicts_output_format")

        assert (warning.block, warning.field) == ("examples", "1.output")
        assert f'The example output "{answer}" {problem}, but' in warning.message

    def test_message_quotes_the_format(self) -> None:
        data = {"output": {"format": "JSON"}, "examples": [{"output": "Paid."}]}

        [warning] = only(data, "example_contradicts_output_format")

        assert 'but the output format is "JSON"' in warning.message

    @pytest.mark.parametrize(
        ("output", "answer"),
        [
            ({"format": "plain text"}, "Your invoice is paid."),
            ({"format": "JSON"}, ' {"answer": "Paid."} '),
            ({"json_schema": {"type": "integer"}}, "3.0"),
            ({"json_schema": {"type": "number"}}, "3"),
            ({"json_schema": {"type": "object", "required": ["a"]}}, '{"a": null}'),
            ({"format": "JSON"}, ""),
        ],
    )
    def test_does_not_fire_on_examples_that_follow_the_contract(
        self, output: Spec, answer: str
    ) -> None:
        data = {"output": output, "examples": [{"input": "q", "output": answer}]}

        assert only(data, "example_contradicts_output_format") == []


class TestExampleExceedsLength:
    @pytest.mark.parametrize(
        ("length", "answer", "counted"),
        [
            ("under 5 words", "one two three four five", "has 5 words"),
            ("at most 4 words", "one two three four five", "has 5 words"),
            ("≤ 10 characters", "eleven char", "has 11 characters"),
            ("4 words or fewer", "one two three four five", "has 5 words"),
            ("At most 2 sentences.", "Hi. Your invoice is 12.50 EUR. Thanks!", "has 3 sentences"),
        ],
    )
    def test_fires_on_an_example_longer_than_the_length(
        self, length: str, answer: str, counted: str
    ) -> None:
        data = {"output": {"length": length}, "examples": [{"output": "ok"}, {"output": answer}]}

        [warning] = only(data, "example_exceeds_length")

        assert (warning.block, warning.field) == ("examples", "1.output")
        assert f'"{answer}" {counted}, but the output length is "{length}"' in warning.message

    @pytest.mark.parametrize(
        ("length", "answer"),
        [
            ("at most 5 words", "one two three four five"),
            ("under 6 words", "one two three four five"),
            ("short", "one two three four five six seven"),
            ("at most 2 sentences", "Your invoice is 12.50 EUR. Thanks!"),
            ("no more than 11 chars", "eleven char"),
        ],
    )
    def test_does_not_fire_within_the_length_or_without_a_bound(
        self, length: str, answer: str
    ) -> None:
        data = {"output": {"length": length}, "examples": [{"output": answer}]}

        assert only(data, "example_exceeds_length") == []


class TestDuplicateItems:
    def test_fires_on_a_repeated_step_ignoring_case_and_punctuation(self) -> None:
        steps = ["Ask for the invoice number", "Look it up", "ask for the invoice  number."]

        [warning] = only({"workflow": {"steps": steps}}, "duplicate_items")

        assert (warning.block, warning.field) == ("workflow", "steps.2")
        assert warning.message == (
            'The step "ask for the invoice  number." appears more than once in workflow.steps: '
            "remove the repeat."
        )

    def test_fires_on_a_repeated_example(self) -> None:
        example = {"input": "Why twice?", "output": "A retry."}

        [warning] = only({"examples": [example, {"input": "Other"}, example]}, "duplicate_items")

        assert (warning.block, warning.field) == ("examples", "2")
        assert warning.message.startswith('The example "Why twice?" appears more than once')

    def test_does_not_fire_on_distinct_items(self) -> None:
        data = {
            "knowledge": {"facts": ["Invoices are monthly", "Invoices are yearly"]},
            "examples": [{"input": "Why?", "output": "A."}, {"input": "Why?", "output": "B."}],
        }

        assert only(data, "duplicate_items") == []


def test_warnings_are_ordered_by_block_then_rule() -> None:
    data = {
        "variables": [{"name": "unused"}],
        "workflow": {"steps": ["Ask", "ask"]},
        "constraints": {"must": ["Refund", "Refund"], "must_not": ["refund"]},
        "mission": {"problem": "Help {{who}}", "success_criteria": ["Be nice", "Be nice"]},
    }

    assert [(w.block, w.code, w.field) for w in warnings(data)] == [
        ("mission", "uncheckable_success_criterion", "success_criteria.0"),
        ("mission", "uncheckable_success_criterion", "success_criteria.1"),
        ("mission", "duplicate_items", "success_criteria.1"),
        ("constraints", "contradictory_constraints", "must_not.0"),
        ("constraints", "contradictory_constraints", "must_not.0"),
        ("constraints", "duplicate_items", "must.1"),
        ("workflow", "duplicate_items", "steps.1"),
        ("variables", "undeclared_variable", None),
        ("variables", "unused_variable", "0.name"),
    ]


def test_rule_codes_are_stable() -> None:
    assert set(RULE_CODES) == {
        "no_success_criteria",
        "uncheckable_success_criterion",
        "contradictory_constraints",
        "undeclared_variable",
        "unused_variable",
        "example_contradicts_output_format",
        "example_exceeds_length",
        "duplicate_items",
    }

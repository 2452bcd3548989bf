"""A case's verdict: weighted score, weight 0, case threshold (0 included), named metrics, errors
kept apart from failures, variables and serialization."""

from __future__ import annotations

from typing import Any

from assertions import Assertion, CaseVerdict, evaluate


def a(type: str, value: Any = None, **fields: Any) -> Assertion:
    return Assertion(type=type, value=value, **fields)


async def run(
    output: str,
    *assertions: Assertion,
    threshold: float | None = None,
    vars: dict[str, Any] | None = None,
) -> CaseVerdict:
    return await evaluate(
        output, list(assertions), latency_ms=None, threshold=threshold, vars=vars or {}, grader=None
    )


async def test_score_is_the_weighted_mean_as_in_promptfoos_docs_example() -> None:
    verdict = await run("Hello world", a("equals", "Goodbye", weight=2), a("contains", "Hello"))
    assert (verdict.pass_, verdict.score, verdict.error) == (False, 1 / 3, None)
    assert verdict.reason == 'Expected output "Hello world" to equal "Goodbye"'


async def test_all_passing_assertions_give_the_all_passed_reason() -> None:
    verdict = await run("Hello", a("contains", "H"), a("starts-with", "He"))
    assert (verdict.pass_, verdict.score, verdict.reason) == (True, 1.0, "All assertions passed")


async def test_the_reason_is_the_last_failing_assertion() -> None:
    verdict = await run("x", a("contains", "a"), a("contains", "x"), a("contains", "b"))
    assert verdict.reason == 'Expected output to contain "b"'


async def test_weight_zero_forces_a_pass_and_adds_nothing_to_the_score() -> None:
    verdict = await run("Hello", a("contains", "nope", weight=0), a("contains", "Hello"))
    assert (verdict.pass_, verdict.score) == (True, 1.0)
    assert (verdict.assertions[0].pass_, verdict.assertions[0].score) == (True, 0.0)


async def test_only_weight_zero_assertions_score_zero_and_pass() -> None:
    verdict = await run("Hello", a("contains", "Hello", weight=0))
    assert (verdict.pass_, verdict.score) == (True, 0.0)


async def test_case_threshold_replaces_the_no_failure_rule() -> None:
    passing = await run("ab", a("contains", "a"), a("contains", "z"), threshold=0.5)
    assert (passing.pass_, passing.reason) == (True, "Aggregate score 0.50 ≥ 0.5 threshold")
    failing = await run("ab", a("contains", "a"), a("contains", "z"), threshold=0.6)
    assert (failing.pass_, failing.reason) == (False, "Aggregate score 0.50 < 0.6 threshold")


async def test_case_threshold_zero_is_honoured_so_every_case_passes() -> None:
    verdict = await run("ab", a("contains", "y"), a("contains", "z"), threshold=0)
    assert (verdict.pass_, verdict.score, verdict.reason) == (
        True,
        0.0,
        "Aggregate score 0.00 ≥ 0 threshold",
    )


async def test_a_nan_case_threshold_is_ignored() -> None:
    verdict = await run("ab", a("contains", "z"), threshold=float("nan"))
    assert (verdict.pass_, verdict.reason) == (False, 'Expected output to contain "z"')


async def test_named_scores_are_the_weighted_mean_per_metric() -> None:
    verdict = await run(
        "abc",
        a("contains", "a", metric="accuracy", weight=3),
        a("contains", "z", metric="accuracy"),
        a("contains", "b", metric="style"),
        a("contains", "c"),
    )
    assert verdict.named_scores == {"accuracy": 0.75, "style": 1.0}
    assert verdict.score == 5 / 6


async def test_metric_names_are_rendered_with_the_vars() -> None:
    verdict = await run(
        "bonjour", a("contains", "bon", metric="greeting_{{ lang }}"), vars={"lang": "fr"}
    )
    assert verdict.named_scores == {"greeting_fr": 1.0}
    assert verdict.assertions[0].metric == "greeting_fr"


async def test_a_weight_zero_metric_records_zero_as_promptfoo_does() -> None:
    verdict = await run("abc", a("contains", "a", metric="seen", weight=0))
    assert verdict.named_scores == {"seen": 0.0}


async def test_an_error_makes_the_case_an_error_kept_apart_from_failures() -> None:
    verdict = await run(
        "abc", a("contains", "a", metric="m"), a("contains", ""), a("contains", "z")
    )
    assert (verdict.pass_, verdict.score, verdict.named_scores) == (False, 0.0, {})
    assert verdict.error == '"contains" assertion type must have a string or number value'
    assert [(v.pass_, v.error is not None) for v in verdict.assertions] == [
        (True, False),
        (False, True),
        (False, False),
    ]


async def test_weight_zero_does_not_hide_an_error() -> None:
    verdict = await run("abc", a("contains", "", weight=0))
    assert verdict.error is not None
    assert verdict.assertions[0].pass_ is False


async def test_a_failure_leaves_error_empty() -> None:
    verdict = await run("abc", a("contains", "z"))
    assert (verdict.pass_, verdict.error) == (False, None)


async def test_unknown_and_unsupported_types_are_errors() -> None:
    unknown = await run("x", a("nope"))
    assert unknown.error == "Unknown assertion type: nope"
    unsupported = await run("x", a("not-javascript", "output.length > 1"))
    assert (
        unsupported.error == 'assertion type "not-javascript" is not supported by this test-runner'
    )


async def test_no_assertions_is_a_pass_with_score_one() -> None:
    verdict = await run("x")
    assert (verdict.pass_, verdict.score, verdict.reason) == (True, 1.0, "No assertions")


async def test_values_are_rendered_with_the_vars_and_missing_vars_render_empty() -> None:
    assert (await run("Hi Ada", a("contains", "{{ name }}"), vars={"name": "Ada"})).pass_ is True
    assert (
        await run("Hi Ada", a("contains-all", ["Hi", "{{name}}"]), vars={"name": "Ada"})
    ).pass_ is True
    missing = await run("Hi", a("contains", "{{ name }}"))
    assert missing.error == '"contains" assertion type must have a string or number value'


async def test_unsupported_templates_and_file_references_are_errors() -> None:
    templated = await run("x", a("contains", "{% set x = 1 %}x"))
    assert templated.error == (
        "cannot render the value: Nunjucks tag {% set x = 1 %} is not supported"
        " (only if and raw blocks)"
    )
    thrown = await run("x", a("contains", "{{ missing | first }}"))
    assert thrown.error == (
        "cannot render the value: Cannot read properties of undefined (reading '0')"
    )
    referenced = await run("x", a("contains", "file://expected.txt"))
    assert (
        referenced.error == "file:// and package: values are not supported; give the value inline"
    )


async def test_verdicts_serialize_pass_under_its_promptfoo_name() -> None:
    verdict = await run("x", a("contains", "x", metric="m"))
    assert verdict.model_dump() == {
        "pass": True,
        "score": 1.0,
        "reason": "All assertions passed",
        "error": None,
        "named_scores": {"m": 1.0},
        "assertions": [
            {
                "type": "contains",
                "pass": True,
                "score": 1.0,
                "reason": "Assertion passed",
                "error": None,
                "metric": "m",
            }
        ],
    }
    assert CaseVerdict.model_validate(verdict.model_dump()) == verdict

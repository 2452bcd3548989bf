"""The test-runner's pure rules: outcomes over repeats, pass rate, caching, the recorded row."""

from __future__ import annotations

import uuid

import pytest

from contracts.runs import OUTPUT_MAX, RunCase
from contracts.verdicts import AssertionVerdict, CaseVerdict
from testrunner import domain
from testrunner.domain import Counts, Execution


def case(*assertions: dict[str, object], **fields: object) -> RunCase:
    return RunCase.model_validate(
        {
            "index": 3,
            "test_case_id": uuid.uuid4(),
            "input": "hello",
            "assert": list(assertions),
            **fields,
        }
    )


@pytest.mark.parametrize(
    ("any_pass", "any_fail", "expected"),
    [
        (True, False, "passed"),
        (False, True, "failed"),
        (True, True, "flaky"),
        (False, False, "errored"),  # only errors: no verdict at all
    ],
)
def test_a_cases_outcome_over_its_executions(any_pass: bool, any_fail: bool, expected: str) -> None:
    assert domain.case_outcome(any_pass, any_fail) == expected


def test_flaky_cases_count_as_failed_and_errors_stay_out_of_the_pass_rate() -> None:
    counts = domain.count(["passed", "passed", "flaky", "failed", "errored", "errored"])
    assert counts == Counts(passed=2, failed=2, errored=2, flaky=1)
    assert counts.pass_rate == 0.5


def test_no_judged_case_has_no_pass_rate_rather_than_zero() -> None:
    assert domain.count(["errored"]).pass_rate is None
    assert domain.count([]).pass_rate is None


def test_the_system_message_is_the_rendered_instructions_and_the_user_message_the_input() -> None:
    assert domain.messages("You help Acme.", case()) == [
        {"role": "system", "content": "You help Acme."},
        {"role": "user", "content": "hello"},
    ]


def test_the_cache_key_covers_model_parameters_and_messages() -> None:
    msgs = domain.messages("sys", case())
    key = domain.cache_key("m", 0.2, msgs)
    assert key == domain.cache_key("m", 0.2, [dict(m) for m in msgs])
    assert len({
        key,
        domain.cache_key("other", 0.2, msgs),
        domain.cache_key("m", 0.3, msgs),
        domain.cache_key("m", 0.2, domain.messages("sys2", case())),
        domain.cache_key("m", None, msgs),
    }) == 5  # fmt: skip


def test_responses_are_never_cached_for_repeats_or_latency_assertions() -> None:
    plain = case({"type": "contains", "value": "x"})
    assert domain.cacheable(plain, cache=True, repeat=1)
    assert not domain.cacheable(plain, cache=False, repeat=1)
    assert not domain.cacheable(plain, cache=True, repeat=2)
    assert not domain.cacheable(case({"type": "latency", "threshold": 10}), cache=True, repeat=1)
    assert not domain.cacheable(
        case({"type": "not-latency", "threshold": 10}), cache=True, repeat=1
    )


def test_a_judged_execution_records_the_verdict_and_a_bounded_output() -> None:
    verdict = CaseVerdict(
        pass_=False,
        score=0.25,
        reason='Expected output to contain "x"',
        named_scores={"tone": 0.5},
        assertions=[AssertionVerdict(type="contains", pass_=False, score=0, reason="no x")],
    )
    execution = Execution(uuid.uuid4(), case(), 1)
    execution.output = "y" * (OUTPUT_MAX + 10)
    row = execution.judged(verdict).row()
    assert (row["pass"], row["score"], row["error"], row["repeat_index"]) == (False, 0.25, None, 1)
    assert row["assertions"] == [
        {"type": "contains", "pass": False, "score": 0.0, "reason": "no x", "error": None,
         "metric": None}
    ]  # fmt: skip
    assert row["named_scores"] == {"tone": 0.5}
    assert len(row["output"]) == OUTPUT_MAX


def test_an_execution_that_could_not_run_is_an_error_with_no_verdict() -> None:
    failed = Execution(uuid.uuid4(), case(), 0).failed_to_run("AI provider: rejected (400)")
    row = failed.row()
    assert (row["pass"], row["error"], row["score"]) == (False, "AI provider: rejected (400)", 0)
    assert row["assertions"] == []

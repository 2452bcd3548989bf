"""Comparing two runs case by case: outcomes over repeats, and regressed / fixed / unchanged."""

from __future__ import annotations

from uuid import UUID, uuid4

from contracts.comparison import case_outcomes, compare_cases, passed_and_failed
from contracts.runs import CaseResult


def result(case: UUID, pass_: bool, error: str | None = None, repeat: int = 0) -> CaseResult:
    return CaseResult(
        case_index=0, repeat_index=repeat, test_case_id=case, pass_=pass_, error=error, score=0,
        reason="",
    )  # fmt: skip


def test_a_cases_outcome_over_its_repeats_leaves_errors_out() -> None:
    ok, bad, flaky, broken, half = uuid4(), uuid4(), uuid4(), uuid4(), uuid4()
    outcomes = case_outcomes(
        [
            result(ok, True),
            result(bad, False),
            result(flaky, True),
            result(flaky, False, repeat=1),
            result(broken, False, error="AI provider: down"),
            result(half, True),
            result(half, False, error="timeout", repeat=1),
        ]
    )
    assert outcomes == {
        ok: "passed", bad: "failed", flaky: "flaky", broken: "errored", half: "passed"
    }  # fmt: skip
    assert passed_and_failed(outcomes) == (frozenset({ok, half}), frozenset({bad, flaky}))


def test_regressed_fixed_and_unchanged_cover_only_cases_judged_in_both_runs() -> None:
    kept, lost, mended, still_bad, added, dropped = (uuid4() for _ in range(6))
    compared = compare_cases(
        frozenset({kept, lost, dropped}),
        frozenset({mended, still_bad}),
        frozenset({kept, mended, added}),
        frozenset({lost, still_bad}),
    )
    assert compared.regressed == {lost}
    assert compared.fixed == {mended}
    assert compared.unchanged == {kept, still_bad}

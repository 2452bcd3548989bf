"""Two runs of an agent's cases side by side, case by case: the rule the publish gate refuses on
(a case that passed in the run behind production fails now) and what the API shows beside a run
(regressed, fixed, unchanged). One rule, so the gate and the page never disagree."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from contracts.runs import CaseOutcome, CaseResult


def case_outcome(any_pass: bool, any_fail: bool) -> CaseOutcome:
    """Over a case's executions (errors left out): passed and failed both seen → flaky."""
    if any_pass and any_fail:
        return "flaky"
    if any_pass:
        return "passed"
    if any_fail:
        return "failed"
    return "errored"


def case_outcomes(results: Iterable[CaseResult]) -> dict[UUID, CaseOutcome]:
    """Each case's outcome over the executions recorded for it, in the order cases first appear."""
    seen: dict[UUID, tuple[bool, bool]] = {}
    for r in results:
        any_pass, any_fail = seen.get(r.test_case_id, (False, False))
        judged = r.error is None
        seen[r.test_case_id] = (
            any_pass or (judged and r.pass_),
            any_fail or (judged and not r.pass_),
        )
    return {case: case_outcome(*verdicts) for case, verdicts in seen.items()}


def passed_and_failed(outcomes: dict[UUID, CaseOutcome]) -> tuple[frozenset[UUID], frozenset[UUID]]:
    """The cases that passed, and those that did not reliably pass (flaky ones are failures)."""
    passed = frozenset(c for c, o in outcomes.items() if o == "passed")
    failed = frozenset(c for c, o in outcomes.items() if o in ("failed", "flaky"))
    return passed, failed


@dataclass(frozen=True)
class CaseComparison:
    """Cases judged in both runs (an errored, added or removed case is in none of these)."""

    regressed: frozenset[UUID]  # passed in the base run, fail now
    fixed: frozenset[UUID]  # failed in the base run, pass now
    unchanged: frozenset[UUID]  # the same verdict in both


def compare_cases(
    base_passed: frozenset[UUID],
    base_failed: frozenset[UUID],
    passed: frozenset[UUID],
    failed: frozenset[UUID],
) -> CaseComparison:
    return CaseComparison(
        regressed=base_passed & failed,
        fixed=base_failed & passed,
        unchanged=(base_passed & passed) | (base_failed & failed),
    )

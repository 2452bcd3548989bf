"""The publish gate, pure: may this test run stand behind a new version?"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class RunOutcome:
    run_id: UUID
    compilation_id: UUID
    status: str
    pass_rate: float | None
    passed: frozenset[UUID]
    failed: frozenset[UUID]


@dataclass(frozen=True)
class Refusal:
    reason: str
    regressions: tuple[UUID, ...] = ()


def gate(
    *,
    compilation_id: UUID,
    test_run_id: UUID | None,
    run: RunOutcome | None,
    min_pass_rate: float,
    production: tuple[int, RunOutcome | None] | None,
) -> Refusal | None:
    """Why the publish must be refused, or None. `production` is the version on `production` and
    the run it was judged by (None when nothing is in production yet)."""
    if test_run_id is None:
        return Refusal("a publish must name a completed test run of its compilation")
    if run is None or run.status != "completed":
        state = "unknown" if run is None else run.status
        return Refusal(f"test run {test_run_id} is not completed ({state})")
    if run.compilation_id != compilation_id:
        return Refusal(
            f"test run {test_run_id} tested compilation {run.compilation_id}, not {compilation_id}"
        )
    if run.pass_rate is None:
        return Refusal(f"test run {test_run_id} has no pass rate: every case errored")
    if run.pass_rate < min_pass_rate:
        return Refusal(
            f"pass rate {run.pass_rate:.1%} is below the agent's min_pass_rate {min_pass_rate:.1%}"
        )
    number, behind = production if production is not None else (0, None)
    if behind is not None:
        regressions = tuple(sorted(behind.passed & run.failed, key=str))
        if regressions:
            listed = ", ".join(str(c) for c in regressions[:20])
            more = f" and {len(regressions) - 20} more" if len(regressions) > 20 else ""
            return Refusal(
                f"{len(regressions)} case(s) that passed in the run behind production "
                f"(version {number}) fail now: {listed}{more}",
                regressions,
            )
    return None

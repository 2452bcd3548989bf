"""The publish gate: completed run of the same compilation, pass rate, no regressions."""

from __future__ import annotations

import uuid

from publisher.domain import RunOutcome, gate

COMPILATION = uuid.uuid4()
RUN = uuid.uuid4()
A, B, C = (uuid.uuid4() for _ in range(3))


def outcome(
    *, passed: set[uuid.UUID], failed: set[uuid.UUID], status: str = "completed", **kw: object
) -> RunOutcome:
    judged = len(passed) + len(failed)
    return RunOutcome(
        run_id=kw.get("run_id", RUN),  # type: ignore[arg-type]
        compilation_id=kw.get("compilation_id", COMPILATION),  # type: ignore[arg-type]
        status=status,
        pass_rate=len(passed) / judged if judged else None,
        passed=frozenset(passed),
        failed=frozenset(failed),
    )


def check(
    run: RunOutcome | None, *, production: RunOutcome | None = None, bar: float = 0.5
) -> str | None:
    refusal = gate(
        compilation_id=COMPILATION,
        test_run_id=RUN,
        run=run,
        min_pass_rate=bar,
        production=None if production is None else (3, production),
    )
    return None if refusal is None else refusal.reason


def test_a_good_run_passes_the_gate() -> None:
    assert (
        check(outcome(passed={A, B}, failed=set()), production=outcome(passed={A}, failed={B}))
        is None
    )


def test_a_publish_without_a_run_is_refused() -> None:
    refusal = gate(
        compilation_id=COMPILATION, test_run_id=None, run=None, min_pass_rate=0, production=None
    )
    assert refusal is not None
    assert refusal.reason == "a publish must name a completed test run of its compilation"


def test_an_unfinished_or_unknown_run_is_refused() -> None:
    assert check(None) == f"test run {RUN} is not completed (unknown)"
    assert check(outcome(passed={A}, failed=set(), status="cancelled")) == (
        f"test run {RUN} is not completed (cancelled)"
    )


def test_a_run_of_another_compilation_is_refused() -> None:
    other = uuid.uuid4()
    assert check(outcome(passed={A}, failed=set(), compilation_id=other)) == (
        f"test run {RUN} tested compilation {other}, not {COMPILATION}"
    )


def test_a_pass_rate_below_the_bar_is_refused_and_one_at_it_passes() -> None:
    assert check(outcome(passed={A}, failed={B, C}), bar=0.5) == (
        "pass rate 33.3% is below the agent's min_pass_rate 50.0%"
    )
    assert check(outcome(passed={A}, failed={B}), bar=0.5) is None
    assert check(outcome(passed=set(), failed=set())) == (
        f"test run {RUN} has no pass rate: every case errored"
    )


def test_cases_that_passed_behind_production_and_fail_now_are_named() -> None:
    refusal = gate(
        compilation_id=COMPILATION,
        test_run_id=RUN,
        run=outcome(passed={A, C}, failed={B}),
        min_pass_rate=0.5,
        production=(3, outcome(passed={A, B}, failed={C}, run_id=uuid.uuid4())),
    )
    assert refusal is not None
    assert refusal.regressions == (B,)
    assert refusal.reason == (
        f"1 case(s) that passed in the run behind production (version 3) fail now: {B}"
    )


def test_nothing_in_production_or_a_version_without_a_run_has_no_regressions() -> None:
    run = outcome(passed={A}, failed={B})
    assert check(run, production=None) is None
    assert (
        gate(
            compilation_id=COMPILATION,
            test_run_id=RUN,
            run=run,
            min_pass_rate=0.5,
            production=(1, None),
        )
        is None
    )

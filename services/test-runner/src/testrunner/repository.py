"""SQL of the test-runner's tables; every function runs in the session it is given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.compiler import VariableDecl
from contracts.runs import CaseOutcome, RunCase, RunSummary, StartTestRunV1
from testrunner import domain
from testrunner.domain import Counts, Execution
from testrunner.models import response_cache, results, run_cases, runs

ACTIVE = ("running", "paused")


async def lock_run(session: AsyncSession, run_id: UUID) -> None:
    """Serialise the handlers that build one run's snapshot (until the transaction ends)."""
    await session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(str(run_id), 0)))
    )


async def add_run(session: AsyncSession, cmd: StartTestRunV1, owner_id: UUID | None) -> None:
    await session.execute(
        insert(runs)
        .values(
            id=cmd.run_id,
            agent_id=cmd.agent_id,
            compilation_id=cmd.compilation_id,
            owner_id=owner_id,
            instructions=cmd.instructions,
            variables=[v.model_dump(mode="json") for v in cmd.variables],
            model=cmd.model,
            temperature=cmd.temperature,
            repeat=cmd.repeat,
            cache=cmd.cache,
            total_cases=cmd.total_cases,
            status="queued",
        )
        .on_conflict_do_nothing()
    )


async def add_cases(session: AsyncSession, run_id: UUID, cases: Sequence[RunCase]) -> None:
    await session.execute(
        insert(run_cases)
        .values(
            [
                {
                    "run_id": run_id,
                    "case_index": c.index,
                    "case": c.model_dump(mode="json", by_alias=True),
                }
                for c in cases
            ]
        )
        .on_conflict_do_nothing()
    )


async def start_if_complete(session: AsyncSession, run_id: UUID) -> tuple[Any, list[RunCase]]:
    """When the run is queued and all its cases are stored: mark it running, return it and them."""
    run = (
        await session.execute(sa.select(runs).where(runs.c.id == run_id).with_for_update())
    ).first()
    if run is None or run.status != "queued":
        return None, []
    stored = await session.scalar(
        sa.select(sa.func.count()).select_from(run_cases).where(run_cases.c.run_id == run_id)
    )
    if stored != run.total_cases:
        return None, []
    rows = await session.scalars(
        sa.select(run_cases.c.case)
        .where(run_cases.c.run_id == run_id)
        .order_by(run_cases.c.case_index)
    )
    await session.execute(
        sa.update(runs)
        .where(runs.c.id == run_id)
        .values(status="running", started_at=sa.func.now())
    )
    return run, [RunCase.model_validate(row) for row in rows]


async def get_run(session: AsyncSession, run_id: UUID) -> Any:
    return (await session.execute(sa.select(runs).where(runs.c.id == run_id))).first()


async def cached_response(session: AsyncSession, key: str) -> Any:
    return (
        await session.execute(sa.select(response_cache).where(response_cache.c.key == key))
    ).first()


async def mark_paused(session: AsyncSession, run_id: UUID, reason: str) -> bool:
    result = await session.execute(
        sa.update(runs)
        .where(runs.c.id == run_id, runs.c.status == "running")
        .values(status="paused", reason=reason[:1000])
        .returning(runs.c.id)
    )
    return result.first() is not None


async def record(session: AsyncSession, run_id: UUID, executions: list[Execution]) -> Any:
    """Insert the results that are new; count them on the run (resuming it if it was paused).

    Returns the run row after the update (with `was_paused`, its status before), or None when
    nothing new was recorded or the run is no longer active (cancelled: its late results are kept
    but not counted).
    """
    cache_rows = [
        {"key": k, "output": o, "prompt_tokens": p, "completion_tokens": c}
        for k, o, p, c in (e.cache_entry for e in executions if e.cache_entry is not None)
    ]
    if cache_rows:
        await session.execute(insert(response_cache).on_conflict_do_nothing(), cache_rows)
    inserted = (await session.execute(_INSERT_RESULTS, [e.row() for e in executions])).all()
    if not inserted:
        return None
    errored = [row for row in inserted if row.error is not None]
    passed = sum(1 for row in inserted if row.error is None and row[1])
    provider_ok = len(errored) < len(inserted) or any(
        not row.error.startswith(domain.PROVIDER_ERROR_PREFIX) for row in errored
    )
    params = {
        "b_run": run_id,
        "b_executed": len(inserted),
        "b_passed": passed,
        "b_failed": len(inserted) - passed - len(errored),
        "b_errored": len(errored),
        "b_provider_ok": provider_ok,
    }
    return (await session.execute(_COUNT_RESULTS, params)).first()


# Built once: the hot path's statements skip construction and cache-key generation per call.
# A list of parameters (not one multi-row VALUES) compiles once whatever the batch's size.
_INSERT_RESULTS = (
    insert(results).on_conflict_do_nothing().returning(results.c.error, results.c["pass"])
)
_RESUME = sa.and_(runs.c.status == "paused", sa.bindparam("b_provider_ok", type_=sa.Boolean))
_STATUS_BEFORE = (
    sa.select(runs.c.status).where(runs.c.id == sa.bindparam("b_run")).scalar_subquery()
)
_COUNT_RESULTS = (
    sa.update(runs)
    .where(runs.c.id == sa.bindparam("b_run"), runs.c.status.in_(ACTIVE))
    .values(
        executed=runs.c.executed + sa.bindparam("b_executed", type_=sa.Integer),
        executions_passed=runs.c.executions_passed + sa.bindparam("b_passed", type_=sa.Integer),
        executions_failed=runs.c.executions_failed + sa.bindparam("b_failed", type_=sa.Integer),
        executions_errored=runs.c.executions_errored + sa.bindparam("b_errored", type_=sa.Integer),
        # A result that reached the provider ends a pause.
        status=sa.case((_RESUME, "running"), else_=runs.c.status),
        reason=sa.case((_RESUME, sa.null()), else_=runs.c.reason),
    )
    # A subquery in RETURNING reads the statement's snapshot, from before this update.
    .returning(*runs.c, (_STATUS_BEFORE == "paused").label("was_paused"))
)


async def case_outcomes(session: AsyncSession, run_id: UUID) -> list[tuple[UUID, CaseOutcome]]:
    """Each case's outcome over the executions recorded so far (cases with none are left out)."""
    judged = sa.and_(results.c.error.is_(None))
    rows = await session.execute(
        sa.select(
            results.c.test_case_id,
            sa.func.bool_or(sa.and_(judged, results.c["pass"])).label("any_pass"),
            sa.func.bool_or(sa.and_(judged, sa.not_(results.c["pass"]))).label("any_fail"),
        )
        .where(results.c.run_id == run_id)
        .group_by(results.c.case_index, results.c.test_case_id)
        .order_by(results.c.case_index)
    )
    return [
        (row.test_case_id, domain.case_outcome(bool(row.any_pass), bool(row.any_fail)))
        for row in rows
    ]


async def finish(
    session: AsyncSession, run_id: UUID, status: str, counts: Counts, reason: str | None = None
) -> Any:
    """Complete or cancel an active (or queued) run, once: None when it had already finished."""
    return (
        await session.execute(
            sa.update(runs)
            .where(runs.c.id == run_id, runs.c.status.in_(("queued", *ACTIVE)))
            .values(
                status=status,
                reason=reason,
                passed=counts.passed,
                failed=counts.failed,
                errored=counts.errored,
                flaky=counts.flaky,
                finished_at=sa.func.now(),
            )
            .returning(*runs.c)
        )
    ).first()


async def results_page(
    session: AsyncSession, run_id: UUID, after: tuple[int, int] | None, limit: int
) -> Sequence[Any]:
    query = sa.select(results).where(results.c.run_id == run_id)
    if after is not None:
        query = query.where(
            sa.tuple_(results.c.case_index, results.c.repeat_index) > sa.tuple_(*after)
        )
    query = query.order_by(results.c.case_index, results.c.repeat_index).limit(limit)
    return (await session.execute(query)).all()


def summary(run: Any, counts: Counts) -> RunSummary:
    return RunSummary(
        run_id=run.id,
        agent_id=run.agent_id,
        compilation_id=run.compilation_id,
        status=run.status,
        reason=run.reason,
        total=run.total_cases,
        repeat=run.repeat,
        executions=run.total_cases * run.repeat,
        executed=run.executed,
        passed=counts.passed,
        failed=counts.failed,
        errored=counts.errored,
        flaky=counts.flaky,
        pass_rate=counts.pass_rate,
        model=run.model,
        temperature=run.temperature,
        cache=run.cache,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def stored_counts(run: Any) -> Counts:
    return Counts(run.passed, run.failed, run.errored, run.flaky)


def execution_counts(run: Any) -> Counts:
    """The cases' live counts of a run without repeats (each case is one execution)."""
    return Counts(run.executions_passed, run.executions_failed, run.executions_errored, 0)


def variables_of(run: Any) -> list[VariableDecl]:
    return [VariableDecl.model_validate(v) for v in run.variables]

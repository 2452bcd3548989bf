"""The only place with SQL for the test-runner's tables: `RunRepository` (a run's snapshot, its
results and counts) and `ResponseCacheRepository` (models' answers kept for identical calls)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.runs import CaseOutcome, CaseResult, RunCase, StartTestRunV1
from runtime.erasure import mark_erased
from testrunner import domain
from testrunner.domain import CachedResponse, Chunk, Counts, Execution, Run
from testrunner.models import erased_owners, response_cache, results, run_cases, runs

ACTIVE = ("running", "paused")


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock(self, run_id: UUID) -> None:
        """Serialise the handlers that build one run's snapshot (until the transaction ends)."""
        await self._session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(str(run_id), 0)))
        )

    async def add(self, cmd: StartTestRunV1, owner_id: UUID | None) -> None:
        """Store the run's settings, queued (once: a replay stores nothing)."""
        await self._session.execute(
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

    async def add_cases(self, run_id: UUID, cases: Sequence[RunCase]) -> None:
        await self._session.execute(
            _ADD_CASES,
            {"b_run": run_id, "b_cases": _CASES.dump_json(list(cases), by_alias=True).decode()},
        )

    async def start_if_complete(self, run_id: UUID) -> Run | None:
        """When the run is queued and all its cases are stored: mark it running and return it;
        otherwise None. Its executions are emitted afterwards, a chunk at a time (`next_chunk`)."""
        row = (
            await self._session.execute(
                sa.select(runs).where(runs.c.id == run_id).with_for_update()
            )
        ).first()
        if row is None or row.status != "queued":
            return None
        stored = await self._session.scalar(
            sa.select(sa.func.count()).select_from(run_cases).where(run_cases.c.run_id == run_id)
        )
        if stored != row.total_cases:
            return None
        await self._session.execute(
            sa.update(runs)
            .where(runs.c.id == run_id)
            .values(status="running", started_at=sa.func.now())
        )
        return Run.model_validate(row._mapping)

    async def next_chunk(self, run_id: UUID, start: int, size: int) -> Chunk | None:
        """Claim the executions `start` up to `start + size` of an active run whose cursor stands
        at `start`, moving it past them; None when it does not (the chunk was emitted already,
        or the run was cancelled, completed or erased). A compare-and-set on `fanned_out`: a
        chunk is claimed by one transaction only, whatever redelivers its command."""
        end = sa.func.least(start + size, runs.c.total_cases * runs.c.repeat)
        claimed = (
            await self._session.execute(
                sa.update(runs)
                .where(
                    runs.c.id == run_id,
                    runs.c.status.in_(ACTIVE),
                    runs.c.fanned_out == start,
                    runs.c.fanned_out < runs.c.total_cases * runs.c.repeat,
                )
                .values(fanned_out=end)
                .returning(runs.c.fanned_out, runs.c.total_cases, runs.c.repeat)
            )
        ).first()
        if claimed is None:
            return None
        positions = domain.executions_between(claimed.total_cases, start, claimed.fanned_out)
        rows = await self._session.execute(
            sa.select(run_cases.c.case_index, run_cases.c.case).where(
                run_cases.c.run_id == run_id,
                run_cases.c.case_index.in_(sorted({index for _, index in positions})),
            )
        )
        cases = {row.case_index: RunCase.model_validate(row.case) for row in rows}
        return Chunk(
            executions=[(repeat, cases[index]) for repeat, index in positions],
            more=claimed.fanned_out < claimed.total_cases * claimed.repeat,
        )

    async def get(self, run_id: UUID) -> Run | None:
        row = (await self._session.execute(sa.select(runs).where(runs.c.id == run_id))).first()
        return None if row is None else Run.model_validate(row._mapping)

    async def mark_paused(self, run_id: UUID, reason: str) -> bool:
        """Show a running run as paused; False when it was not running."""
        result = await self._session.execute(
            sa.update(runs)
            .where(runs.c.id == run_id, runs.c.status == "running")
            .values(status="paused", reason=reason[:1000])
            .returning(runs.c.id)
        )
        return result.first() is not None

    async def record(self, run_id: UUID, executions: list[Execution]) -> tuple[Run, bool] | None:
        """Insert the results that are new; count them on the run (resuming it if it was paused).

        Returns the run after the update and whether this resumed it from a pause, or None when
        nothing new was recorded or the run is no longer active (cancelled: its late results are
        kept but not counted). The hot path: after the lock, one prebuilt statement inserts the
        batch (one JSON document) and counts it on the run.
        """
        # FOR NO KEY UPDATE, the lock the counters' UPDATE below needs anyway: taken first, so two
        # replicas' batches for one run queue here rather than both holding FOR SHARE and deadlocking
        # on the upgrade. An erasure deleting the run waits for these results to commit, then
        # deletes them too; once the run is gone, late results are dropped.
        if await self._session.scalar(_LOCK_RUN, {"b_run": run_id}) is None:
            return None
        cache_rows = [
            {
                "key": k,
                "output": _without_nul(o),
                "prompt_tokens": p,
                "completion_tokens": c,
                "offline": f,
            }
            for k, o, p, c, f in (e.cache_entry for e in executions if e.cache_entry is not None)
        ]
        if cache_rows:
            await self._session.execute(_INSERT_CACHE, cache_rows)
        params = {
            "b_run": run_id,
            "b_rows": _result_rows(executions),
            "b_provider_error": f"{domain.PROVIDER_ERROR_PREFIX}%",
        }
        row = (await self._session.execute(_RECORD_RESULTS, params)).first()
        if row is None:  # none was new, or the run is no longer active
            return None
        run = Run.model_validate(row._mapping)
        return run, row.was_paused and run.status == "running"

    async def case_outcomes(self, run_id: UUID) -> list[tuple[UUID, CaseOutcome]]:
        """Each case's outcome over the executions recorded so far (cases with none are left out)."""
        judged = results.c.error.is_(None)
        rows = await self._session.execute(
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
        self, run_id: UUID, status: str, counts: Counts, reason: str | None = None
    ) -> Run | None:
        """Complete or cancel an active (or queued) run, once: None when it had already finished."""
        row = (
            await self._session.execute(
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
        return None if row is None else Run.model_validate(row._mapping)

    async def results_page(
        self, run_id: UUID, after: tuple[int, int] | None, limit: int
    ) -> list[CaseResult]:
        """Results in case and repeat order, after the `(case, repeat)` given."""
        query = sa.select(results).where(results.c.run_id == run_id)
        if after is not None:
            query = query.where(
                sa.tuple_(results.c.case_index, results.c.repeat_index) > sa.tuple_(*after)
            )
        query = query.order_by(results.c.case_index, results.c.repeat_index).limit(limit)
        rows = await self._session.execute(query)
        return [CaseResult.model_validate(dict(row._mapping)) for row in rows]


class ErasureRepository:
    """Deletes a user's runs, snapshots, results and the cached answers their executions stored."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def erase(
        self, user_id: UUID, agent_ids: Sequence[UUID], queued_run_ids: Sequence[UUID]
    ) -> dict[str, int]:
        await mark_erased(self._session, erased_owners, user_id)
        # The runs first: their row locks wait for a batch recording results for them (`record`
        # locks its run FOR NO KEY UPDATE), so those results are committed before they are
        # deleted below.
        erased_runs = [
            Run.model_validate(row._mapping)
            for row in await self._session.execute(
                sa.delete(runs)
                .where(sa.or_(runs.c.agent_id.in_(agent_ids), runs.c.owner_id == user_id))
                .returning(*runs.c)
            )
        ]
        ids = [run.id for run in erased_runs]
        keys: set[str] = set()
        erased_cases = 0
        for run in erased_runs:
            cases = await self._session.scalars(
                sa.delete(run_cases).where(run_cases.c.run_id == run.id).returning(run_cases.c.case)
            )
            snapshot = [RunCase.model_validate(c) for c in cases]
            erased_cases += len(snapshot)
            keys |= domain.cache_keys_of(run, snapshot)
        # Cases of a run whose start had not arrived yet: no run row names them.
        orphans = await self._session.execute(
            sa.delete(run_cases).where(run_cases.c.run_id.in_(queued_run_ids))
        )
        erased_cases += int(getattr(orphans, "rowcount", 0))
        erased_results = await self._session.execute(
            sa.delete(results).where(results.c.run_id.in_(ids))
        )
        erased_cache = await self._session.execute(
            sa.delete(response_cache).where(response_cache.c.key.in_(sorted(keys)))
        )
        return {
            "runs": len(ids),
            "run_cases": erased_cases,
            "results": int(getattr(erased_results, "rowcount", 0)),
            "response_cache": int(getattr(erased_cache, "rowcount", 0)),
        }


class ResponseCacheRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> CachedResponse | None:
        c = response_cache.c
        row = (
            await self._session.execute(
                sa.select(c.output, c.prompt_tokens, c.completion_tokens, c.offline).where(
                    c.key == key
                )
            )
        ).first()
        return None if row is None else CachedResponse(**row._mapping)


# Built once: the hot path's statements skip construction and cache-key generation per call.
# A list of parameters (not one multi-row VALUES) compiles once whatever the batch's size.
_INSERT_CACHE = insert(response_cache).on_conflict_do_nothing()
# A chunk of cases goes in as one JSON document, like the results below: one statement whatever the
# chunk's size (a multi-row VALUES is compiled anew for each size), dumped in one pass by pydantic.
# As an array of texts, psycopg escaped each case's quotes one regular-expression match at a time
# (measured: 31 against 2.5 µs of CPU per case).
_CASES = TypeAdapter(list[RunCase])
_ADD_CASES = sa.text(
    f"""
    INSERT INTO {run_cases.fullname} (run_id, case_index, "case")
    SELECT :b_run, CAST(c ->> 'index' AS integer), c
    FROM jsonb_array_elements(CAST(:b_cases AS jsonb)) AS c
    ON CONFLICT DO NOTHING
    """
)
_LOCK_RUN = (  # FOR NO KEY UPDATE
    sa.select(runs.c.id).where(runs.c.id == sa.bindparam("b_run")).with_for_update(key_share=True)
)
# The results of a batch go in as one JSON document (one short statement, parsed and planned once,
# whatever the batch's size) and are counted on the run by the same statement. One `json.dumps`
# of the rows costs a fraction of binding an array per column, which psycopg dumps element by
# element (measured: 1.4 against 2.5 ms of CPU for a batch of 17 results).
_RESULT_COLUMNS = {
    "case_index": "integer",
    "repeat_index": "integer",
    "test_case_id": "uuid",
    "description": "text",
    "pass": "boolean",
    "error": "text",
    "score": "float8",
    "reason": "text",
    "output": "text",
    "latency_ms": "float8",
    "cached": "boolean",
    "offline": "boolean",
    "prompt_tokens": "integer",
    "completion_tokens": "integer",
    "assertions": "jsonb",
    "named_scores": "jsonb",
}
_FLOAT_COLUMNS = ("score", "latency_ms")


def _result_rows(executions: list[Execution]) -> str:
    rows = [e.row() for e in executions]
    for row in rows:
        del row["run_id"]  # the statement's own parameter
        row["test_case_id"] = str(row["test_case_id"])
        for name in _FLOAT_COLUMNS:
            value = row[name]
            if value is not None and not math.isfinite(value):
                # JSON has no NaN nor infinity; as strings they are read by float8's own input.
                row[name] = str(value)
    document = json.dumps(rows, ensure_ascii=False)
    if "\\u0000" in document:  # rare: a model wrote NUL (or a backslash and "u0000")
        document = json.dumps(_without_nul(rows), ensure_ascii=False)
    return document


def _without_nul(value: Any) -> Any:
    """`value` with U+FFFD in place of U+0000, which PostgreSQL's text and jsonb cannot hold and a
    model may write: kept with a replacement rather than refused, after it was graded as it came."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def _record_results_sql() -> sa.TextClause:
    columns = ", ".join(f'"{name}"' for name in _RESULT_COLUMNS)
    typed = ", ".join(f'"{name}" {kind}' for name, kind in _RESULT_COLUMNS.items())
    return sa.text(
        f"""
        WITH inserted AS (
            INSERT INTO {results.fullname} (run_id, {columns})
            SELECT :b_run, {columns} FROM jsonb_to_recordset(CAST(:b_rows AS jsonb)) AS r({typed})
            ON CONFLICT DO NOTHING
            RETURNING error, "pass"
        ), counted AS (
            SELECT count(*) AS executed,
                count(*) FILTER (WHERE error IS NULL AND "pass") AS passed,
                count(*) FILTER (WHERE error IS NULL AND NOT "pass") AS failed,
                count(*) FILTER (WHERE error IS NOT NULL) AS errored,
                -- A result that reached the provider ends a pause.
                coalesce(bool_or(error IS NULL OR error NOT LIKE :b_provider_error), false)
                    AS provider_ok
            FROM inserted
        )
        UPDATE {runs.fullname} AS run SET
            executed = run.executed + counted.executed,
            executions_passed = run.executions_passed + counted.passed,
            executions_failed = run.executions_failed + counted.failed,
            executions_errored = run.executions_errored + counted.errored,
            status = CASE WHEN run.status = 'paused' AND counted.provider_ok
                THEN 'running' ELSE run.status END,
            reason = CASE WHEN run.status = 'paused' AND counted.provider_ok
                THEN NULL ELSE run.reason END
        FROM counted
        WHERE run.id = :b_run AND run.status IN {ACTIVE!r} AND counted.executed > 0
        -- A subquery in RETURNING reads the statement's snapshot: the status before this update.
        RETURNING run.*,
            (SELECT status FROM {runs.fullname} WHERE id = :b_run) = 'paused' AS was_paused
        """
    )


_RECORD_RESULTS = _record_results_sql()

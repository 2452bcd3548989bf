"""Test runs: requested here (a snapshot sent through the outbox), carried out by the test-runner,
read back through its query (docs/decisions/0006)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4
from xml.sax.saxutils import escape, quoteattr

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.registry import envelope_for
from contracts.runs import (
    CASES_PER_CHUNK,
    RUN_CASES_MAX,
    AddRunCasesV1,
    CancelTestRunV1,
    CaseResult,
    GetTestRunV1,
    RunCase,
    RunProgressV1,
    RunSummary,
    StartTestRunV1,
    TestRunV1,
    progress_subject,
)
from gateway import schemas
from gateway.errors import ApiError, not_found
from gateway.reads import QueryReads
from gateway.repository import (
    AgentRepository,
    CompilationRepository,
    TestCaseRepository,
    TestRunRepository,
)
from gateway.services import OUTBOX, decode_cursor, encode_cursor
from gateway.settings import SERVICE
from runtime import outbox

CHUNK_BYTES = 512 * 1024  # a chunk's cases, well under NATS's 1 MB message limit
CASE_BYTES_MAX = 900 * 1024
FINISHED = ("completed", "cancelled")


async def request_run(
    session: AsyncSession,
    user_id: UUID,
    agent_id: UUID,
    body: schemas.TestRunCreate,
    correlation_id: UUID,
) -> schemas.TestRunAccepted:
    """Record the run's view and its snapshot commands in one transaction (the outbox)."""
    compilation = await CompilationRepository(session).get(user_id, agent_id, body.compilation_id)
    if compilation is None:
        if await AgentRepository(session).get(user_id, agent_id) is None:
            raise not_found("agent", agent_id)
        raise not_found("compilation", body.compilation_id)
    if compilation.status != "succeeded":
        raise ApiError(
            409,
            "compilation_not_succeeded",
            f"compilation {body.compilation_id} is {compilation.status}; "
            "a run needs a succeeded compilation",
        )
    rows = await TestCaseRepository(session).all_for_run(agent_id, RUN_CASES_MAX + 1)
    if not rows:
        raise ApiError(422, "no_test_cases", f"agent {agent_id} has no test cases to run")
    if len(rows) > RUN_CASES_MAX:
        raise ApiError(
            422, "too_many_test_cases", f"a run takes at most {RUN_CASES_MAX} test cases"
        )
    cases = [
        RunCase.model_validate(
            {
                "index": i,
                "test_case_id": row.id,
                "description": row.description,
                "input": row.input,
                "vars": row.vars,
                "assert": row.assertions,
                "threshold": row.threshold,
            }
        )
        for i, row in enumerate(rows)
    ]
    run_id = uuid4()
    await TestRunRepository(session).add(
        id=run_id,
        agent_id=agent_id,
        compilation_id=body.compilation_id,
        total=len(cases),
        repeat=body.repeat,
        model=body.model,
        temperature=body.temperature,
        cache=body.cache,
    )
    start = StartTestRunV1(
        run_id=run_id,
        agent_id=agent_id,
        compilation_id=body.compilation_id,
        instructions=compilation.instructions,
        variables=compilation.variables or [],
        model=body.model,
        temperature=body.temperature,
        repeat=body.repeat,
        cache=body.cache,
        total_cases=len(cases),
    )
    commands: list[BaseModel] = [AddRunCasesV1(run_id=run_id, cases=c) for c in _chunks(cases)]
    await outbox.add(
        session,
        OUTBOX,
        [
            envelope_for(c, source=SERVICE, correlation_id=correlation_id, owner_id=user_id)
            for c in [*commands, start]
        ],
    )
    return schemas.TestRunAccepted(id=run_id, status="queued")


def _chunks(cases: list[RunCase]) -> list[list[RunCase]]:
    """Consecutive cases, at most CASES_PER_CHUNK and about CHUNK_BYTES per chunk."""
    chunks: list[list[RunCase]] = [[]]
    size = 0
    for case in cases:
        case_size = len(case.model_dump_json(by_alias=True))
        if case_size > CASE_BYTES_MAX:
            label = case.description or str(case.test_case_id)
            raise ApiError(
                422,
                "test_case_too_large",
                f"test case {label} is too large to run ({case_size} bytes)",
            )
        if chunks[-1] and (len(chunks[-1]) >= CASES_PER_CHUNK or size + case_size > CHUNK_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(case)
        size += case_size
    return chunks


async def cancel_run(
    session: AsyncSession, user_id: UUID, agent_id: UUID, run_id: UUID, correlation_id: UUID
) -> schemas.TestRunAccepted:
    view = await TestRunRepository(session).get(user_id, agent_id, run_id)
    if view is None:
        raise not_found("test run", run_id)
    if view.status in FINISHED:
        raise ApiError(409, "test_run_finished", f"test run {run_id} is already {view.status}")
    command = CancelTestRunV1(run_id=run_id, reason="cancelled by its owner")
    await outbox.add(
        session,
        OUTBOX,
        [envelope_for(command, source=SERVICE, correlation_id=correlation_id, owner_id=user_id)],
    )
    return schemas.TestRunAccepted(id=run_id, status="cancelling")


async def list_runs(
    session: AsyncSession, user_id: UUID, agent_id: UUID, limit: int, cursor: str | None
) -> schemas.TestRunsPublic:
    if await AgentRepository(session).get(user_id, agent_id) is None:
        raise not_found("agent", agent_id)
    before = decode_cursor(cursor) if cursor else None
    rows = await TestRunRepository(session).list_page(agent_id, limit + 1, before)
    page = rows[:limit]
    return schemas.TestRunsPublic(
        items=[_summary_from_view(r) for r in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None,
    )


async def owned_view(session: AsyncSession, user_id: UUID, agent_id: UUID, run_id: UUID) -> Any:
    view = await TestRunRepository(session).get(user_id, agent_id, run_id)
    if view is None:
        raise not_found("test run", run_id)
    return view


class TestRunReader(QueryReads):
    """Reads a run from the test-runner (its query)."""

    __test__ = False
    unavailable_code = "test_runner_unavailable"
    reading = "read the test run"

    async def get(
        self, run_id: UUID, after: tuple[int, int] | None = None, limit: int = 100
    ) -> TestRunV1:
        reply = await self._ask(
            GetTestRunV1(run_id=run_id, results_after=after, results_limit=limit)
        )
        assert isinstance(reply, TestRunV1)
        return reply

    async def public(self, view: Any, cursor: str | None, limit: int) -> schemas.TestRunPublic:
        reply = await self.get(view.id, parse_results_cursor(cursor), limit)
        if not reply.found or reply.summary is None:  # not received by the test-runner yet
            return schemas.TestRunPublic(
                **_summary_from_view(view).model_dump(), results=[], next_cursor=None
            )
        next_cursor = (
            None if reply.next_after is None else f"{reply.next_after[0]}.{reply.next_after[1]}"
        )
        return schemas.TestRunPublic(
            **summary_public(reply.summary).model_dump(),
            results=[result_public(r) for r in reply.results],
            next_cursor=next_cursor,
        )

    async def all_results(self, run_id: UUID) -> tuple[RunSummary | None, list[CaseResult]]:
        first = await self.get(run_id, None, 1000)
        results = list(first.results)
        after = first.next_after
        while after is not None:
            page = await self.get(run_id, after, 1000)
            results.extend(page.results)
            after = page.next_after
        return first.summary, results

    async def progress(self, view: Any) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Server-sent events of one run: a `snapshot`, `progress` as results land (live notices,
        checked against the query every 2 s since notices are at most once), then one `completed`
        or `cancelled` with the final summary."""
        notices: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)

        async def on_notice(msg: Any) -> None:
            if not notices.full():
                notices.put_nowait(msg.data)

        # Subscribed before the first read, so nothing between the two is missed.
        sub = await self._nc.subscribe(
            progress_subject(self._settings.nats_subject_root, view.id), cb=on_notice
        )
        try:
            summary = await self._summary(view)
            yield "snapshot", summary.model_dump(mode="json")
            last = (summary.status, summary.executed)
            while summary.status not in FINISHED:
                try:
                    data = await asyncio.wait_for(notices.get(), timeout=2.0)
                except TimeoutError:
                    summary = await self._summary(view)
                    if (summary.status, summary.executed) != last:
                        last = (summary.status, summary.executed)
                        yield (
                            "progress",
                            {
                                "status": summary.status,
                                "reason": summary.reason,
                                "executed": summary.executed,
                                "executions": summary.executions,
                                "results": [],
                            },
                        )
                    continue
                notice = RunProgressV1.model_validate_json(data)
                yield "progress", notice.model_dump(mode="json", by_alias=True, exclude={"run_id"})
                if notice.status in FINISHED:
                    summary = await self._summary(view)
            yield summary.status, summary.model_dump(mode="json")
        finally:
            await sub.unsubscribe()

    async def _summary(self, view: Any) -> schemas.TestRunSummaryPublic:
        reply = await self.get(view.id, None, 0)
        if not reply.found or reply.summary is None:
            return _summary_from_view(view)
        return summary_public(reply.summary)


def parse_results_cursor(cursor: str | None) -> tuple[int, int] | None:
    if cursor is None:
        return None
    parts = cursor.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ApiError(422, "invalid_cursor", "cursor is not one this API returned")
    return int(parts[0]), int(parts[1])


def summary_public(summary: RunSummary) -> schemas.TestRunSummaryPublic:
    data = summary.model_dump()
    data["id"] = data.pop("run_id")
    return schemas.TestRunSummaryPublic.model_validate(data)


def _summary_from_view(view: Any) -> schemas.TestRunSummaryPublic:
    return schemas.TestRunSummaryPublic(
        id=view.id,
        agent_id=view.agent_id,
        compilation_id=view.compilation_id,
        status=view.status,
        reason=view.reason,
        total=view.total,
        repeat=view.repeat,
        executions=view.total * view.repeat,
        executed=view.total * view.repeat if view.status == "completed" else 0,
        passed=view.passed or 0,
        failed=view.failed or 0,
        errored=view.errored or 0,
        flaky=view.flaky or 0,
        pass_rate=view.pass_rate,
        model=view.model,
        temperature=view.temperature,
        cache=view.cache,
        created_at=view.created_at,
        started_at=None,
        finished_at=view.finished_at,
    )


def result_public(result: CaseResult) -> schemas.TestResultPublic:
    return schemas.TestResultPublic(
        test_case_id=result.test_case_id,
        case_index=result.case_index,
        repeat_index=result.repeat_index,
        description=result.description,
        pass_=result.pass_,
        error=result.error,
        score=result.score,
        reason=result.reason,
        output=result.output,
        latency_ms=result.latency_ms,
        cached=result.cached,
        tokens=schemas.TokensPublic(
            prompt=result.prompt_tokens, completion=result.completion_tokens
        ),
        assertions=[
            schemas.AssertionResultPublic.model_validate(a.model_dump(by_alias=True))
            for a in result.assertions
        ],
        named_scores=result.named_scores,
    )


JUNIT_OUTPUT_MAX = 4000
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _attr(text: str) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", text))


def _text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def junit_xml(
    agent_name: str, summary: RunSummary | None, view: Any, results: list[CaseResult]
) -> str:
    """JUnit XML for CI systems: one <testcase> per execution; a failed verdict is a <failure>,
    a case that could not be judged an <error>; a running run's missing executions are <skipped>."""
    failures = sum(1 for r in results if r.error is None and not r.pass_)
    errors = sum(1 for r in results if r.error is not None)
    executions = view.total * view.repeat
    skipped = max(0, executions - len(results))
    seconds = sum((r.latency_ms or 0.0) for r in results) / 1000
    name = f"{agent_name} — test run {view.id}"
    status = summary.status if summary is not None else view.status
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name={_attr("Agent Studio")} tests="{executions}" '
        f'failures="{failures}" errors="{errors}" skipped="{skipped}" time="{seconds:.3f}">',
        f'  <testsuite name={_attr(name)} tests="{executions}" failures="{failures}" '
        f'errors="{errors}" skipped="{skipped}" time="{seconds:.3f}" '
        f"timestamp={_attr(view.created_at.isoformat())}>",
        "    <properties>",
        f'      <property name="status" value={_attr(status)}/>',
        f'      <property name="compilation_id" value="{view.compilation_id}"/>',
        "    </properties>",
    ]
    for r in results:
        label = r.description or f"case {r.case_index + 1}"
        if view.repeat > 1:
            label += f" (repeat {r.repeat_index + 1})"
        open_tag = (
            f"    <testcase classname={_attr(f'agent.{view.agent_id}')} name={_attr(label)} "
            f'time="{(r.latency_ms or 0.0) / 1000:.3f}"'
        )
        if r.error is not None:
            lines.append(f"{open_tag}>")
            lines.append(f"      <error message={_attr(r.error[:1000])}/>")
            lines.append("    </testcase>")
        elif not r.pass_:
            output = (r.output or "")[:JUNIT_OUTPUT_MAX]
            lines.append(f"{open_tag}>")
            lines.append(
                f"      <failure message={_attr(r.reason[:1000])}>{_text(output)}</failure>"
            )
            lines.append("    </testcase>")
        else:
            lines.append(f"{open_tag}/>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)

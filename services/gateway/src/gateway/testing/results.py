"""A run's status and results, read from the test-runner through its query, and their public
shape (a run not yet received there is shown from the gateway's own view)."""

from __future__ import annotations

from uuid import UUID

from contracts.runs import CaseResult, GetTestRunV1, RunSummary, TestRunV1
from gateway.pagination import INT, decode_cursor, encode_cursor
from gateway.reads import QueryReads
from gateway.testing.repository import TestRunView
from gateway.testing.schemas import (
    AssertionResultPublic,
    TestResultPublic,
    TestRunPublic,
    TestRunSummaryPublic,
    TokensPublic,
)

FINISHED = ("completed", "cancelled", "failed")


class RunResults(QueryReads):
    """Reads a run from the test-runner (its query)."""

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

    async def public(self, view: TestRunView, cursor: str | None, limit: int) -> TestRunPublic:
        after = decode_cursor(cursor, INT, INT) if cursor is not None else None
        if view.status == "failed":  # its start was given up: the test-runner never had it whole
            return TestRunPublic(
                **summary_from_view(view).model_dump(), results=[], next_cursor=None
            )
        reply = await self.get(view.id, after, limit)
        if not reply.found or reply.summary is None:  # not received by the test-runner yet
            return TestRunPublic(
                **summary_from_view(view).model_dump(), results=[], next_cursor=None
            )
        next_cursor = None if reply.next_after is None else encode_cursor(*reply.next_after)
        return TestRunPublic(
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

    async def summary(self, view: TestRunView) -> TestRunSummaryPublic:
        if view.status == "failed":
            return summary_from_view(view)
        reply = await self.get(view.id, None, 0)
        if not reply.found or reply.summary is None:
            return summary_from_view(view)
        return summary_public(reply.summary)


def summary_public(summary: RunSummary) -> TestRunSummaryPublic:
    data = summary.model_dump()
    data["id"] = data.pop("run_id")
    return TestRunSummaryPublic.model_validate(data)


def summary_from_view(view: TestRunView) -> TestRunSummaryPublic:
    return TestRunSummaryPublic(
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


def result_public(result: CaseResult) -> TestResultPublic:
    return TestResultPublic(
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
        offline=result.offline,
        tokens=TokensPublic(prompt=result.prompt_tokens, completion=result.completion_tokens),
        assertions=[
            AssertionResultPublic.model_validate(a.model_dump(by_alias=True))
            for a in result.assertions
        ],
        named_scores=result.named_scores,
    )

"""Staging executions with fakes: the run's lookups, the pause write and the progress notices."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from contracts.envelope import Envelope
from contracts.registry import envelope_for
from contracts.runs import ExecuteCaseV1, RunCase, RunProgressV1, TestRunPausedV1
from runtime.ai import CircuitOpen, Completion, ProviderName
from runtime.ai.offline import OfflineProvider
from testrunner import domain
from testrunner.domain import CachedResponse, Execution, Run
from testrunner.executor import Executor, Lookups


class FakeLookups:
    def __init__(self, run: Run, cached: dict[str, CachedResponse] | None = None) -> None:
        self.run_row = run
        self.cached = cached or {}

    async def run(self, run_id: UUID) -> Run | None:
        return self.run_row if run_id == self.run_row.id else None

    async def cached_response(self, key: str) -> CachedResponse | None:
        return self.cached.get(key)


class Outage(OfflineProvider):
    """The offline stand-in behind a breaker that is open for the first `calls` calls."""

    def __init__(self, calls: int = 0) -> None:
        self.refused = calls
        self.answered = 0

    async def complete(self, messages: Any, **kw: Any) -> Completion:
        if self.refused:
            self.refused -= 1
            raise CircuitOpen("breaker open", retry_after=0.01)
        self.answered += 1
        return await super().complete(messages, **kw)


class Recorder:
    def __init__(self) -> None:
        self.paused: list[tuple[Envelope[Any], TestRunPausedV1]] = []
        self.notices: list[RunProgressV1] = []

    async def mark_paused(self, cause: Envelope[Any], paused: TestRunPausedV1) -> bool:
        self.paused.append((cause, paused))
        return True

    async def notify(self, notice: RunProgressV1) -> None:
        self.notices.append(notice)


def run(**changes: object) -> Run:
    fields: dict[str, object] = {
        "id": uuid4(),
        "agent_id": uuid4(),
        "compilation_id": uuid4(),
        "owner_id": None,
        "instructions": "You answer questions.",
        "variables": [],
        "model": None,
        "temperature": None,
        "repeat": 1,
        "cache": False,
        "total_cases": 1,
        "status": "running",
        "reason": None,
        "created_at": datetime.now(UTC),
        "started_at": None,
        "finished_at": None,
        **dict.fromkeys(
            ("executed", "executions_passed", "executions_failed", "executions_errored"), 0
        ),
        **dict.fromkeys(("passed", "failed", "errored", "flaky"), 0),
        **changes,
    }
    return Run.model_validate(fields)


def executor(lookups: FakeLookups, provider: Outage, recorder: Recorder) -> Executor:
    as_protocol: Lookups = lookups
    return Executor(
        provider=provider,
        grader_model=None,
        lookups=as_protocol,
        mark_paused=recorder.mark_paused,
        notify=recorder.notify,
        pause_limit=30,
        provider_attempts=3,
    )


class GraderOutage(Outage):
    """A provider answering the case at once, whose breaker is open for the grader's first
    `calls` calls (those that ask for the rubric's structured output)."""

    name: ProviderName = "openai"

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.grader_refused = calls

    async def complete(self, messages: Any, **kw: Any) -> Completion:
        if kw.get("json_schema") is None:
            return await super().complete(messages, **kw)
        if self.grader_refused:
            self.grader_refused -= 1
            raise CircuitOpen("breaker open", retry_after=0.01)
        answer = json.dumps({"reason": "meets it", "pass": True, "score": 1.0})
        return Completion(answer, "judge", "openai", 1, 1, 1.0, False)


NOT_CONTAINS = [{"type": "not-contains", "value": "zz-never"}]


async def stage(ex: Executor, r: Run, assertions: list[dict[str, Any]] = NOT_CONTAINS) -> Execution:
    case = RunCase.model_validate(
        {"index": 0, "test_case_id": uuid4(), "input": "hello", "assert": assertions}
    )
    cmd = ExecuteCaseV1(run_id=r.id, repeat_index=0, case=case)
    return await ex.stage(envelope_for(cmd, source="test", correlation_id=uuid4(), owner_id=None))


async def test_an_execution_of_a_cancelled_or_unknown_run_is_skipped_without_a_call() -> None:
    provider, cancelled = Outage(), run(status="cancelled")
    ex = executor(FakeLookups(cancelled), provider, Recorder())
    assert (await stage(ex, cancelled)).skipped
    assert (await stage(ex, run())).skipped  # not the run the lookups know
    assert provider.answered == 0


async def test_an_outage_shows_the_run_paused_once_then_the_answer_is_graded() -> None:
    provider, recorder, r = Outage(calls=3), Recorder(), run()
    execution = await stage(executor(FakeLookups(r), provider, recorder), r)
    assert (execution.pass_, execution.error, execution.skipped) == (True, None, False)
    ((cause, paused),) = recorder.paused
    assert (cause.data.run_id, paused.run_id) == (r.id, r.id)  # caused by the waiting execution
    assert paused.reason == "AI provider unavailable: breaker open"
    assert [(n.status, n.executions) for n in recorder.notices] == [("paused", 1)]


async def test_a_grader_meeting_an_open_breaker_pauses_the_run_then_grades() -> None:
    provider, recorder, r = GraderOutage(calls=3), Recorder(), run()
    rubric = [{"type": "llm-rubric", "value": "answers politely"}]
    execution = await stage(executor(FakeLookups(r), provider, recorder), r, rubric)
    assert (execution.pass_, execution.error, execution.skipped) == (True, None, False)
    assert provider.grader_refused == 0
    ((_, paused),) = recorder.paused
    assert paused.reason == "AI provider unavailable: breaker open"


async def test_a_run_cancelled_while_its_grader_waits_skips_the_execution() -> None:
    r = run()
    lookups = FakeLookups(r)
    provider = GraderOutage(calls=1_000_000)
    recorder = Recorder()

    async def cancel_on_pause(cause: Envelope[Any], paused: TestRunPausedV1) -> bool:
        lookups.run_row = run(id=r.id, status="cancelled")
        return await recorder.mark_paused(cause, paused)

    ex = executor(lookups, provider, recorder)
    ex._mark_paused = cancel_on_pause
    rubric = [{"type": "llm-rubric", "value": "answers politely"}]
    execution = await stage(ex, r, rubric)
    assert execution.skipped


async def test_a_cached_answer_is_used_instead_of_a_call() -> None:
    r = run(cache=True)
    provider = Outage()
    # Learn the key the executor will ask for from a first, uncached execution.
    first = await stage(executor(FakeLookups(r), provider, Recorder()), r)
    assert first.cache_entry is not None
    assert (first.offline, first.cache_entry[4]) == (True, True)  # the offline stand-in wrote it
    key = first.cache_entry[0]
    hit = CachedResponse(output="cached answer", prompt_tokens=3, completion_tokens=2)
    again = await stage(executor(FakeLookups(r, {key: hit}), provider, Recorder()), r)
    assert (again.cached, again.output, again.prompt_tokens) == (True, "cached answer", 3)
    assert again.offline is False  # a model's cached answer stays a model's
    offline_hit = CachedResponse(
        output="offline", prompt_tokens=1, completion_tokens=1, offline=True
    )
    labelled = await stage(executor(FakeLookups(r, {key: offline_hit}), provider, Recorder()), r)
    assert (labelled.cached, labelled.offline) == (True, True)
    assert provider.answered == 1
    assert domain.cacheable(again.case, cache=True, repeat=1)


async def test_an_erasure_finds_the_cache_keys_its_runs_executions_stored() -> None:
    r = run(cache=True, instructions="You answer for {{company}}.",
            variables=[{"name": "company", "description": "who"}])  # fmt: skip
    execution = await stage(executor(FakeLookups(r), Outage(), Recorder()), r)
    assert execution.cache_entry is None  # a required variable without a value: never sent
    assert domain.cache_keys_of(r, [execution.case]) == set()

    r = run(cache=True)
    execution = await stage(executor(FakeLookups(r), Outage(), Recorder()), r)
    assert execution.cache_entry is not None
    assert domain.cache_keys_of(r, [execution.case]) == {execution.cache_entry[0]}
    assert domain.cache_keys_of(run(cache=True, repeat=2), [execution.case]) == set()

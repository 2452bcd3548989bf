"""The test-runner's pure rules: a case's outcome over its repeats, the pass rate, the response
cache key, the messages sent for a case, the result recorded for an execution, and the records
(a run, a cached response) the handlers work with."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

# Re-exported: the repository asks `domain.case_outcome`; the one rule lives in contracts.
from contracts.comparison import case_outcome as case_outcome
from contracts.compiler import VariableDecl
from contracts.instructions import RenderError, render
from contracts.runs import OUTPUT_MAX, CaseOutcome, RunCase, RunStatus, RunSummary
from contracts.verdicts import CaseVerdict

PROVIDER_ERROR_PREFIX = "AI provider: "


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0  # flaky cases included: a case that does not reliably pass has not passed
    errored: int = 0
    flaky: int = 0

    @property
    def pass_rate(self) -> float | None:
        judged = self.passed + self.failed
        return self.passed / judged if judged else None


def count(outcomes: list[CaseOutcome]) -> Counts:
    return Counts(
        passed=outcomes.count("passed"),
        failed=outcomes.count("failed") + outcomes.count("flaky"),
        errored=outcomes.count("errored"),
        flaky=outcomes.count("flaky"),
    )


@dataclass(frozen=True)
class Chunk:
    """A run's next executions to emit, `(repeat, case)` in fan-out order, and whether more follow."""

    executions: list[tuple[int, RunCase]]
    more: bool


def executions_between(total_cases: int, start: int, end: int) -> list[tuple[int, int]]:
    """The `(repeat, case index)` of a run's executions `start` up to `end`, in fan-out order:
    every case's first execution before any second, so early results cover the whole suite."""
    return [divmod(i, total_cases) for i in range(start, end)]


def messages(system: str, case: RunCase) -> list[dict[str, Any]]:
    """The system message is the rendered instructions; the user message is the case's input."""
    return [{"role": "system", "content": system}, {"role": "user", "content": case.input}]


def cache_key(model: str | None, temperature: float | None, msgs: list[dict[str, Any]]) -> str:
    """Same model, parameters and messages (instructions and input) → same key."""
    material = json.dumps(
        {"model": model, "temperature": temperature, "messages": msgs},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def cache_keys_of(run: Run, cases: list[RunCase]) -> set[str]:
    """The response-cache keys the run's executions may have stored (those `cacheable`): what an
    erasure removes with the run, since a cached answer repeats the user's instructions' output."""
    keys: set[str] = set()
    for case in cases:
        if not cacheable(case, cache=run.cache, repeat=run.repeat):
            continue
        try:
            system = render(run.instructions, run.variables, case.vars)
        except RenderError:
            continue  # never sent to the model, so never cached
        keys.add(cache_key(run.model, run.temperature, messages(system, case)))
    return keys


def cacheable(case: RunCase, *, cache: bool, repeat: int) -> bool:
    """Never for repeats (they measure variation) nor latency assertions (a hit has no latency)."""
    return cache and repeat == 1 and not any(a.type.endswith("latency") for a in case.assertions)


@dataclass
class Execution:
    """What one execution produced, ready to be recorded (or `skipped`: its run is cancelled)."""

    run_id: UUID
    case: RunCase
    repeat_index: int
    pass_: bool = False
    error: str | None = None
    score: float = 0.0
    reason: str = ""
    output: str | None = None
    latency_ms: float | None = None
    cached: bool = False
    offline: bool = False  # the offline stand-in wrote the output, not a model
    prompt_tokens: int = 0
    completion_tokens: int = 0
    assertions: list[dict[str, Any]] = field(default_factory=list)
    named_scores: dict[str, float] = field(default_factory=dict)
    # key, output, tokens, offline: stored if new
    cache_entry: tuple[str, str, int, int, bool] | None = None
    skipped: bool = False

    def judged(self, verdict: CaseVerdict) -> Execution:
        self.pass_ = verdict.pass_
        self.error = verdict.error
        self.score = verdict.score
        self.reason = verdict.reason
        self.assertions = [a.model_dump(mode="json", by_alias=True) for a in verdict.assertions]
        self.named_scores = dict(verdict.named_scores)
        return self

    def failed_to_run(self, error: str) -> Execution:
        self.pass_, self.error, self.score, self.reason = False, error, 0.0, error
        return self

    def row(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "case_index": self.case.index,
            "repeat_index": self.repeat_index,
            "test_case_id": self.case.test_case_id,
            "description": self.case.description,
            "pass": self.pass_,
            "error": self.error,
            "score": self.score,
            "reason": self.reason,
            "output": None if self.output is None else self.output[:OUTPUT_MAX],
            "latency_ms": self.latency_ms,
            "cached": self.cached,
            "offline": self.offline,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "assertions": self.assertions,
            "named_scores": self.named_scores,
        }


class Run(BaseModel):
    """A run as stored: its snapshot's settings, status, live counts and, once finished, verdicts."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    agent_id: UUID
    compilation_id: UUID
    owner_id: UUID | None
    instructions: str
    variables: tuple[VariableDecl, ...]
    model: str | None
    temperature: float | None
    repeat: int
    cache: bool
    total_cases: int
    status: RunStatus
    reason: str | None
    executed: int
    executions_passed: int
    executions_failed: int
    executions_errored: int
    passed: int
    failed: int
    errored: int
    flaky: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def executions(self) -> int:
        return self.total_cases * self.repeat

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "cancelled")

    def stored_counts(self) -> Counts:
        """The cases' verdicts, kept when the run finished."""
        return Counts(self.passed, self.failed, self.errored, self.flaky)

    def execution_counts(self) -> Counts:
        """The cases' live counts of a run without repeats (each case is one execution)."""
        return Counts(self.executions_passed, self.executions_failed, self.executions_errored, 0)

    def summary(self, counts: Counts) -> RunSummary:
        return RunSummary(
            run_id=self.id,
            agent_id=self.agent_id,
            compilation_id=self.compilation_id,
            status=self.status,
            reason=self.reason,
            total=self.total_cases,
            repeat=self.repeat,
            executions=self.executions,
            executed=self.executed,
            passed=counts.passed,
            failed=counts.failed,
            errored=counts.errored,
            flaky=counts.flaky,
            pass_rate=counts.pass_rate,
            model=self.model,
            temperature=self.temperature,
            cache=self.cache,
            created_at=self.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


@dataclass(frozen=True)
class CachedResponse:
    """A model's earlier answer to the same model, parameters and messages (`cache_key`)."""

    output: str
    prompt_tokens: int
    completion_tokens: int
    offline: bool = False  # written by the offline stand-in, so a hit is labelled as it was

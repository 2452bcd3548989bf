"""The test-runner's pure rules: a case's outcome over its repeats, the pass rate, the response
cache key, the messages sent for a case, and the result recorded for an execution."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from contracts.runs import OUTPUT_MAX, CaseOutcome, RunCase
from contracts.verdicts import CaseVerdict

PROVIDER_ERROR_PREFIX = "AI provider: "


def case_outcome(any_pass: bool, any_fail: bool) -> CaseOutcome:
    """Over a case's executions (errors left out): passed and failed both seen → flaky."""
    if any_pass and any_fail:
        return "flaky"
    if any_pass:
        return "passed"
    if any_fail:
        return "failed"
    return "errored"


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
    prompt_tokens: int = 0
    completion_tokens: int = 0
    assertions: list[dict[str, Any]] = field(default_factory=list)
    named_scores: dict[str, float] = field(default_factory=dict)
    cache_entry: tuple[str, str, int, int] | None = None  # key, output, tokens: stored if new
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
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "assertions": self.assertions,
            "named_scores": self.named_scores,
        }

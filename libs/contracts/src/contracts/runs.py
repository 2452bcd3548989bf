"""Messages of a test run (see docs/decisions/0006): the gateway snapshots the cases and the
compilation into the test-runner, which fans the run out as one `ExecuteCaseV1` per case x repeat,
answers `GetTestRunV1` queries, and announces the run's start, completion or cancellation.

Live progress goes out as `RunProgressV1` notices on core NATS (`progress_subject`): at most once,
for display only; the state they show is always readable through the query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from contracts.compiler import VariableDecl
from contracts.verdicts import AssertionVerdict

CASES_PER_CHUNK = 200
RUN_CASES_MAX = 10_000
REPEAT_MAX = 20
OUTPUT_MAX = 100_000  # characters of a model's answer kept in a result

RunStatus = Literal["queued", "running", "paused", "completed", "cancelled"]
CaseOutcome = Literal["passed", "failed", "flaky", "errored"]


class RunAssertion(BaseModel):
    """An assertion inside a run's messages: the API's `Assertion`, read tolerantly. A `value`
    that was never given stays absent on the wire: promptfoo tells it apart from `null`."""

    model_config = ConfigDict(frozen=True)

    type: str
    value: Any = None
    threshold: float | None = None
    weight: float = 1
    metric: str | None = None

    @model_serializer(mode="wrap")
    def _omit_missing_value(
        self, handler: SerializerFunctionWrapHandler, _info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if "value" not in self.model_fields_set:
            data.pop("value", None)
        return data


class RunCase(BaseModel):
    """A test case as snapshotted into a run; `index` is its position in the run."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    index: int = Field(ge=0)
    test_case_id: UUID
    description: str | None = None
    input: str
    vars: dict[str, JsonValue] = Field(default_factory=dict)
    assertions: list[RunAssertion] = Field(default_factory=list, alias="assert")
    threshold: float | None = None


class AddRunCasesV1(BaseModel):
    """Command: store these cases of a run's snapshot (a run's cases come in chunks)."""

    model_config = ConfigDict(frozen=True)

    run_id: UUID
    cases: Annotated[list[RunCase], Field(min_length=1, max_length=CASES_PER_CHUNK)]


class StartTestRunV1(BaseModel):
    """Command: run `total_cases` cases (sent as `AddRunCasesV1`) against these instructions."""

    model_config = ConfigDict(frozen=True)

    run_id: UUID
    agent_id: UUID
    compilation_id: UUID
    instructions: str
    variables: list[VariableDecl] = Field(default_factory=list)
    model: str | None = Field(default=None, description="None: the provider's default model.")
    temperature: float | None = Field(default=None, ge=0, le=2)
    repeat: int = Field(default=1, ge=1, le=REPEAT_MAX)
    cache: bool = False
    total_cases: int = Field(ge=1, le=RUN_CASES_MAX)


class ExecuteCaseV1(BaseModel):
    """Command (the test-runner's own): execute one case once; any replica may take it."""

    model_config = ConfigDict(frozen=True)

    run_id: UUID
    repeat_index: int = Field(ge=0)
    case: RunCase


class FanOutRunV1(BaseModel):
    """Command (the test-runner's own): emit the run's next chunk of `ExecuteCaseV1`, the
    executions from `offset` on; the chunk's transaction sends the next one of these."""

    model_config = ConfigDict(frozen=True)

    run_id: UUID
    offset: int = Field(ge=1, description="Executions already emitted (case x repeat order).")


class CancelTestRunV1(BaseModel):
    """Command: stop a run; executions not yet recorded are dropped."""

    model_config = ConfigDict(frozen=True)

    run_id: UUID
    reason: str = Field(default="", max_length=500)


class RunSummary(BaseModel):
    """A run's status and counts. Cases are counted once whatever `repeat` is: `flaky` cases both
    passed and failed (and are counted in `failed`); `pass_rate = passed / (passed + failed)`,
    errors beside it, None before any case has a verdict."""

    model_config = ConfigDict(frozen=True)

    run_id: UUID
    agent_id: UUID
    compilation_id: UUID
    status: RunStatus
    reason: str | None = Field(default=None, description="Why the run is paused or cancelled.")
    total: int = Field(description="Cases in the run.")
    repeat: int
    executions: int = Field(description="total x repeat")
    executed: int = Field(description="Executions recorded so far.")
    passed: int
    failed: int
    errored: int
    flaky: int
    pass_rate: float | None
    model: str | None = None
    temperature: float | None = None
    cache: bool = False
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class TestRunStartedV1(BaseModel):
    """Event: a run's snapshot is complete and its executions are queued."""

    __test__ = False
    model_config = ConfigDict(frozen=True)

    run_id: UUID
    agent_id: UUID
    executions: int


class TestRunPausedV1(BaseModel):
    """Event: a run waits for the AI provider (its circuit breaker is open); nothing is lost and it
    resumes by itself. `at` orders it against `TestRunResumedV1`, which may be handled first."""

    __test__ = False
    model_config = ConfigDict(frozen=True)

    run_id: UUID
    reason: str
    at: datetime


class TestRunResumedV1(BaseModel):
    """Event: a paused run's executions reach the AI provider again."""

    __test__ = False
    model_config = ConfigDict(frozen=True)

    run_id: UUID
    at: datetime


class TestRunCompletedV1(BaseModel):
    """Event: the last execution of a run landed; exactly one per run. Lists the cases by outcome
    (what a publish gate compares between runs)."""

    __test__ = False
    model_config = ConfigDict(frozen=True)

    summary: RunSummary
    passed_cases: list[UUID] = Field(default_factory=list)
    failed_cases: list[UUID] = Field(default_factory=list, description="flaky ones included")
    errored_cases: list[UUID] = Field(default_factory=list)


class TestRunCancelledV1(BaseModel):
    """Event: a run was cancelled before it completed."""

    __test__ = False
    model_config = ConfigDict(frozen=True)

    summary: RunSummary


class CaseResult(BaseModel):
    """One execution of one case, as recorded."""

    model_config = ConfigDict(frozen=True, serialize_by_alias=True, populate_by_name=True)

    case_index: int
    repeat_index: int
    test_case_id: UUID
    description: str | None = None
    pass_: bool = Field(alias="pass")
    error: str | None = None
    score: float
    reason: str
    output: str | None = None
    latency_ms: float | None = None
    cached: bool = False
    offline: bool = Field(
        default=False, description="Written by the offline stand-in (no AI provider), not a model."
    )
    prompt_tokens: int = 0
    completion_tokens: int = 0
    assertions: list[AssertionVerdict] = Field(default_factory=list)
    named_scores: dict[str, float] = Field(default_factory=dict)


class GetTestRunV1(BaseModel):
    """Query: a run's summary and a page of its results, in case then repeat order."""

    model_config = ConfigDict(frozen=True)

    run_id: UUID
    results_after: tuple[int, int] | None = Field(
        default=None, description="(case_index, repeat_index) of the last result already read"
    )
    results_limit: int = Field(default=100, ge=0, le=1000)


class TestRunV1(BaseModel):
    """Reply: `found` False when the test-runner has not received the run (yet)."""

    __test__ = False
    model_config = ConfigDict(frozen=True)

    found: bool
    summary: RunSummary | None = None
    results: list[CaseResult] = Field(default_factory=list)
    next_after: tuple[int, int] | None = Field(
        default=None, description="Pass as `results_after` for the next page; None at the end."
    )


class ResultNotice(BaseModel):
    model_config = ConfigDict(frozen=True, serialize_by_alias=True, populate_by_name=True)

    case_index: int
    repeat_index: int
    test_case_id: UUID
    pass_: bool = Field(alias="pass")
    error: str | None = None
    score: float
    cached: bool = False


class RunProgressV1(BaseModel):
    """Notice (core NATS, at most once): results just recorded and the run's status after them."""

    model_config = ConfigDict(frozen=True)

    run_id: UUID
    status: RunStatus
    reason: str | None = None
    executed: int | None = Field(default=None, description="None when the notice is a pause")
    executions: int
    results: list[ResultNotice] = Field(default_factory=list)


def progress_subject(root: str, run_id: UUID | str) -> str:
    """Where a run's live progress notices go: outside every stream (never stored)."""
    return f"{root}.live.test_runner.run.{run_id}"

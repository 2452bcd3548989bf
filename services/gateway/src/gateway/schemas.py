"""HTTP request and response models of the public API (not the contracts: services map between them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from contracts.coach import BlockName
from contracts.publishing import CHANNEL_PATTERN
from contracts.runs import REPEAT_MAX
from contracts.spec import SpecBlocks, Variable
from contracts.testing import TestCaseSpec

AgentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
AgentDescription = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


MinPassRate = Annotated[float, Field(ge=0, le=1)]


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AgentName
    description: AgentDescription = ""
    min_pass_rate: MinPassRate = Field(
        default=1.0, description="A publish whose test run passes less than this is refused."
    )


class AgentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AgentName | None = None
    description: AgentDescription | None = None
    min_pass_rate: MinPassRate | None = None


class AgentPublic(BaseModel):
    id: UUID
    name: str
    description: str
    min_pass_rate: float
    created_at: datetime
    updated_at: datetime


class AgentsPublic(BaseModel):
    items: list[AgentPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class SpecUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    blocks: SpecBlocks


class WarningPublic(BaseModel):
    code: str = Field(description="Stable identifier of the lint rule.")
    block: str
    field: str | None
    message: str


class SpecPublic(BaseModel):
    agent_id: UUID
    blocks: SpecBlocks
    revision: int = Field(description="Also sent as the ETag; send it back in If-Match to save.")
    updated_at: datetime
    completeness: int = Field(
        ge=0, le=100, description="How much of the spec is filled in, 0 to 100."
    )
    warnings: list[WarningPublic]


class SpecRevisionPublic(BaseModel):
    revision: int
    completeness: int
    author_id: UUID
    created_at: datetime


class SpecRevisionsPublic(BaseModel):
    items: list[SpecRevisionPublic]
    next_before: int | None = Field(
        description="Pass as `before` for the next page; null on the last."
    )


class SpecRevisionDetail(SpecRevisionPublic):
    blocks: SpecBlocks


class CoachRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    block: BlockName = Field(description="The block to draft.")
    guidance: str = Field(default="", max_length=2000, description="What the author wants.")


class BlockDraftPublic(BaseModel):
    status: Literal["drafted"] = "drafted"
    block: BlockName
    draft: JsonValue = Field(description="The proposed block; saving it is up to the person.")
    provider: str
    offline: bool = Field(description="True when written by the offline stand-in, not a model.")
    message: str


CompilationStatus = Literal["pending", "succeeded", "failed"]


class CompilationAccepted(BaseModel):
    id: UUID
    status: CompilationStatus


class SectionPublic(BaseModel):
    title: str
    body: str


class CompilationPublic(BaseModel):
    id: UUID
    agent_id: UUID
    status: CompilationStatus
    spec_revision: int
    instructions: str | None
    sections: list[SectionPublic]
    spec_hash: str | None
    compiler_version: str | None
    variables: list[Variable]
    token_count: int | None = Field(description="Tokens in the instructions.")
    token_count_method: str | None = Field(
        description="The tokenizer's encoding (e.g. o200k_base) when exact, else `estimate: …`."
    )
    reused_from: UUID | None = Field(
        description="Set when an identical spec had been compiled: its compilation's id."
    )
    error: str | None
    created_at: datetime
    completed_at: datetime | None


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorPublic(BaseModel):
    error: ErrorDetail


class TestCasePublic(TestCaseSpec):
    id: UUID
    created_at: datetime
    updated_at: datetime


class TestCasesPublic(BaseModel):
    __test__ = False

    items: list[TestCasePublic]
    next_cursor: str | None


class DroppedAssertion(BaseModel):
    type: str
    reason: str


class ImportedCase(BaseModel):
    index: int = Field(description="The test's position in the imported list, from 0.")
    status: Literal["imported", "skipped"]
    id: UUID | None = None
    description: str | None = None
    dropped: list[DroppedAssertion] = Field(
        default_factory=list,
        description="Assertions left out because Agent Studio does not run them.",
    )
    problem: str | None = Field(default=None, description="Why the test was skipped.")


class ImportReport(BaseModel):
    imported: int
    skipped: int
    cases: list[ImportedCase]


class TestRunCreate(BaseModel):
    """Run the agent's test cases (as they are now) against one of its compilations."""

    __test__ = False
    model_config = ConfigDict(extra="forbid")

    compilation_id: UUID
    repeat: int = Field(
        default=1, ge=1, le=REPEAT_MAX, description="Times each case runs (flakiness)."
    )
    model: str | None = Field(
        default=None, min_length=1, max_length=200, description="None: the configured model."
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    cache: bool = Field(
        default=False,
        description="Reuse identical earlier answers (never for repeats or latency assertions).",
    )


TestRunStatus = Literal["queued", "running", "paused", "completed", "cancelled"]


class TestRunAccepted(BaseModel):
    __test__ = False

    id: UUID
    status: TestRunStatus | Literal["cancelling"]


class TestRunSummaryPublic(BaseModel):
    """A run's status and counts. Cases count once whatever `repeat` is; `flaky` cases both passed
    and failed and are counted in `failed`; `pass_rate = passed / (passed + failed)`, errors
    (the provider failed, an assertion could not run) reported beside it."""

    __test__ = False

    id: UUID
    agent_id: UUID
    compilation_id: UUID
    status: TestRunStatus
    reason: str | None = Field(description="Why the run is paused or cancelled.")
    total: int = Field(description="Cases in the run.")
    repeat: int
    executions: int = Field(description="total x repeat")
    executed: int = Field(description="Executions recorded so far.")
    passed: int
    failed: int
    errored: int
    flaky: int
    pass_rate: float | None
    model: str | None
    temperature: float | None
    cache: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TokensPublic(BaseModel):
    prompt: int
    completion: int


class AssertionResultPublic(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    type: str
    pass_: bool = Field(alias="pass")
    score: float
    reason: str
    error: str | None = None
    metric: str | None = None


class TestResultPublic(BaseModel):
    """One execution of one case."""

    __test__ = False
    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    test_case_id: UUID
    case_index: int
    repeat_index: int
    description: str | None
    pass_: bool = Field(alias="pass")
    error: str | None = Field(description="Set when the case could not be judged.")
    score: float
    reason: str
    output: str | None
    latency_ms: float | None
    cached: bool
    tokens: TokensPublic
    assertions: list[AssertionResultPublic]
    named_scores: dict[str, float]


class TestRunPublic(TestRunSummaryPublic):
    results: list[TestResultPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page of results.")


class TestRunsPublic(BaseModel):
    __test__ = False

    items: list[TestRunSummaryPublic]
    next_cursor: str | None


class VersionCreate(BaseModel):
    """Publish the next version from a compilation, judged by one of its test runs."""

    model_config = ConfigDict(extra="forbid")

    compilation_id: UUID
    test_run_id: UUID | None = Field(
        default=None, description="A completed run of this compilation; the gate needs one."
    )
    notes: str = Field(default="", max_length=1000)
    channel: Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)] | None = Field(
        default=None, description="Point this channel at the new version."
    )
    force: bool = Field(default=False, description="Publish even if the gate refuses.")
    reason: str | None = Field(
        default=None, min_length=1, max_length=1000, description="Required with `force`."
    )


class PublishRequestPublic(BaseModel):
    """A publish or channel move asked of the publisher, and its outcome once known."""

    id: UUID
    kind: Literal["publish", "move"]
    status: Literal["pending", "done", "refused"]
    version: int | None
    channel: str | None
    reason: str | None = Field(description="Why it was refused.")
    regressions: list[UUID] = Field(
        description="Cases that passed in the run behind production and fail now."
    )
    created_at: datetime
    completed_at: datetime | None


class VersionSummaryPublic(BaseModel):
    number: int
    compilation_id: UUID
    test_run_id: UUID | None
    spec_revision: int
    notes: str
    forced: bool
    force_reason: str | None
    overridden: str | None = Field(description="The gate's refusal a forced publish overrode.")
    published_by: UUID
    published_at: datetime


class VersionsPublic(BaseModel):
    items: list[VersionSummaryPublic]
    next_cursor: str | None


class ModelSettingsPublic(BaseModel):
    model: str | None
    temperature: float | None


class VersionPublic(VersionSummaryPublic):
    spec: dict[str, JsonValue]
    instructions: str
    variables: list[Variable]
    settings: ModelSettingsPublic


class ChannelMoveCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    reason: str = Field(default="", max_length=1000)


class ChannelMovePublic(BaseModel):
    seq: int
    channel: str
    from_version: int | None
    to_version: int
    moved_by: UUID
    reason: str
    moved_at: datetime


class ChannelHistoryPublic(BaseModel):
    items: list[ChannelMovePublic]
    next_cursor: str | None


class PublishedPublic(BaseModel):
    """What serving a published agent needs; render `{{variables}}` into `instructions`."""

    agent_id: UUID
    version: int
    channel: str | None
    instructions: str
    variables: list[Variable]
    settings: ModelSettingsPublic
    published_at: datetime


class BlockChange(BaseModel):
    block: str
    change: Literal["added", "removed", "changed"]
    before: JsonValue = None
    after: JsonValue = None


class SettingsChange(BaseModel):
    before: ModelSettingsPublic
    after: ModelSettingsPublic


class VersionDiffPublic(BaseModel):
    from_version: int
    to_version: int
    instructions: str = Field(description="A unified diff; empty when they are identical.")
    spec: list[BlockChange] = Field(description="The blocks that differ, with both values.")
    settings: SettingsChange | None = Field(description="Set when the model settings differ.")


class ExportedAgent(BaseModel):
    name: AgentName
    description: AgentDescription = ""
    min_pass_rate: MinPassRate = 1.0


class ExportedMove(BaseModel):
    channel: Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)]
    from_version: int | None
    to_version: int
    moved_by: UUID
    reason: str
    moved_at: datetime


class AgentExport(BaseModel):
    """An agent whole: spec, test cases, every version and the history of every channel."""

    format: Literal["agent-studio.agent.v1"] = "agent-studio.agent.v1"
    agent: ExportedAgent
    spec: dict[str, JsonValue]
    test_cases: list[TestCaseSpec]
    versions: list[VersionPublic] = Field(description="Oldest first.")
    channel_history: list[ExportedMove] = Field(description="Oldest first.")

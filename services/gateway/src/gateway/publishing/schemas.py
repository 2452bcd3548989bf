"""HTTP models of publishing: publish and channel-move requests, versions and their diff, channel
history, the published read, and an agent's export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from contracts.publishing import CHANNEL_PATTERN
from contracts.spec import Variable
from contracts.testing import TestCaseSpec
from gateway.agents.schemas import AgentDescription, AgentName, AgentPublic, MinPassRate


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
    """A publish, channel move or import of versions asked of the publisher, and its outcome once
    known: `done`, `refused` by the gate, or `failed` when the publisher could never apply it."""

    id: UUID
    kind: Literal["publish", "move", "import"]
    status: Literal["pending", "done", "refused", "failed"]
    version: int | None
    channel: str | None
    reason: str | None = Field(description="Why it was refused or failed.")
    regressions: list[UUID] = Field(
        description="Cases that passed in the run behind production and fail now."
    )
    created_at: datetime
    completed_at: datetime | None


class ImportedVersionPublic(BaseModel):
    """Who imported a version and when (its author and time here), and what the export claimed:
    shown for reading, never trusted (the run it named belongs to another installation)."""

    imported_by: UUID
    imported_at: datetime
    claimed_published_by: UUID
    claimed_published_at: datetime
    claimed_test_run_id: UUID | None
    claimed_forced: bool
    claimed_force_reason: str | None


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
    imported: ImportedVersionPublic | None = Field(
        default=None,
        description="Set on a version that came by import: no channel serves it until moved to "
        "it here with `force` and a reason.",
    )


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
    force: bool = Field(
        default=False,
        description="Serve an imported version, which no test run here stands behind; needs "
        "`reason`, and is recorded.",
    )
    test_run_id: UUID | None = Field(
        default=None,
        description="Serve an imported version without force: a completed run here, of a "
        "compilation with the very same instructions, that passes the agent's gate.",
    )


class ImportedMovePublic(BaseModel):
    """Who imported a history entry and when, and what the export claimed."""

    imported_by: UUID
    imported_at: datetime
    claimed_moved_by: UUID
    claimed_moved_at: datetime


class ChannelMovePublic(BaseModel):
    seq: int
    channel: str
    from_version: int | None
    to_version: int
    moved_by: UUID
    reason: str
    moved_at: datetime
    forced: bool = Field(default=False, description="A forced move to an imported version.")
    test_run_id: UUID | None = Field(
        default=None, description="The run here that cleared a move to an imported version."
    )
    imported: ImportedMovePublic | None = Field(
        default=None, description="An imported entry: history only, it moved no channel here."
    )


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


class AgentImported(AgentPublic):
    """The new agent of an import. Its versions arrive through the publisher: follow
    `GET …/publishes/{versions_import.id}?wait=` (kind `import`) until it is `done` or `failed`."""

    versions_import: PublishRequestPublic | None = Field(
        description="The request that gives the agent its versions; none when it had none."
    )

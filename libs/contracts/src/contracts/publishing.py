"""Messages of publishing: the gateway asks the publisher for a version or a channel move; the
publisher answers with events, keeps the published read model (a NATS key-value bucket, keys in
`published_key`) and answers version reads as queries.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from contracts.compiler import VariableDecl

CHANNEL_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
DEFAULT_CHANNELS = ("production", "staging")
ChannelName = Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)]
Reason = Annotated[str, StringConstraints(max_length=1000)]


class ModelSettings(BaseModel):
    """How a published agent is called: None means the gateway's configured default."""

    model_config = ConfigDict(frozen=True)

    model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)


class PublishVersionV1(BaseModel):
    """Command: make the next version of an agent from this snapshot, if its test run allows."""

    model_config = ConfigDict(frozen=True)

    publish_id: UUID
    agent_id: UUID
    compilation_id: UUID
    test_run_id: UUID | None = None
    spec_revision: int
    spec: dict[str, JsonValue]
    instructions: str
    variables: list[VariableDecl] = Field(default_factory=list)
    settings: ModelSettings = Field(default_factory=ModelSettings)
    notes: Reason = ""
    channel: ChannelName | None = None
    force: bool = False
    reason: Reason | None = Field(
        default=None, description="Why a forced publish overrides the gate."
    )
    min_pass_rate: float = Field(ge=0, le=1)
    published_by: UUID
    owner_id: UUID = Field(description="The agent's owner: serving checks callers against it.")


class ImportedVersion(BaseModel):
    """How a version came by import: who imported it and when (the version's author and time),
    and what the export claimed of it, kept for reading and never trusted."""

    model_config = ConfigDict(frozen=True)

    imported_by: UUID
    imported_at: datetime
    claimed_published_by: UUID
    claimed_published_at: datetime
    claimed_test_run_id: UUID | None = None
    claimed_forced: bool = False
    claimed_force_reason: str | None = None


class VersionSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    agent_id: UUID
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
    imported: ImportedVersion | None = Field(
        default=None,
        description="Set on a version that came by import: it is served only once a channel is "
        "moved to it here with `force`.",
    )


class VersionPublishedV1(BaseModel):
    """Event: a version exists (and, if asked, a channel points at it)."""

    model_config = ConfigDict(frozen=True)

    publish_id: UUID
    version: VersionSummary
    channel: str | None = None
    import_id: UUID | None = Field(
        default=None, description="The import that brought this version, if one did."
    )


class PublishRefusedV1(BaseModel):
    """Event: the gate refused a publish; `reason` says why for a person, `regressions` lists the
    cases that passed in the run behind production and fail now."""

    model_config = ConfigDict(frozen=True)

    publish_id: UUID
    agent_id: UUID
    reason: str
    regressions: list[UUID] = Field(default_factory=list)


class MoveChannelV1(BaseModel):
    """Command: point a channel at a version (promote or roll back)."""

    model_config = ConfigDict(frozen=True)

    move_id: UUID
    agent_id: UUID
    channel: ChannelName
    version: int = Field(ge=1)
    moved_by: UUID
    reason: Reason = ""
    force: bool = Field(
        default=False,
        description="Move to an imported version, which no test run here stands behind; "
        "needs a reason.",
    )
    test_run_id: UUID | None = Field(
        default=None,
        description="A run here that clears an imported version: it passes the gate and tested "
        "the same instructions (`run_compilation_id`, `run_instructions`).",
    )
    run_compilation_id: UUID | None = None
    run_instructions: str | None = None
    min_pass_rate: float = Field(default=1.0, ge=0, le=1)


class ImportedChannelMove(BaseModel):
    """How a history entry came by import: who imported it and when, and what the export claimed."""

    model_config = ConfigDict(frozen=True)

    imported_by: UUID
    imported_at: datetime
    claimed_moved_by: UUID
    claimed_moved_at: datetime


class ChannelMove(BaseModel):
    """One entry of a channel's history, never edited."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(description="Orders every move of every channel.")
    agent_id: UUID
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
    imported: ImportedChannelMove | None = Field(
        default=None,
        description="Set on an imported entry: history only, it moved no channel here.",
    )


class ChannelMovedV1(BaseModel):
    """Event: a channel points at another version (a move, or a publish that named it)."""

    model_config = ConfigDict(frozen=True)

    move_id: UUID | None = Field(description="None when the move came with a publish.")
    move: ChannelMove


class ChannelMoveRefusedV1(BaseModel):
    """Event: a channel move was refused; `reason` says why (e.g. no such version)."""

    model_config = ConfigDict(frozen=True)

    move_id: UUID
    agent_id: UUID
    channel: str
    reason: str


class VersionDetail(VersionSummary):
    spec: dict[str, JsonValue]
    instructions: str
    variables: list[VariableDecl]
    settings: ModelSettings


class ImportedMove(BaseModel):
    """A channel move as exported: everything but its place in this installation's sequence."""

    model_config = ConfigDict(frozen=True)

    channel: ChannelName
    from_version: int | None
    to_version: int
    moved_by: UUID
    reason: str
    moved_at: datetime


class ImportAgentVersionsV1(BaseModel):
    """Command: give a newly imported agent its exported versions and channel history, as they
    were (numbers, authors, times, overrides)."""

    model_config = ConfigDict(frozen=True)

    agent_id: UUID
    owner_id: UUID
    versions: list[VersionDetail]
    moves: list[ImportedMove] = Field(description="Oldest first.")
    import_id: UUID | None = Field(
        default=None, description="The gateway's request id, named again in the events it causes."
    )


class AgentDeletedV1(BaseModel):
    """Event (the gateway's): an agent and everything of it is gone; its published versions must
    stop being served."""

    model_config = ConfigDict(frozen=True)

    agent_id: UUID


class ListVersionsV1(BaseModel):
    """Query: an agent's versions, newest first (below `before`, if given)."""

    model_config = ConfigDict(frozen=True)

    agent_id: UUID
    before: int | None = None
    limit: int = Field(default=20, ge=1, le=100)


class VersionsV1(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[VersionSummary]
    next_before: int | None


class GetVersionV1(BaseModel):
    """Query: one version, whole."""

    model_config = ConfigDict(frozen=True)

    agent_id: UUID
    number: int


class VersionV1(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: VersionDetail | None


class GetChannelHistoryV1(BaseModel):
    """Query: a channel's moves (every channel's, with no `channel`), newest first."""

    model_config = ConfigDict(frozen=True)

    agent_id: UUID
    channel: str | None = None
    before: int | None = None
    limit: int = Field(default=50, ge=1, le=200)


class ChannelHistoryV1(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[ChannelMove]
    next_before: int | None


class PublishedVersion(BaseModel):
    """The read model's value for a version: what serving needs, nothing more."""

    model_config = ConfigDict(frozen=True)

    agent_id: UUID
    owner_id: UUID
    number: int
    instructions: str
    variables: list[VariableDecl]
    settings: ModelSettings
    published_at: datetime


class PublishedChannel(BaseModel):
    """The read model's value for a channel; `seq` orders moves, so a late write never wins."""

    model_config = ConfigDict(frozen=True)

    version: int
    seq: int


def published_bucket(root: str) -> str:
    return f"{root.upper()}_PUBLISHED"


def version_key(agent_id: UUID | str, number: int) -> str:
    return f"{agent_id}.v{number}"


def channel_key(agent_id: UUID | str, channel: str) -> str:
    return f"{agent_id}.channel.{channel}"


KEY_PATTERN = re.compile(
    r"^(?P<agent>[0-9a-f-]{36})\.(?:v(?P<number>\d+)|channel\.(?P<channel>[a-z][a-z0-9_-]*))$"
)

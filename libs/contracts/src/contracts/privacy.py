"""Messages of a user's erasure (`DELETE /api/v1/me`): a saga the gateway starts.

The gateway erases its own rows and sends each worker one command per part (a part names at most
`AGENTS_PER_PART` agents, so no message grows with the number of agents); each worker erases the
user's data in its own schema, idempotently, and answers with its `…Erased` event. The erasure is
complete when the gateway has recorded every part of every service.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

AGENTS_PER_PART = 1000
QUEUED_RUNS_PER_PART = 10_000


class UserErasure(BaseModel):
    """What every erasure command carries: whose data, and which agents were theirs."""

    model_config = ConfigDict(frozen=True)

    erasure_id: UUID
    user_id: UUID
    agent_ids: list[UUID] = Field(max_length=AGENTS_PER_PART)
    part: int = Field(ge=0, description="This command's part, 0 ≤ part < parts.")
    parts: int = Field(ge=1, description="How many parts this service receives in all.")


class UserDataErased(BaseModel):
    """What every `…Erased` event carries: which part of which erasure is done."""

    model_config = ConfigDict(frozen=True)

    erasure_id: UUID
    part: int = Field(ge=0)
    parts: int = Field(ge=1)
    erased: dict[str, int] = Field(
        default_factory=dict, description="Rows deleted per table (zero on a repeat)."
    )


class EraseCompilationsV1(UserErasure):
    """Command: delete the compilations of these agents (the user's)."""


class CompilationsErasedV1(UserDataErased):
    """Event: the compiler holds nothing more of this part's agents."""


class EraseTestRunsV1(UserErasure):
    """Command: delete the user's test runs, their snapshots and results, and the cached model
    answers those runs stored."""

    queued_run_ids: list[UUID] = Field(
        default_factory=list,
        max_length=QUEUED_RUNS_PER_PART,
        description="Runs of this part's agents still queued: their cases may be stored before "
        "the run itself is.",
    )


class TestRunsErasedV1(UserDataErased):
    """Event: the test-runner holds nothing more of this part's agents or of the user's runs."""

    __test__ = False


class EraseVersionsV1(UserErasure):
    """Command: delete the versions, channels, channel history and run outcomes of these agents,
    and take them out of the published read model so they stop being served."""


class VersionsErasedV1(UserDataErased):
    """Event: the publisher holds and serves nothing more of this part's agents."""

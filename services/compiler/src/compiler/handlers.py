"""Handlers of the compiler's messages: a message in, explicit dependencies, messages out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel

from compiler import coach, domain
from contracts.coach import BlockDraftedV1, CoachBlockV1
from contracts.compiler import (
    CompilationsV1,
    CompileAgentV1,
    ListCompilationsV1,
    StoredCompilation,
)
from contracts.privacy import CompilationsErasedV1, EraseCompilationsV1
from runtime.ai import AIProvider, ProviderInvalidOutput, ProviderRejected, ProviderUnavailable


class CompileStore(Protocol):
    """What compiling reads and writes (on the compile command's direct group commit)."""

    async def add(self, outcome: domain.Outcome) -> bool:
        """Store `outcome`; False when a compilation with its id was already stored."""

    async def find_reusable(self, spec_hash: str, compiler_version: str) -> domain.Outcome | None:
        """The latest succeeded compilation of an identical spec by the same compiler version."""


class Compilations(Protocol):
    """What the other compiler messages read and write."""

    async def page(self, agent_id: UUID, after: UUID | None, limit: int) -> list[StoredCompilation]:
        """An agent's compilations in id order, after `after`."""

    async def erase(self, user_id: UUID, agent_ids: list[UUID]) -> dict[str, int]:
        """Record the user erased, delete these agents' compilations; rows deleted per table."""


async def handle_erase_compilations(
    cmd: EraseCompilationsV1, *, compilations: Compilations
) -> list[BaseModel]:
    """Consumes `EraseCompilationsV1`; emits `CompilationsErasedV1` for its part.

    Idempotent: deleting what is already gone deletes nothing, and the event is sent again.
    """
    erased = await compilations.erase(cmd.user_id, cmd.agent_ids)
    return [
        CompilationsErasedV1(
            erasure_id=cmd.erasure_id, part=cmd.part, parts=cmd.parts, erased=erased
        )
    ]


async def handle_compile_agent(
    cmd: CompileAgentV1,
    *,
    compilations: CompileStore,
    count_tokens: Callable[[str], domain.TokenCount],
) -> list[BaseModel]:
    """Consumes `CompileAgentV1`; emits `AgentCompiledV1` or `CompilationFailedV1`.

    An identical spec already compiled by this compiler version is reused, not compiled again.
    Idempotency key: `compilation_id` (besides the inbox): a compilation already stored is a no-op.
    """
    reusable = await compilations.find_reusable(*reuse_key(cmd))
    if reusable is not None:
        outcome = reusable.reused_for(cmd)
    else:
        outcome = domain.compile_command(cmd, count_tokens)
    if not await compilations.add(outcome):
        return []
    return [outcome.event()]


def reuse_key(cmd: CompileAgentV1) -> tuple[str, str]:
    """What a compilation reusable for `cmd` shares with it: the spec's hash, the compiler's
    version (`CompileStore.find_reusable`'s arguments)."""
    return domain.spec_hash(cmd.blocks), domain.COMPILER_VERSION


async def handle_coach_block(query: CoachBlockV1, *, provider: AIProvider) -> BlockDraftedV1:
    """Answers `CoachBlockV1` with `BlockDraftedV1`: a draft, or why there is none.

    With the provider's breaker open the adapter fails at once, so the answer is prompt; a slow or
    failing provider is the adapter's to retry, then reported as unavailable. No state changes: asking twice just drafts twice.
    """
    unavailable = "coach unavailable, edit manually"
    if provider.name == "offline":
        # No model configured: a deterministic draft from the spec's own content, labelled as such.
        return BlockDraftedV1(
            status="drafted",
            block=query.block,
            draft=coach.template_draft(query.block, dict(query.blocks), query.guidance),
            provider="offline",
            offline=True,
            message="offline draft: written from the spec without an AI model",
        )
    try:
        completion = await provider.complete(
            coach.messages(query.block, dict(query.blocks), query.guidance),
            json_schema=coach.draft_schema(query.block),
        )
        draft = coach.checked_draft(query.block, completion.json())
    except ProviderUnavailable as exc:
        return BlockDraftedV1(
            status="unavailable",
            block=query.block,
            message=f"{unavailable}: {exc}",
            retry_after=exc.retry_after,
        )
    except (
        ProviderRejected,
        ProviderInvalidOutput,
        coach.DraftRejected,
        json.JSONDecodeError,
    ) as exc:
        return BlockDraftedV1(status="failed", block=query.block, message=f"{unavailable}: {exc}")
    return BlockDraftedV1(
        status="drafted",
        block=query.block,
        draft=draft,
        provider=completion.provider,
        offline=completion.offline,
        message="offline draft: written without an AI model" if completion.offline else "",
    )


REPLY_BUDGET_BYTES = 800_000  # a query reply stays under NATS's default 1 MB max payload


async def answer_list_compilations(
    query: ListCompilationsV1, *, compilations: Compilations
) -> CompilationsV1:
    """Answers `ListCompilationsV1`: a page of the agent's compilations, cut short of the size
    NATS carries (always at least one)."""
    found = await compilations.page(query.agent_id, query.after, query.limit + 1)
    items: list[StoredCompilation] = []
    budget = REPLY_BUDGET_BYTES
    for compilation in found[: query.limit]:
        budget -= len(compilation.model_dump_json())
        if budget < 0 and items:
            break
        items.append(compilation)
    more = len(items) < len(found)
    return CompilationsV1(items=items, next_after=items[-1].compilation_id if more else None)

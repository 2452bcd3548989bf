"""Publishing: versions and channel moves are asked of the publisher through the outbox; version
reads are its queries; serving reads come from the published read model (`published.py`)."""

from __future__ import annotations

import asyncio
import difflib
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.compiler import VariableDecl
from contracts.publishing import (
    ChannelHistoryV1,
    GetChannelHistoryV1,
    GetVersionV1,
    ImportAgentVersionsV1,
    ImportedMove,
    ListVersionsV1,
    ModelSettings,
    MoveChannelV1,
    PublishVersionV1,
    VersionDetail,
    VersionSummary,
    VersionsV1,
    VersionV1,
)
from contracts.registry import envelope_for
from contracts.spec import SpecBlocks, Variable
from gateway import schemas, specs, testcases
from gateway.errors import ApiError, not_found
from gateway.published import PublishedCache
from gateway.reads import QueryReads
from gateway.repository import (
    AgentRepository,
    CompilationRepository,
    PublishRepository,
    SpecRepository,
    TestCaseRepository,
    TestRunRepository,
)
from gateway.services import OUTBOX
from gateway.settings import SERVICE
from runtime import outbox


async def _owned_agent(session: AsyncSession, user_id: UUID, agent_id: UUID) -> Any:
    agent = await AgentRepository(session).get(user_id, agent_id)
    if agent is None:
        raise not_found("agent", agent_id)
    return agent


async def _send(
    session: AsyncSession, command: BaseModel, user_id: UUID, correlation_id: UUID
) -> None:
    await outbox.add(
        session,
        OUTBOX,
        [envelope_for(command, source=SERVICE, correlation_id=correlation_id, owner_id=user_id)],
    )


async def request_publish(
    session: AsyncSession,
    user_id: UUID,
    agent_id: UUID,
    body: schemas.VersionCreate,
    correlation_id: UUID,
) -> schemas.PublishRequestPublic:
    """Check what the gateway knows, then ask the publisher (which applies the test gate)."""
    agent = await _owned_agent(session, user_id, agent_id)
    if body.force and not body.reason:
        raise ApiError(422, "reason_required", "reason: a forced publish needs a written reason")
    compilation = await CompilationRepository(session).get(user_id, agent_id, body.compilation_id)
    if compilation is None:
        raise not_found("compilation", body.compilation_id)
    if compilation.status != "succeeded":
        raise ApiError(
            409,
            "compilation_not_succeeded",
            f"compilation {body.compilation_id} is {compilation.status}; only a succeeded "
            "compilation can be published",
        )
    settings = ModelSettings()
    if body.test_run_id is not None:
        run = await TestRunRepository(session).get(user_id, agent_id, body.test_run_id)
        if run is None:
            raise not_found("test run", body.test_run_id)
        settings = ModelSettings(model=run.model, temperature=run.temperature)
    requests = PublishRepository(session)
    publish_id = uuid4()
    view = await requests.add(
        id=publish_id, agent_id=agent_id, kind="publish", channel=body.channel
    )
    command = PublishVersionV1(
        publish_id=publish_id,
        agent_id=agent_id,
        compilation_id=body.compilation_id,
        test_run_id=body.test_run_id,
        spec_revision=compilation.spec_revision,
        spec=await requests.spec_blocks(agent_id, compilation.spec_revision),
        instructions=compilation.instructions,
        variables=[VariableDecl.model_validate(v) for v in compilation.variables or []],
        settings=settings,
        notes=body.notes,
        channel=body.channel,
        force=body.force,
        reason=body.reason,
        min_pass_rate=agent.min_pass_rate,
        published_by=user_id,
        owner_id=user_id,
    )
    await _send(session, command, user_id, correlation_id)
    return request_public(view)


async def request_move(
    session: AsyncSession,
    user_id: UUID,
    agent_id: UUID,
    channel: str,
    body: schemas.ChannelMoveCreate,
    correlation_id: UUID,
) -> UUID:
    await _owned_agent(session, user_id, agent_id)
    move_id = uuid4()
    await PublishRepository(session).add(
        id=move_id, agent_id=agent_id, kind="move", channel=channel, version=body.version
    )
    command = MoveChannelV1(
        move_id=move_id,
        agent_id=agent_id,
        channel=channel,
        version=body.version,
        moved_by=user_id,
        reason=body.reason,
    )
    await _send(session, command, user_id, correlation_id)
    return move_id


async def wait_for_request(
    reader: async_sessionmaker[AsyncSession],
    cache: PublishedCache,
    user_id: UUID,
    agent_id: UUID,
    request_id: UUID,
    timeout: float,
) -> schemas.PublishRequestPublic:
    """The request once it is done and visible to serving reads here, or as it stands at
    `timeout`. A move counts as visible when the read model shows it (or a later one)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with reader() as session:
            view = await PublishRepository(session).get(user_id, agent_id, request_id)
        if view is None:
            raise not_found("publish request", request_id)
        if view.status == "refused" or (view.status == "done" and _visible(cache, view)):
            return request_public(view)
        if asyncio.get_running_loop().time() >= deadline:
            return request_public(view)
        await asyncio.sleep(0.02)


def _visible(cache: PublishedCache, view: Any) -> bool:
    """Whether serving reads here see the request's outcome: the new version (and the channel it
    named pointing at it, or at a later one), or the move."""
    pointer = cache.channel(view.agent_id, view.channel) if view.channel else None
    if view.kind == "publish":
        if view.version is None or cache.version(view.agent_id, view.version) is None:
            return False
        return view.channel is None or (pointer is not None and pointer.version >= view.version)
    return pointer is not None and pointer.seq >= (view.seq or 0)


def request_public(view: Any) -> schemas.PublishRequestPublic:
    return schemas.PublishRequestPublic(
        id=view.id,
        kind=view.kind,
        status=view.status,
        version=view.version,
        channel=view.channel,
        reason=view.reason,
        regressions=[UUID(c) for c in view.regressions or []],
        created_at=view.created_at,
        completed_at=view.completed_at,
    )


class Versions(QueryReads):
    """Version reads, answered by the publisher's queries."""

    unavailable_code = "publisher_unavailable"
    reading = "read versions"

    async def page(self, agent_id: UUID, before: int | None, limit: int) -> schemas.VersionsPublic:
        reply = await self._ask(ListVersionsV1(agent_id=agent_id, before=before, limit=limit))
        assert isinstance(reply, VersionsV1)
        return schemas.VersionsPublic(
            items=[_summary(v) for v in reply.items],
            next_cursor=None if reply.next_before is None else str(reply.next_before),
        )

    async def one(self, agent_id: UUID, number: int) -> schemas.VersionPublic:
        reply = await self._ask(GetVersionV1(agent_id=agent_id, number=number))
        assert isinstance(reply, VersionV1)
        if reply.version is None:
            raise not_found("version", number)
        v = reply.version
        return schemas.VersionPublic(
            **_summary(v).model_dump(),
            spec=v.spec,
            instructions=v.instructions,
            variables=[Variable.model_validate(x.model_dump()) for x in v.variables],
            settings=schemas.ModelSettingsPublic(**v.settings.model_dump()),
        )

    async def history(
        self, agent_id: UUID, channel: str | None, before: int | None, limit: int
    ) -> schemas.ChannelHistoryPublic:
        reply = await self._ask(
            GetChannelHistoryV1(agent_id=agent_id, channel=channel, before=before, limit=limit)
        )
        assert isinstance(reply, ChannelHistoryV1)
        return schemas.ChannelHistoryPublic(
            items=[
                schemas.ChannelMovePublic.model_validate(m.model_dump(exclude={"agent_id"}))
                for m in reply.items
            ],
            next_cursor=None if reply.next_before is None else str(reply.next_before),
        )


def _summary(v: VersionSummary) -> schemas.VersionSummaryPublic:
    return schemas.VersionSummaryPublic.model_validate(v.model_dump(exclude={"agent_id"}))


def parse_number_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise ApiError(422, "invalid_cursor", "cursor is not one this API returned")
    return int(cursor)


def diff_versions(a: schemas.VersionPublic, b: schemas.VersionPublic) -> schemas.VersionDiffPublic:
    """A unified diff of the instructions and, block by block, what changed in the spec."""
    instructions = "".join(
        difflib.unified_diff(
            a.instructions.splitlines(keepends=True),
            b.instructions.splitlines(keepends=True),
            fromfile=f"v{a.number}",
            tofile=f"v{b.number}",
        )
    )
    blocks = []
    for name in sorted(set(a.spec) | set(b.spec)):
        before, after = a.spec.get(name), b.spec.get(name)
        if before == after:
            continue
        change: Literal["added", "removed", "changed"] = (
            "added" if name not in a.spec else "removed" if name not in b.spec else "changed"
        )
        blocks.append(schemas.BlockChange(block=name, change=change, before=before, after=after))
    settings_changed = a.settings != b.settings
    return schemas.VersionDiffPublic(
        from_version=a.number,
        to_version=b.number,
        instructions=instructions,
        spec=blocks,
        settings=schemas.SettingsChange(before=a.settings, after=b.settings)
        if settings_changed
        else None,
    )


async def export_agent(
    session: AsyncSession, user_id: UUID, agent_id: UUID, versions: Versions
) -> schemas.AgentExport:
    """Everything needed to recreate the agent: spec, test cases, every version and every move."""
    agent = await _owned_agent(session, user_id, agent_id)
    spec = await SpecRepository(session).get(user_id, agent_id)
    cases = await TestCaseRepository(session).all_for_run(agent_id, limit=None)
    numbers: list[int] = []
    before: int | None = None
    while True:
        page = await versions.page(agent_id, before, 100)
        numbers.extend(v.number for v in page.items)
        if page.next_cursor is None:
            break
        before = int(page.next_cursor)
    moves: list[schemas.ChannelMovePublic] = []
    before = None
    while True:
        history = await versions.history(agent_id, None, before, 200)
        moves.extend(history.items)
        if history.next_cursor is None:
            break
        before = int(history.next_cursor)
    return schemas.AgentExport(
        agent=schemas.ExportedAgent(
            name=agent.name, description=agent.description, min_pass_rate=agent.min_pass_rate
        ),
        spec=dict(spec.blocks) if spec is not None else {},
        test_cases=[testcases.spec_of(row) for row in cases],
        versions=[await versions.one(agent_id, n) for n in sorted(numbers)],
        channel_history=[
            schemas.ExportedMove.model_validate(m.model_dump(exclude={"seq"}))
            for m in sorted(moves, key=lambda m: m.seq)
        ],
    )


IMPORT_BYTES_MAX = 900 * 1024  # the versions travel to the publisher in one message


async def import_agent(
    session: AsyncSession,
    user_id: UUID,
    document: schemas.AgentExport,
    correlation_id: UUID,
    max_spec_bytes: int,
) -> schemas.AgentPublic:
    """A new agent of the caller's from an export: its spec, cases, versions and channel history."""
    for i, case in enumerate(document.test_cases):
        testcases.check(case, where=f"test_cases.{i}.assert")
    command_versions = [
        VersionDetail(
            agent_id=uuid4(),  # replaced below, once the agent exists
            **v.model_dump(exclude={"variables", "settings"}),
            variables=[VariableDecl.model_validate(x.model_dump()) for x in v.variables],
            settings=ModelSettings(**v.settings.model_dump()),
        )
        for v in document.versions
    ]
    numbers = [v.number for v in command_versions]
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        raise ApiError(422, "invalid_export", "versions: numbers must run 1, 2, 3… without gaps")
    for i, move in enumerate(document.channel_history):
        if move.to_version not in numbers:
            raise ApiError(
                422,
                "invalid_export",
                f"channel_history.{i}: version {move.to_version} is not in the export",
            )
    agent = await AgentRepository(session).add(
        user_id,
        document.agent.name,
        document.agent.description,
        document.agent.min_pass_rate,
    )
    if document.spec:
        try:
            blocks = SpecBlocks.model_validate(document.spec)
        except ValidationError as exc:
            raise ApiError(422, "invalid_export", f"spec: {exc.errors()[0]['msg']}") from None
        await specs.save_spec(session, user_id, agent.id, blocks, None, max_spec_bytes)
    await TestCaseRepository(session).add_many(
        agent.id, [testcases.row_of(case) for case in document.test_cases]
    )
    if command_versions:
        command = ImportAgentVersionsV1(
            agent_id=agent.id,
            owner_id=user_id,
            versions=[v.model_copy(update={"agent_id": agent.id}) for v in command_versions],
            moves=[ImportedMove.model_validate(m.model_dump()) for m in document.channel_history],
        )
        if len(command.model_dump_json()) > IMPORT_BYTES_MAX:
            raise ApiError(
                413,
                "export_too_large",
                f"the versions of this export exceed {IMPORT_BYTES_MAX} bytes, the most one "
                "import carries",
            )
        await _send(session, command, user_id, correlation_id)
    return schemas.AgentPublic.model_validate(agent._mapping)

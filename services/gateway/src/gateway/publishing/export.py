"""An agent whole, as one document: its export (spec, test cases, every version, every channel
move) and the import that turns such a document back into a new agent of the caller's."""

from __future__ import annotations

from uuid import UUID, uuid4

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.compiler import VariableDecl
from contracts.publishing import ImportAgentVersionsV1, ImportedMove, ModelSettings, VersionDetail
from contracts.spec import SpecBlocks
from gateway.agents.repository import Agent, AgentRepository
from gateway.agents.service import agent_public
from gateway.errors import ApiError
from gateway.messages import send
from gateway.publishing.repository import PublishRepository
from gateway.publishing.schemas import (
    AgentExport,
    AgentImported,
    ChannelMovePublic,
    ExportedAgent,
    ExportedMove,
    PublishRequestPublic,
)
from gateway.publishing.service import request_public
from gateway.publishing.versions import Versions, move_public
from gateway.specs import service as specs
from gateway.specs.repository import SpecRepository
from gateway.testing import service as testcases
from gateway.testing.repository import TestCaseRepository


async def export_agent(
    session: AsyncSession, user_id: UUID, agent: Agent, versions: Versions
) -> AgentExport:
    """Everything needed to recreate the agent: spec, test cases, every version and every move."""
    agent_id = agent.id
    spec = await SpecRepository(session).get(user_id, agent_id)
    cases = await TestCaseRepository(session).all_for_run(agent_id, limit=None)
    numbers: list[int] = []
    before: int | None = None
    while True:
        page = await versions.list(agent_id, before, 100)
        numbers.extend(v.number for v in page.items)
        if page.next_before is None:
            break
        before = page.next_before
    moves: list[ChannelMovePublic] = []
    before = None
    while True:
        history = await versions.moves(agent_id, None, before, 200)
        moves.extend(move_public(m) for m in history.items)
        if history.next_before is None:
            break
        before = history.next_before
    return AgentExport(
        agent=ExportedAgent(
            name=agent.name, description=agent.description, min_pass_rate=agent.min_pass_rate
        ),
        spec=dict(spec.blocks) if spec is not None else {},
        test_cases=[testcases.spec_of(row) for row in cases],
        versions=[await versions.one(agent_id, n) for n in sorted(numbers)],
        channel_history=[
            ExportedMove.model_validate(m.model_dump(exclude={"seq"}))
            for m in sorted(moves, key=lambda m: m.seq)
        ],
    )


IMPORT_BYTES_MAX = 900 * 1024  # the versions travel to the publisher in one message


async def import_agent(
    session: AsyncSession,
    user_id: UUID,
    document: AgentExport,
    correlation_id: UUID,
    max_spec_bytes: int,
) -> AgentImported:
    """A new agent of the caller's from an export: its spec, cases, versions and channel history.
    The versions go to the publisher as one command, tracked as an `import` request."""
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
    request: PublishRequestPublic | None = None
    if command_versions:
        import_id = uuid4()
        command = ImportAgentVersionsV1(
            import_id=import_id,
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
        view = await PublishRepository(session).add(id=import_id, agent_id=agent.id, kind="import")
        request = request_public(view)
        await send(session, [command], user_id=user_id, correlation_id=correlation_id)
    return AgentImported(**agent_public(agent).model_dump(), versions_import=request)

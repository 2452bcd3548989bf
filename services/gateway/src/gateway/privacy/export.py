"""Everything a user owns, as one JSON document written as it is read (`GET /api/v1/me/export`).

The gateway's own rows come from its tables; each agent's compilations as the compiler stored
them from its query, each run's results from the test-runner's, each version and channel move
from the publisher's (the queries the API's reads use). Memory is
bounded by one page, whatever the number of agents: rows are read `PAGE` at a time (a short
autocommit read each, no connection held in between), results 1,000 at a time, versions one at a
time, and each piece is sent as soon as it is serialised. Time is bounded per read: every query
answers within `QUERY_TIMEOUT_SECONDS`. The three services are asked once before the first byte, so one
that is down is a 503; one that fails later ends the download early (the document is then not
valid JSON, never silently partial). The document is not a snapshot: what changes while it is
written may or may not be in it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.compiler import CompilationsV1, ListCompilationsV1
from gateway.privacy.repository import AGENT_TABLES, ExportRepository, Row
from gateway.publishing.versions import Versions, move_public
from gateway.reads import QueryReads
from gateway.testing.results import RunResults

SCHEMA_VERSION = 1
PAGE = 200
RESULTS_PAGE = 1000
_JSON: TypeAdapter[Any] = TypeAdapter(Any)

Reader = async_sessionmaker[AsyncSession]
Chunks = AsyncIterator[bytes]


def _json(value: object) -> bytes:
    return _JSON.dump_json(value)


class CompilerCompilations(QueryReads):
    """The compilations the compiler holds of an agent, through its query."""

    unavailable_code = "compiler_unavailable"
    reading = "read the compiler's compilations"

    async def page(self, agent_id: UUID, after: UUID | None) -> CompilationsV1:
        reply = await self._ask(ListCompilationsV1(agent_id=agent_id, after=after, limit=100))
        assert isinstance(reply, CompilationsV1)
        return reply


class UserExport:
    def __init__(
        self,
        reader: Reader,
        user_id: UUID,
        *,
        compilations: CompilerCompilations,
        runs: RunResults,
        versions: Versions,
    ) -> None:
        self._reader = reader
        self._user_id = user_id
        self._compilations = compilations
        self._runs = runs
        self._versions = versions

    async def check_services(self) -> None:
        """Ask each service once: one that is down is a 503 before the download starts."""
        await self._compilations.page(uuid4(), None)
        await self._runs.get(uuid4(), None, 0)
        await self._versions.list(uuid4(), None, 1)

    @asynccontextmanager
    async def _tables(self) -> AsyncIterator[ExportRepository]:
        """One short read: the connection goes back before anything is sent or asked."""
        async with self._reader() as session:
            yield ExportRepository(session)

    async def document(self) -> AsyncIterator[bytes]:
        async with self._tables() as tables:
            user, tokens = await tables.user(self._user_id), await tables.tokens(self._user_id)
        generated_at = datetime.now(UTC).isoformat()
        yield b'{"schema_version":%d,"generated_at":%s,"user":%s,"api_tokens":%s,"agents":[' % (
            SCHEMA_VERSION,
            _json(generated_at),
            _json(user),
            _json(tokens),
        )
        first, after = True, None
        while True:
            async with self._tables() as tables:
                page = await tables.agents(self._user_id, after, PAGE)
            for agent in page:
                yield b"" if first else b","
                first = False
                async for chunk in self._agent(agent):
                    yield chunk
            if len(page) < PAGE:
                break
            last = page[-1]["id"]
            assert isinstance(last, UUID)
            after = last
        yield b"]}"

    async def _agent(self, agent: Row) -> AsyncIterator[bytes]:
        agent_id = agent["id"]
        assert isinstance(agent_id, UUID)
        async with self._tables() as tables:
            spec = await tables.spec(agent_id)
        yield b'{"agent":%s,"spec":%s' % (_json(agent), _json(spec))
        for name in AGENT_TABLES:
            yield b',"%s":' % name.encode()
            rows = self._rows(name, agent_id)
            items = self._with_results(rows) if name == "test_runs" else _each_json(rows)
            async for chunk in _array(items):
                yield chunk
        yield b',"compiler_compilations":'
        async for chunk in _array(self._compiled(agent_id)):
            yield chunk
        yield b',"versions":'
        async for chunk in _array(self._versions_of(agent_id)):
            yield chunk
        yield b',"channel_history":'
        async for chunk in _array(self._moves_of(agent_id)):
            yield chunk
        yield b"}"

    async def _rows(self, name: str, agent_id: UUID) -> AsyncIterator[Row]:
        after: list[object] | None = None
        while True:
            async with self._tables() as tables:
                page = await tables.agent_rows(name, agent_id, after, PAGE)
            for row in page:
                yield row
            if len(page) < PAGE:
                return
            after = ExportRepository.key_of(name, page[-1])

    async def _with_results(self, views: AsyncIterator[Row]) -> AsyncIterator[Chunks]:
        async for view in views:
            yield self._run(view)

    async def _run(self, view: Row) -> Chunks:
        """A run view with the test-runner's summary and every result, page by page."""
        run_id = view["id"]
        assert isinstance(run_id, UUID)
        reply = await self._runs.get(run_id, None, RESULTS_PAGE)
        yield b'{"view":%s,"summary":%s,"results":[' % (_json(view), _json(reply.summary))
        first = True
        while True:
            for result in reply.results:
                yield (b"" if first else b",") + _json(result.model_dump(mode="json"))
                first = False
            if reply.next_after is None:
                break
            reply = await self._runs.get(run_id, reply.next_after, RESULTS_PAGE)
        yield b"]}"

    async def _compiled(self, agent_id: UUID) -> AsyncIterator[Chunks]:
        after: UUID | None = None
        while True:
            page = await self._compilations.page(agent_id, after)
            for compilation in page.items:
                yield _one(_json(compilation.model_dump(mode="json")))
            if page.next_after is None:
                return
            after = page.next_after

    async def _versions_of(self, agent_id: UUID) -> AsyncIterator[Chunks]:
        before: int | None = None
        while True:
            page = await self._versions.list(agent_id, before, 100)
            for summary in page.items:
                version = await self._versions.one(agent_id, summary.number)
                yield _one(_json(version.model_dump(mode="json")))
            if page.next_before is None:
                return
            before = page.next_before

    async def _moves_of(self, agent_id: UUID) -> AsyncIterator[Chunks]:
        before: int | None = None
        while True:
            page = await self._versions.moves(agent_id, None, before, 200)
            for move in page.items:
                yield _one(_json(move_public(move).model_dump(mode="json")))
            if page.next_before is None:
                return
            before = page.next_before


async def _one(data: bytes) -> Chunks:
    yield data


async def _each_json(rows: AsyncIterator[Row]) -> AsyncIterator[Chunks]:
    async for row in rows:
        yield _one(_json(row))


async def _array(items: AsyncIterator[Chunks]) -> Chunks:
    """A JSON array of items, each written as the chunks it comes in."""
    yield b"["
    first = True
    async for item in items:
        if not first:
            yield b","
        first = False
        async for chunk in item:
            yield chunk
    yield b"]"

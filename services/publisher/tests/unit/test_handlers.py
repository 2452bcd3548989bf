"""The publisher's handlers with hand-written fakes of its repositories and read model."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID, uuid4

from contracts.privacy import EraseVersionsV1, VersionsErasedV1
from contracts.publishing import (
    AgentDeletedV1,
    ChannelMove,
    ChannelMovedV1,
    ChannelMoveRefusedV1,
    ImportAgentVersionsV1,
    ImportedMove,
    ImportedVersion,
    MoveChannelV1,
    PublishedChannel,
    PublishedVersion,
    PublishRefusedV1,
    PublishVersionV1,
    VersionDetail,
    VersionPublishedV1,
)
from contracts.runs import RunSummary, TestRunCompletedV1
from publisher import domain, handlers
from publisher.domain import RunOutcome, Version

NOW = datetime(2026, 12, 1, tzinfo=UTC)
AGENT, OWNER, USER, COMPILATION = (uuid4() for _ in range(4))
A, B = uuid4(), uuid4()


class FakeRunOutcomes:
    def __init__(self) -> None:
        self.rows: dict[UUID, RunOutcome] = {}

    async def add(self, event: TestRunCompletedV1) -> None:
        s = event.summary
        self.rows.setdefault(
            s.run_id,
            RunOutcome(
                run_id=s.run_id,
                compilation_id=s.compilation_id,
                status=s.status,
                pass_rate=s.pass_rate,
                passed=frozenset(event.passed_cases),
                failed=frozenset(event.failed_cases),
            ),
        )

    async def get(self, run_id: UUID) -> RunOutcome | None:
        return self.rows.get(run_id)

    async def erase(self, agent_ids: list[UUID]) -> int:
        # The fake's outcomes are all of AGENT (`completed`).
        erased = len(self.rows) if AGENT in agent_ids else 0
        if erased:
            self.rows = {}
        return erased


class FakeVersions:
    """Versions, channels and history in dicts; `locked` records the agents locked."""

    def __init__(self) -> None:
        self.rows: dict[tuple[UUID, int], Version] = {}
        self.channels: dict[tuple[UUID, str], int] = {}
        self.moves: list[ChannelMove] = []
        self.locked: list[UUID] = []
        self._seq = itertools.count(1)

    async def lock_agent(self, agent_id: UUID) -> None:
        self.locked.append(agent_id)

    async def published_by(self, publish_id: UUID) -> bool:
        return any(v.publish_id == publish_id for v in self.rows.values())

    async def get(self, agent_id: UUID, number: int) -> Version | None:
        return self.rows.get((agent_id, number))

    async def has_versions(self, agent_id: UUID) -> bool:
        return any(a == agent_id for a, _ in self.rows)

    async def page(self, agent_id: UUID, before: int | None, limit: int) -> list[Version]:
        found = [v for (a, n), v in self.rows.items() if a == agent_id and n < (before or 10**9)]
        return sorted(found, key=lambda v: -v.number)[:limit]

    async def add(self, cmd: PublishVersionV1, *, forced: bool, overridden: str | None) -> Version:
        number = 1 + max((n for a, n in self.rows if a == cmd.agent_id), default=0)
        version = Version(
            **cmd.model_dump(include=set(Version.model_fields)),
            number=number,
            forced=forced,
            force_reason=cmd.reason if forced else None,
            overridden=overridden,
            published_at=NOW,
        )
        self.rows[(cmd.agent_id, number)] = version
        return version

    async def import_version(self, agent_id: UUID, owner_id: UUID, v: VersionDetail) -> Version:
        claims = ImportedVersion(
            imported_by=owner_id,
            imported_at=NOW,
            claimed_published_by=v.published_by,
            claimed_published_at=v.published_at,
            claimed_test_run_id=v.test_run_id,
        )
        version = Version(
            **{**v.model_dump(), "agent_id": agent_id, "published_by": owner_id},
            publish_id=uuid4(),
            owner_id=owner_id,
        ).model_copy(update={"imported": claims, "test_run_id": None})
        self.rows[(agent_id, v.number)] = version
        return version

    async def move_channel(
        self,
        agent_id: UUID,
        name: str,
        to: int,
        moved_by: UUID,
        reason: str,
        *,
        forced: bool = False,
        test_run_id: UUID | None = None,
    ) -> ChannelMove:
        entry = ChannelMove(
            seq=next(self._seq),
            agent_id=agent_id,
            channel=name,
            from_version=self.channels.get((agent_id, name)),
            to_version=to,
            moved_by=moved_by,
            reason=reason,
            moved_at=NOW,
            forced=forced,
            test_run_id=test_run_id,
        )
        self.moves.append(entry)
        self.channels[(agent_id, name)] = to
        return entry

    async def import_move(self, agent_id: UUID, owner_id: UUID, move: ImportedMove) -> ChannelMove:
        entry = ChannelMove(
            seq=next(self._seq),
            agent_id=agent_id,
            **{**move.model_dump(), "moved_by": owner_id},
        )
        self.moves.append(entry)
        return entry

    async def channel_version(self, agent_id: UUID, name: str) -> int | None:
        return self.channels.get((agent_id, name))

    async def history(
        self, agent_id: UUID, name: str | None, before: int | None, limit: int
    ) -> list[ChannelMove]:
        found = [m for m in reversed(self.moves) if name in (None, m.channel)]
        return [m for m in found if m.seq < (before or 10**9)][:limit]

    async def agents_of_owner(self, owner_id: UUID) -> list[UUID]:
        return sorted({a for (a, _), v in self.rows.items() if v.owner_id == owner_id})

    async def delete_agent(self, agent_id: UUID) -> tuple[list[int], list[str]]:
        numbers = [n for a, n in self.rows if a == agent_id]
        names = [c for a, c in self.channels if a == agent_id]
        self.rows = {k: v for k, v in self.rows.items() if k[0] != agent_id}
        self.channels = {k: v for k, v in self.channels.items() if k[0] != agent_id}
        return numbers, names


class FakeReadModel:
    """The bucket as a dict of values; a channel's value moves only forward, like the adapter."""

    def __init__(self) -> None:
        self.versions: dict[tuple[UUID, int], PublishedVersion] = {}
        self.channels: dict[tuple[UUID, str], PublishedChannel] = {}

    async def put_version(self, version: PublishedVersion) -> None:
        self.versions[(version.agent_id, version.number)] = version

    async def put_channel(self, agent_id: UUID, name: str, value: PublishedChannel) -> None:
        if domain.replaces(self.channels.get((agent_id, name)), value):
            self.channels[(agent_id, name)] = value

    async def drop_agent(self, agent_id: UUID, numbers: list[int], names: list[str]) -> None:
        for number in numbers:
            self.versions.pop((agent_id, number), None)
        for name in names:
            self.channels.pop((agent_id, name), None)


def protocols(
    v: FakeVersions, o: FakeRunOutcomes, r: FakeReadModel
) -> tuple[handlers.Versions, handlers.RunOutcomes, handlers.ReadModel]:
    """Lets mypy check that the fakes satisfy the handlers' Protocols."""
    return v, o, r


def completed(passed: set[UUID], failed: set[UUID]) -> TestRunCompletedV1:
    judged = len(passed) + len(failed)
    summary = RunSummary(
        run_id=uuid4(),
        agent_id=AGENT,
        compilation_id=COMPILATION,
        status="completed",
        total=judged,
        repeat=1,
        executions=judged,
        executed=judged,
        passed=len(passed),
        failed=len(failed),
        errored=0,
        flaky=0,
        pass_rate=len(passed) / judged if judged else None,
        created_at=NOW,
    )
    return TestRunCompletedV1(
        summary=summary, passed_cases=sorted(passed, key=str), failed_cases=sorted(failed, key=str)
    )


def publish(run: TestRunCompletedV1 | None, **kw: object) -> PublishVersionV1:
    fields: dict[str, object] = {
        "publish_id": uuid4(),
        "agent_id": AGENT,
        "compilation_id": COMPILATION,
        "test_run_id": run.summary.run_id if run else None,
        "spec_revision": 1,
        "spec": {"persona": {"role": "tester"}},
        "instructions": "Be brief.",
        "min_pass_rate": 0.5,
        "published_by": USER,
        "owner_id": OWNER,
        **kw,
    }
    return PublishVersionV1.model_validate(fields)


class Publisher:
    def __init__(self) -> None:
        self.versions, self.outcomes, self.read_model = (
            FakeVersions(),
            FakeRunOutcomes(),
            FakeReadModel(),
        )

    async def run(self, passed: set[UUID], failed: set[UUID]) -> TestRunCompletedV1:
        event = completed(passed, failed)
        await handlers.handle_test_runner_event(event, outcomes=self.outcomes)
        return event

    async def publish(self, cmd: PublishVersionV1) -> list[object]:
        emitted = await handlers.handle_publish_version(
            cmd, versions=self.versions, outcomes=self.outcomes
        )
        for event in emitted:  # the publisher's own events come back to its read-model consumer
            await handlers.project(event, versions=self.versions, read_model=self.read_model)
        return list(emitted)


async def test_versions_are_numbered_per_agent_and_a_replayed_publish_changes_nothing() -> None:
    p = Publisher()
    run = await p.run({A, B}, set())
    first, second = publish(run), publish(run)
    assert [type(e) for e in await p.publish(first)] == [VersionPublishedV1]
    (published,) = await p.publish(second)
    assert isinstance(published, VersionPublishedV1)
    assert published.version.number == 2
    assert await p.publish(first) == []
    assert sorted(n for _, n in p.versions.rows) == [1, 2]
    assert p.versions.locked == [AGENT] * 3


async def test_the_gate_refuses_and_force_with_a_reason_publishes_recording_the_override() -> None:
    p = Publisher()
    weak = await p.run({A}, {B})
    refused = await p.publish(publish(weak, min_pass_rate=0.9))
    assert isinstance(refused[0], PublishRefusedV1)
    assert refused[0].reason == "pass rate 50.0% is below the agent's min_pass_rate 90.0%"
    assert p.versions.rows == {}
    # `force` without a reason is still refused; with one, the refusal is kept on the version.
    assert isinstance(
        (await p.publish(publish(weak, min_pass_rate=0.9, force=True)))[0], PublishRefusedV1
    )
    forced = await p.publish(publish(weak, min_pass_rate=0.9, force=True, reason="hotfix"))
    assert isinstance(forced[0], VersionPublishedV1)
    assert (forced[0].version.forced, forced[0].version.force_reason) == (True, "hotfix")
    assert forced[0].version.overridden == refused[0].reason


async def test_a_regression_behind_production_is_named() -> None:
    p = Publisher()
    await p.publish(publish(await p.run({A, B}, set()), channel="production"))
    (refused,) = await p.publish(publish(await p.run({A}, {B}), channel="production"))
    assert isinstance(refused, PublishRefusedV1)
    assert refused.regressions == [B]


async def test_a_publish_to_a_channel_moves_it_and_the_read_model_follows() -> None:
    p = Publisher()
    run = await p.run({A}, set())
    await p.publish(publish(run, channel="staging"))
    emitted = await p.publish(publish(run, channel="staging", notes="faster"))
    move = emitted[1]
    assert isinstance(move, ChannelMovedV1)
    assert (move.move.from_version, move.move.to_version) == (1, 2)
    assert move.move.reason == "published version 2: faster"
    assert p.read_model.channels[(AGENT, "staging")] == PublishedChannel(version=2, seq=2)
    assert p.read_model.versions[(AGENT, 2)].instructions == "Be brief."
    # A replayed older move does not move the read model back.
    first_move = p.versions.moves[0]
    await handlers.project(
        ChannelMovedV1(move_id=None, move=first_move),
        versions=p.versions,
        read_model=p.read_model,
    )
    assert p.read_model.channels[(AGENT, "staging")].version == 2


async def test_moving_a_channel_to_a_missing_version_is_refused() -> None:
    p = Publisher()
    await p.publish(publish(await p.run({A}, set())))
    cmd = MoveChannelV1(
        move_id=uuid4(), agent_id=AGENT, channel="production", version=7, moved_by=USER
    )
    (refused,) = await handlers.handle_move_channel(cmd, versions=p.versions, outcomes=p.outcomes)
    assert isinstance(refused, ChannelMoveRefusedV1)
    assert refused.reason == "version 7 does not exist"
    ok = cmd.model_copy(update={"version": 1})
    (moved,) = await handlers.handle_move_channel(ok, versions=p.versions, outcomes=p.outcomes)
    assert isinstance(moved, ChannelMovedV1)
    assert (moved.move_id, moved.move.to_version) == (cmd.move_id, 1)


async def test_an_agent_with_versions_is_not_imported_over() -> None:
    p = Publisher()
    await p.publish(publish(await p.run({A}, set())))
    exported = await p.versions.get(AGENT, 1)
    assert exported is not None
    other = uuid4()
    cmd = ImportAgentVersionsV1(
        agent_id=other, owner_id=OWNER, versions=[exported.detail()], moves=[]
    )
    (published,) = await handlers.handle_import_agent_versions(cmd, versions=p.versions)
    assert isinstance(published, VersionPublishedV1)
    assert (published.version.agent_id, published.version.number) == (other, 1)
    assert await handlers.handle_import_agent_versions(cmd, versions=p.versions) == []


async def test_an_imported_version_is_served_only_after_a_forced_move() -> None:
    p = Publisher()
    await p.publish(publish(await p.run({A}, set()), channel="production"))
    exported = await p.versions.get(AGENT, 1)
    assert exported is not None
    other, forger = uuid4(), uuid4()
    claimed = exported.detail().model_copy(update={"published_by": forger})
    history = ImportedMove(
        channel="production", from_version=None, to_version=1, moved_by=forger, reason="",
        moved_at=NOW,
    )  # fmt: skip
    cmd = ImportAgentVersionsV1(
        agent_id=other, owner_id=OWNER, versions=[claimed], moves=[history], import_id=uuid4()
    )
    emitted = await handlers.handle_import_agent_versions(cmd, versions=p.versions)
    for event in emitted:
        await handlers.project(event, versions=p.versions, read_model=p.read_model)
    (published,) = emitted
    assert isinstance(published, VersionPublishedV1)
    assert published.import_id == cmd.import_id
    assert published.version.published_by == OWNER
    assert published.version.imported is not None
    assert published.version.imported.claimed_published_by == forger
    assert (other, 1) not in p.read_model.versions
    assert (other, "production") not in p.read_model.channels
    assert p.versions.moves[-1].moved_by == OWNER

    move = MoveChannelV1(
        move_id=uuid4(), agent_id=other, channel="production", version=1, moved_by=OWNER
    )
    (refused,) = await handlers.handle_move_channel(move, versions=p.versions, outcomes=p.outcomes)
    assert isinstance(refused, ChannelMoveRefusedV1)
    assert "or force with a reason" in refused.reason
    no_reason = move.model_copy(update={"force": True})
    assert isinstance(
        (await handlers.handle_move_channel(no_reason, versions=p.versions, outcomes=p.outcomes))[
            0
        ],
        ChannelMoveRefusedV1,
    )
    forced = move.model_copy(update={"force": True, "reason": "reviewed by hand"})
    (moved,) = await handlers.handle_move_channel(forced, versions=p.versions, outcomes=p.outcomes)
    assert isinstance(moved, ChannelMovedV1)
    assert (moved.move.forced, moved.move.reason) == (True, "reviewed by hand")
    await handlers.project(moved, versions=p.versions, read_model=p.read_model)
    assert p.read_model.channels[(other, "production")].version == 1


async def imported_copy(p: Publisher) -> tuple[UUID, Version]:
    """A copy of AGENT's version 1, imported as agent `other`."""
    await p.publish(publish(await p.run({A}, set())))
    exported = await p.versions.get(AGENT, 1)
    assert exported is not None
    other = uuid4()
    cmd = ImportAgentVersionsV1(
        agent_id=other, owner_id=OWNER, versions=[exported.detail()], moves=[]
    )
    await handlers.handle_import_agent_versions(cmd, versions=p.versions)
    return other, exported


async def test_a_passing_run_here_of_the_same_instructions_clears_an_imported_version() -> None:
    p = Publisher()
    other, exported = await imported_copy(p)
    passing, failing = await p.run({A}, set()), await p.run(set(), {A})

    def move(run: TestRunCompletedV1, instructions: str) -> MoveChannelV1:
        return MoveChannelV1(
            move_id=uuid4(), agent_id=other, channel="production", version=1, moved_by=OWNER,
            test_run_id=run.summary.run_id, run_compilation_id=COMPILATION,
            run_instructions=instructions, min_pass_rate=1.0,
        )  # fmt: skip

    outcomes = []
    for cmd in (move(failing, exported.instructions), move(passing, "other instructions")):
        (refused,) = await handlers.handle_move_channel(
            cmd, versions=p.versions, outcomes=p.outcomes
        )
        assert isinstance(refused, ChannelMoveRefusedV1)
        outcomes.append(refused.reason)
    cleared = move(passing, exported.instructions)
    (moved,) = await handlers.handle_move_channel(cleared, versions=p.versions, outcomes=p.outcomes)

    assert "pass rate 0.0% is below" in outcomes[0]
    assert "tested other instructions" in outcomes[1]
    assert isinstance(moved, ChannelMovedV1)
    assert (moved.move.forced, moved.move.test_run_id) == (False, passing.summary.run_id)


async def test_a_deleted_agent_leaves_the_tables_and_the_read_model() -> None:
    p = Publisher()
    await p.publish(publish(await p.run({A}, set()), channel="production"))
    assert (len(p.read_model.versions), len(p.read_model.channels)) == (1, 1)
    event = AgentDeletedV1(agent_id=AGENT)
    for _ in range(2):  # deleting what is already gone changes nothing
        assert (
            await handlers.handle_gateway_event(event, versions=p.versions, read_model=p.read_model)
            == []
        )
    assert (p.versions.rows, p.read_model.versions, p.read_model.channels) == ({}, {}, {})


async def test_an_erasure_takes_the_owners_agents_out_of_the_tables_and_the_read_model() -> None:
    p = Publisher()
    await p.publish(publish(await p.run({A}, set()), channel="production"))
    # The command names no agent: the part that looks up the owner's versions finds this one.
    cmd = EraseVersionsV1(erasure_id=uuid4(), user_id=OWNER, agent_ids=[], part=0, parts=1)

    first = await handlers.handle_erase_versions(
        cmd, versions=p.versions, outcomes=p.outcomes, read_model=p.read_model
    )
    again = await handlers.handle_erase_versions(
        cmd, versions=p.versions, outcomes=p.outcomes, read_model=p.read_model
    )

    assert first == [
        VersionsErasedV1(
            erasure_id=cmd.erasure_id,
            part=0,
            parts=1,
            erased={"versions": 1, "channels": 1, "run_outcomes": 1},
        )
    ]
    assert again == [first[0].model_copy(update={"erased": {"versions": 0, "channels": 0,
                                                            "run_outcomes": 0}})]  # fmt: skip
    assert (p.versions.rows, p.read_model.versions, p.read_model.channels) == ({}, {}, {})
    assert p.outcomes.rows == {}


async def test_a_channel_move_projected_after_an_erasure_writes_nothing() -> None:
    p = Publisher()
    cmd = publish(await p.run({A}, set()), channel="production")
    emitted = await handlers.handle_publish_version(cmd, versions=p.versions, outcomes=p.outcomes)
    await p.versions.delete_agent(AGENT)  # erased before the read model heard of the move

    for event in emitted:
        await handlers.project(event, versions=p.versions, read_model=p.read_model)

    assert (p.read_model.versions, p.read_model.channels) == ({}, {})

"""The publisher's consumers, handlers, repositories and read model against real PostgreSQL and
NATS JetStream, in this process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from nats.js.errors import KeyNotFoundError

from contracts import subjects
from contracts.publishing import (
    AgentDeletedV1,
    ChannelHistoryV1,
    ChannelMovedV1,
    ChannelMoveRefusedV1,
    GetChannelHistoryV1,
    ListVersionsV1,
    MoveChannelV1,
    PublishedChannel,
    PublishedVersion,
    PublishRefusedV1,
    PublishVersionV1,
    VersionPublishedV1,
    VersionsV1,
    channel_key,
    published_bucket,
    version_key,
)
from contracts.runs import RunSummary, TestRunCompletedV1
from publisher.models import channel_history, channels, metadata, run_outcomes, versions
from publisher.settings import PublisherSettings
from publisher.worker import SERVICE, bindings
from runtime.settings import CommonSettings
from tests.support.inprocess import RunningService, eventually, running_service

pytestmark = pytest.mark.integration

AGENT, OWNER, USER, COMPILATION = (uuid.uuid4() for _ in range(4))
A, B = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def publisher(postgres_url: str, nats_url: str) -> AsyncIterator[RunningService]:
    """The publisher on a database and subject root of its own."""

    def settings_of(url: str, root: str) -> CommonSettings:
        return PublisherSettings(
            database_url=url,
            nats_url=nats_url,
            nats_subject_root=root,
            ack_wait_seconds=2,
            max_deliver=3,
        )

    async with running_service(
        SERVICE, settings_of, metadata, bindings, postgres_url=postgres_url, nats_url=nats_url
    ) as running:
        yield running


def completed(passed: set[uuid.UUID], failed: set[uuid.UUID]) -> TestRunCompletedV1:
    judged = len(passed) + len(failed)
    return TestRunCompletedV1(
        summary=RunSummary(
            run_id=uuid.uuid4(),
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
            pass_rate=len(passed) / judged,
            created_at=datetime.now(UTC),
        ),
        passed_cases=sorted(passed, key=str),
        failed_cases=sorted(failed, key=str),
    )


def publish(run: TestRunCompletedV1, **kw: object) -> PublishVersionV1:
    return PublishVersionV1.model_validate(
        {
            "publish_id": uuid.uuid4(),
            "agent_id": AGENT,
            "compilation_id": COMPILATION,
            "test_run_id": run.summary.run_id,
            "spec_revision": 1,
            "spec": {"persona": {"role": "tester"}},
            "instructions": "Be brief.",
            "min_pass_rate": 0.5,
            "published_by": USER,
            "owner_id": OWNER,
            **kw,
        }
    )


async def outcomes_stored(publisher: RunningService, n: int) -> None:
    """The gate reads run outcomes from another consumer: publish only once they are in."""

    async def stored() -> bool:
        return await publisher.count(run_outcomes) >= n

    assert await eventually(stored) is True


async def versions_stored(publisher: RunningService, n: int) -> None:
    async def stored() -> bool:
        return await publisher.count(versions, versions.c.agent_id == AGENT) >= n

    assert await eventually(stored) is True


async def published_value(publisher: RunningService, key: str) -> bytes | None:
    kv = await publisher.service.js.key_value(published_bucket(publisher.root))
    try:
        return (await kv.get(key)).value
    except KeyNotFoundError:
        return None


async def test_a_publish_to_production_is_stored_numbered_and_served_and_a_regression_refused(
    publisher: RunningService,
) -> None:
    good, worse = completed({A, B}, set()), completed({A}, {B})
    for run in (good, worse):
        await publisher.send(subjects.TEST_RUN_COMPLETED, run)
    await outcomes_stored(publisher, 2)
    first = publish(good, channel="production")
    await publisher.send(subjects.PUBLISH_VERSION, first)
    await publisher.send(subjects.PUBLISH_VERSION, first)  # the same publish again: one version

    async def served() -> bytes:
        return await published_value(publisher, channel_key(AGENT, "production")) or b""

    assert PublishedChannel.model_validate_json(await eventually(served)).version == 1
    value = await published_value(publisher, version_key(AGENT, 1))
    assert value is not None
    assert PublishedVersion.model_validate_json(value).instructions == "Be brief."

    await publisher.send(subjects.PUBLISH_VERSION, publish(worse, channel="production"))

    async def refused() -> list[object]:
        return await publisher.events(subjects.PUBLISHER_STREAM, subjects.PUBLISH_REFUSED)

    (refusal,) = await eventually(refused)
    assert isinstance(refusal, PublishRefusedV1)
    assert refusal.regressions == [B]
    forced = publish(worse, force=True, reason="known flake")
    await publisher.send(subjects.PUBLISH_VERSION, forced)
    await versions_stored(publisher, 2)
    page = await publisher.ask(subjects.LIST_VERSIONS, ListVersionsV1(agent_id=AGENT, limit=1))
    assert isinstance(page, VersionsV1)
    assert [(v.number, v.forced, v.overridden) for v in page.items] == [(2, True, refusal.reason)]
    assert page.next_before == 2
    published = await publisher.events(subjects.PUBLISHER_STREAM, subjects.VERSION_PUBLISHED)
    assert [e.version.number for e in published if isinstance(e, VersionPublishedV1)] == [1, 2]


async def test_moves_are_kept_in_the_history_and_a_deleted_agent_leaves_the_read_model(
    publisher: RunningService,
) -> None:
    run = completed({A}, set())
    await publisher.send(subjects.TEST_RUN_COMPLETED, run)
    await outcomes_stored(publisher, 1)
    await publisher.send(subjects.PUBLISH_VERSION, publish(run, channel="staging"))
    await versions_stored(publisher, 1)
    await publisher.send(subjects.PUBLISH_VERSION, publish(run))
    await versions_stored(publisher, 2)
    for target in (9, 2):
        await publisher.send(
            subjects.MOVE_CHANNEL,
            MoveChannelV1(
                move_id=uuid.uuid4(),
                agent_id=AGENT,
                channel="staging",
                version=target,
                moved_by=USER,
            ),
        )

    async def staged() -> bool:
        value = await published_value(publisher, channel_key(AGENT, "staging"))
        return value is not None and PublishedChannel.model_validate_json(value).version == 2

    assert await eventually(staged) is True
    refusals = await publisher.events(subjects.PUBLISHER_STREAM, subjects.CHANNEL_MOVE_REFUSED)
    assert [r.reason for r in refusals if isinstance(r, ChannelMoveRefusedV1)] == [
        "version 9 does not exist"
    ]
    history = await publisher.ask(
        subjects.GET_CHANNEL_HISTORY, GetChannelHistoryV1(agent_id=AGENT, channel="staging")
    )
    assert isinstance(history, ChannelHistoryV1)
    assert [(m.from_version, m.to_version) for m in history.items] == [(1, 2), (None, 1)]
    moves = await publisher.events(subjects.PUBLISHER_STREAM, subjects.CHANNEL_MOVED)
    assert len([m for m in moves if isinstance(m, ChannelMovedV1)]) == 2

    await publisher.send(subjects.AGENT_DELETED, AgentDeletedV1(agent_id=AGENT))

    async def gone() -> bool:
        return await published_value(publisher, channel_key(AGENT, "staging")) is None

    assert await eventually(gone) is True
    assert await published_value(publisher, version_key(AGENT, 1)) is None
    for table in (versions, channels, channel_history):
        assert await publisher.count(table, table.c.agent_id == AGENT) == 0

"""A user's erasure in the publisher, against real PostgreSQL and NATS JetStream: versions,
channels, history and run outcomes go, the read model stops serving them, and a publish of that
user's arriving afterwards writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from nats.js.errors import KeyNotFoundError

from contracts import subjects
from contracts.privacy import EraseVersionsV1, VersionsErasedV1
from contracts.publishing import PublishVersionV1, channel_key, published_bucket, version_key
from contracts.runs import RunSummary, TestRunCompletedV1
from publisher.models import (
    channel_history,
    channels,
    erased_owners,
    metadata,
    run_outcomes,
    versions,
)
from publisher.settings import PublisherSettings
from publisher.worker import SERVICE, bindings
from runtime.settings import CommonSettings
from tests.support.inprocess import RunningService, eventually, running_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def publisher(postgres_url: str, nats_url: str) -> AsyncIterator[RunningService]:
    def settings_of(url: str, root: str) -> CommonSettings:
        return PublisherSettings(database_url=url, nats_url=nats_url, nats_subject_root=root)

    async with running_service(
        SERVICE, settings_of, metadata, bindings, postgres_url=postgres_url, nats_url=nats_url
    ) as running:
        yield running


def forced(agent_id: uuid.UUID, owner_id: uuid.UUID) -> PublishVersionV1:
    return PublishVersionV1(
        publish_id=uuid.uuid4(),
        agent_id=agent_id,
        compilation_id=uuid.uuid4(),
        spec_revision=1,
        spec={"persona": {"role": "tester"}},
        instructions="Be brief.",
        channel="production",
        force=True,
        reason="no run yet",
        min_pass_rate=1.0,
        published_by=owner_id,
        owner_id=owner_id,
    )


def outcome(agent_id: uuid.UUID) -> TestRunCompletedV1:
    return TestRunCompletedV1(
        summary=RunSummary(
            run_id=uuid.uuid4(),
            agent_id=agent_id,
            compilation_id=uuid.uuid4(),
            status="completed",
            total=0,
            repeat=1,
            executions=0,
            executed=0,
            passed=0,
            failed=0,
            errored=0,
            flaky=0,
            pass_rate=None,
            created_at=datetime.now(UTC),
        ),
        passed_cases=[],
        failed_cases=[],
    )


async def served(publisher: RunningService, key: str) -> bool:
    kv = await publisher.service.js.key_value(published_bucket(publisher.root))
    try:
        return bool((await kv.get(key)).value)
    except KeyNotFoundError:
        return False


async def idle(publisher: RunningService, durable: subjects.Durable) -> bool:
    info = await publisher.service.js.consumer_info(
        durable.stream.full_name(publisher.root), durable.name
    )
    return bool(info.num_pending + info.num_ack_pending == 0)


async def test_an_erasure_stops_serving_leaves_no_row_and_a_late_publish_writes_nothing(
    publisher: RunningService,
) -> None:
    user, agent = uuid.uuid4(), uuid.uuid4()
    await publisher.send(subjects.TEST_RUN_COMPLETED, outcome(agent), owner_id=user)
    await publisher.send(subjects.PUBLISH_VERSION, forced(agent, user), owner_id=user)
    assert await eventually(lambda: served(publisher, channel_key(agent, "production")))
    assert await eventually(lambda: publisher.count(run_outcomes))

    erase = EraseVersionsV1(
        erasure_id=uuid.uuid4(), user_id=user, agent_ids=[agent], part=0, parts=1
    )
    await publisher.send(subjects.ERASE_VERSIONS, erase, owner_id=user)

    async def erased() -> list[object]:
        return await publisher.events(subjects.PUBLISHER_STREAM, subjects.VERSIONS_ERASED)

    (event,) = await eventually(erased)
    assert isinstance(event, VersionsErasedV1)
    assert event.erased == {"versions": 1, "channels": 1, "run_outcomes": 1}
    assert not await served(publisher, channel_key(agent, "production"))
    assert not await served(publisher, version_key(agent, 1))
    for table in (versions, channels, channel_history, run_outcomes):
        assert await publisher.count(table) == 0
    assert await publisher.count(erased_owners, erased_owners.c.owner_id == user) == 1

    await publisher.send(subjects.PUBLISH_VERSION, forced(agent, user), owner_id=user)  # late
    await publisher.send(subjects.TEST_RUN_COMPLETED, outcome(agent), owner_id=user)
    assert await eventually(lambda: idle(publisher, subjects.PUBLISHER_PUBLISH_VERSION))
    assert await eventually(lambda: idle(publisher, subjects.PUBLISHER_TEST_RUNNER_EVENTS))
    assert await publisher.count(versions) == 0
    assert await publisher.count(run_outcomes) == 0
    assert not await served(publisher, version_key(agent, 1))

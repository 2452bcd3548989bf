"""Commands that can never be applied: each is dead-lettered by its worker, and the request it was
sent for ends `failed` with a reason a person can read, never `pending` for good; an erasure shows
its failed part. Replayed after the fix, the command's outcome wins over that failure.

The API refuses such input at the edge, so each request is recorded here as its route records it
(the gateway's view and the command in its outbox, one transaction) but with a payload the
worker's PostgreSQL refuses on every delivery: an integer out of its column's range, a NUL
character in text, or a value a rule of that store refuses (a rule the API knows nothing of,
dropped again as a fix would be).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from contracts import subjects
from contracts.compiler import CompileAgentV1
from contracts.publishing import (
    ImportAgentVersionsV1,
    MoveChannelV1,
    PublishVersionV1,
    VersionDetail,
)
from contracts.runs import StartTestRunV1
from gateway.messages import send
from gateway.models import compilations
from gateway.publishing.repository import PublishRepository
from gateway.testing import repository as testing
from runtime import db
from tests.e2e.test_dead_letters_cli import studio
from tests.e2e.test_privacy import erase
from tests.e2e.test_test_runs import sse_events
from tests.support import infra
from tests.support.fixtures import Stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

INT4_PAST_MAX = 2**31
GIVEN_UP = "could not be carried out"


@pytest.fixture(scope="module")
def stack(
    postgres_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with infra.fresh_database(postgres_url) as url:
        infra.migrate_all(url)
        root = infra.new_root()
        # Two deliveries before a command is given up: the same path as five, sooner.
        running = Stack(url, nats_url, root, tmp_path_factory.mktemp("logs"), {"MAX_DELIVER": "2"})
        try:
            for service in ("compiler", "test-runner", "publisher", "gateway"):
                running.start(service)
            yield running
        finally:
            running.stop_all()
            infra.delete_streams(nats_url, root)


def record(stack: Stack, command: BaseModel, view: Callable[[Any], Any]) -> None:
    """The request's view and its command, written as a route writes them; the relay sends it."""

    async def write() -> None:
        engine = db.create_engine(stack.database_url, pool_size=1)
        try:
            async with db.create_sessionmaker(engine).begin() as session:
                await view(session)
                await send(session, [command], user_id=uuid.uuid4(), correlation_id=uuid.uuid4())
        finally:
            await engine.dispose()

    asyncio.run(write())


def body(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def settled(client: httpx.Client, url: str) -> Any:
    """The request once it is no longer pending (each read waits for its notice a while)."""
    return eventually(
        lambda: body(client.get(f"{url}?wait=5")),
        lambda seen: seen["status"] != "pending",
        timeout=40,
        what=f"{url} leaving pending",
    )


def new_agent(client: httpx.Client) -> uuid.UUID:
    created = body(client.post("/api/v1/agents", json={"name": "Never applied"}), 201)
    return uuid.UUID(created["id"])


def assert_readable(reason: str | None) -> None:
    assert reason is not None
    assert GIVEN_UP in reason, reason
    for internal in ("SQL", "Error", "Traceback", "psycopg", "INSERT", "UPDATE", "\\x00"):
        assert internal not in reason, reason


@contextmanager
def refused_by_store(stack: Stack, table: str, condition: str) -> Iterator[None]:
    """A rule of a worker's PostgreSQL the API knows nothing of: it refuses the rows of `table`
    for which `condition` (on NEW) holds, until the block ends (the fix is deployed)."""
    name = f"refuse_{uuid.uuid4().hex[:12]}"
    schema = table.split(".", 1)[0]
    execute(
        stack,
        f"""CREATE FUNCTION {schema}.{name}() RETURNS trigger AS $$
        BEGIN
            IF {condition} THEN
                RAISE EXCEPTION 'refused by a rule of this store';
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql""",
        f"""CREATE TRIGGER {name} BEFORE INSERT ON {table}
        FOR EACH ROW EXECUTE FUNCTION {schema}.{name}()""",
    )
    try:
        yield
    finally:
        execute(stack, f"DROP TRIGGER {name} ON {table}", f"DROP FUNCTION {schema}.{name}()")


def execute(stack: Stack, *statements: str) -> None:
    engine = sa.create_engine(stack.database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_a_compilation_whose_command_is_dead_lettered_fails_with_a_reason(stack: Stack) -> None:
    client = stack.new_user()
    agent_id, compilation_id = new_agent(client), uuid.uuid4()
    command = CompileAgentV1(
        compilation_id=compilation_id,
        agent_id=agent_id,
        spec_revision=INT4_PAST_MAX,
        blocks={"persona": {"role": "support agent"}},
    )
    record(
        stack,
        command,
        lambda s: s.execute(
            sa.insert(compilations).values(id=compilation_id, agent_id=agent_id, spec_revision=0)
        ),
    )

    seen = settled(client, f"/api/v1/agents/{agent_id}/compilations/{compilation_id}")

    assert seen["status"] == "failed"
    assert_readable(seen["error"])
    assert "the compiler failed to apply it 2 times in a row" in seen["error"], seen["error"]


def test_a_test_run_whose_start_is_dead_lettered_fails_with_a_reason(stack: Stack) -> None:
    client = stack.new_user()
    agent_id, run_id, compilation_id = new_agent(client), uuid.uuid4(), uuid.uuid4()
    command = StartTestRunV1(
        run_id=run_id,
        agent_id=agent_id,
        compilation_id=compilation_id,
        instructions="You answer questions.\x00",
        total_cases=1,
    )
    record(
        stack,
        command,
        lambda s: testing.TestRunRepository(s).add(
            id=run_id, agent_id=agent_id, compilation_id=compilation_id, total=1, repeat=1,
            cache=False,
        ),
    )  # fmt: skip
    # Opened at once: the stream must end when the run fails, not wait for a start that never comes.
    streamed = sse_events(client, f"/api/v1/agents/{agent_id}/test-runs/{run_id}/events")

    run = eventually(
        lambda: body(client.get(f"/api/v1/agents/{agent_id}/test-runs/{run_id}")),
        lambda r: r["status"] != "queued",
        timeout=40,
        what="the run leaving queued",
    )

    assert run["status"] == "failed"
    assert_readable(run["reason"])
    assert streamed[-1][0] == "failed"
    assert streamed[-1][1]["reason"] == run["reason"]
    listed = body(client.get(f"/api/v1/agents/{agent_id}/test-runs"))["items"]
    assert [(r["id"], r["status"]) for r in listed] == [(str(run_id), "failed")]
    assert body(client.post(f"/api/v1/agents/{agent_id}/test-runs/{run_id}/cancel"), 409)


REFUSED_NOTES = "notes the store of this installation refuses"
REFUSES_NOTES = ("publisher.versions", f"NEW.notes = '{REFUSED_NOTES}'")


def publish_command(
    agent_id: uuid.UUID, publish_id: uuid.UUID, notes: str = REFUSED_NOTES
) -> PublishVersionV1:
    return PublishVersionV1(
        publish_id=publish_id,
        agent_id=agent_id,
        compilation_id=uuid.uuid4(),
        spec_revision=1,
        spec={"persona": {"role": "support agent"}},
        instructions="You answer questions.",
        notes=notes,
        force=True,
        reason="shipping without a run",
        min_pass_rate=1.0,
        published_by=uuid.uuid4(),
        owner_id=uuid.uuid4(),
    )


def test_a_publish_and_a_channel_move_dead_lettered_fail_with_a_reason(stack: Stack) -> None:
    client = stack.new_user()
    agent_id, publish_id, move_id = new_agent(client), uuid.uuid4(), uuid.uuid4()
    with refused_by_store(stack, *REFUSES_NOTES):
        record(
            stack,
            publish_command(agent_id, publish_id),
            lambda s: PublishRepository(s).add(id=publish_id, agent_id=agent_id, kind="publish"),
        )
        published = settled(client, f"/api/v1/agents/{agent_id}/publishes/{publish_id}")
    move = MoveChannelV1(
        move_id=move_id,
        agent_id=agent_id,
        channel="production",
        version=INT4_PAST_MAX,
        moved_by=uuid.uuid4(),
    )
    record(
        stack,
        move,
        lambda s: PublishRepository(s).add(
            id=move_id, agent_id=agent_id, kind="move", channel="production", version=1
        ),
    )

    moved = settled(client, f"/api/v1/agents/{agent_id}/publishes/{move_id}")

    for seen, kind in ((published, "publish"), (moved, "channel move")):
        assert seen["status"] == "failed", seen
        assert_readable(seen["reason"])
        assert f"this {kind} could not" in seen["reason"]
        assert "the publisher" in seen["reason"]


def test_an_import_whose_versions_are_dead_lettered_fails_with_a_reason(stack: Stack) -> None:
    client = stack.new_user()
    agent_id, import_id = new_agent(client), uuid.uuid4()
    summary = publish_command(agent_id, uuid.uuid4())
    version = VersionDetail(
        agent_id=agent_id,
        number=1,
        compilation_id=summary.compilation_id,
        test_run_id=None,
        spec_revision=1,
        notes=summary.notes,
        forced=False,
        force_reason=None,
        overridden=None,
        published_by=summary.published_by,
        published_at=datetime.now(UTC),
        spec=summary.spec,
        instructions=summary.instructions,
        variables=[],
        settings=summary.settings,
    )
    command = ImportAgentVersionsV1(
        import_id=import_id, agent_id=agent_id, owner_id=uuid.uuid4(), versions=[version], moves=[]
    )
    with refused_by_store(stack, *REFUSES_NOTES):
        record(
            stack,
            command,
            lambda s: PublishRepository(s).add(id=import_id, agent_id=agent_id, kind="import"),
        )
        seen = settled(client, f"/api/v1/agents/{agent_id}/publishes/{import_id}")

    assert (seen["kind"], seen["status"]) == ("import", "failed")
    assert_readable(seen["reason"])
    assert "this import of versions could not" in seen["reason"]


def test_a_redelivered_dead_letter_changes_nothing(stack: Stack) -> None:
    client = stack.new_user()
    agent_id, publish_id = new_agent(client), uuid.uuid4()
    url = f"/api/v1/agents/{agent_id}/publishes/{publish_id}"
    with refused_by_store(stack, *REFUSES_NOTES):
        record(
            stack,
            publish_command(agent_id, publish_id),
            lambda s: PublishRepository(s).add(id=publish_id, agent_id=agent_id, kind="publish"),
        )
        first = settled(client, url)
    assert first["status"] == "failed"
    dead_letters = subjects.DEAD_LETTER.full_name(stack.root)
    durable = subjects.GATEWAY_DEAD_LETTERS.name

    message_id = asyncio.run(redeliver_last(stack, dead_letters))
    infra.wait_until_consumed(stack.nats_url, dead_letters, durable)

    again = body(client.get(url))
    assert again == first
    claims = infra.query(
        stack.database_url,
        "SELECT consumer FROM gateway.processed_messages WHERE message_id = :id",
        id=message_id,
    )
    assert [row[0] for row in claims] == [durable]  # applied once, the copy skipped


async def redeliver_last(stack: Stack, stream: str) -> uuid.UUID:
    """The newest publish dead letter, stored again as a new message (a redelivered copy);
    returns the id of the command inside."""
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        original = subjects.PUBLISH_VERSION.full(stack.root)
        subject = subjects.DEAD_LETTER.subject_for(original, stack.root)
        last = await js.get_last_msg(stream, subject)
        headers = {**(last.headers or {}), "Nats-Msg-Id": f"again-{uuid.uuid4()}"}
        await js.publish(subject, last.data or b"", headers=headers, stream=stream)
        return uuid.UUID(json.loads(last.data or b"{}")["id"])
    finally:
        await nc.close()


REFUSED_REASON = "a reason the store of this installation refuses"


def test_a_channel_move_the_publisher_can_never_apply_answers_failed(stack: Stack) -> None:
    client = stack.new_user()
    agent_id, publish_id = new_agent(client), uuid.uuid4()
    command = publish_command(agent_id, publish_id, notes="first")
    record(
        stack,
        command,
        lambda s: PublishRepository(s).add(id=publish_id, agent_id=agent_id, kind="publish"),
    )
    assert settled(client, f"/api/v1/agents/{agent_id}/publishes/{publish_id}")["status"] == "done"

    with refused_by_store(stack, "publisher.channel_history", f"NEW.reason = '{REFUSED_REASON}'"):
        moved = client.put(
            f"/api/v1/agents/{agent_id}/channels/production",
            json={"version": 1, "reason": REFUSED_REASON},
            timeout=30,
        )

    assert moved.status_code == 409, moved.text
    assert moved.json()["status"] == "failed"
    assert_readable(moved.json()["reason"])


def replay_dead_letter_naming(stack: Stack, subject: subjects.Subject, text: str) -> None:
    """As an operator does after the fix: find the dead letter whose body names `text`, and
    replay it with `studio dead-letters replay`."""
    listed = studio(stack, "list", "--json", "--limit", "1000", "--subject", subject.relative)
    assert listed.returncode == 0, listed.stderr
    sequences = [json.loads(line)["sequence"] for line in listed.stdout.splitlines()]
    naming = [seq for seq in sequences if text in studio(stack, "show", str(seq)).stdout]
    assert len(naming) == 1, (text, sequences)
    replayed = studio(stack, "replay", str(naming[0]))
    assert replayed.returncode == 0, replayed.stderr


def test_a_publish_failed_by_its_dead_letter_is_done_once_replayed_after_the_fix(
    stack: Stack,
) -> None:
    client = stack.new_user()
    agent_id, publish_id = new_agent(client), uuid.uuid4()
    url = f"/api/v1/agents/{agent_id}/publishes/{publish_id}"
    command = publish_command(agent_id, publish_id)
    with refused_by_store(stack, *REFUSES_NOTES):
        record(
            stack,
            command,
            lambda s: PublishRepository(s).add(id=publish_id, agent_id=agent_id, kind="publish"),
        )
        failed = settled(client, url)
        assert failed["status"] == "failed", failed
        assert_readable(failed["reason"])

    replay_dead_letter_naming(stack, subjects.PUBLISH_VERSION, str(publish_id))

    done = eventually(
        lambda: body(client.get(url)),
        lambda seen: seen["status"] != "failed",
        timeout=40,
        what="the replayed publish's outcome",
    )
    assert (done["status"], done["version"], done["reason"]) == ("done", 1, None), done
    versions = body(client.get(f"/api/v1/agents/{agent_id}/versions"))["items"]
    assert [v["number"] for v in versions] == [1]


def erasure_status(stack: Stack, accepted: dict[str, Any], until: Callable[[Any], bool]) -> Any:
    headers = {"Authorization": f"Bearer {accepted['status_token']}"}
    return eventually(
        lambda: body(httpx.get(stack.gateway_url + accepted["status_url"], headers=headers)),
        until,
        timeout=40,
        what="the erasure's status",
    )


def test_an_erasure_whose_command_is_dead_lettered_fails_then_completes_once_replayed(
    stack: Stack,
) -> None:
    email = f"erased-{uuid.uuid4().hex[:10]}@example.com"
    token = stack.new_token(email)
    ((user_id,),) = infra.query(
        stack.database_url, "SELECT id FROM gateway.users WHERE email = :email", email=email
    )
    with refused_by_store(stack, "compiler.erased_owners", f"NEW.owner_id = '{user_id}'"):
        accepted = erase(stack, token)
        failed = erasure_status(stack, accepted, lambda seen: seen["status"] != "erasing")

        assert (failed["status"], failed["completed_at"]) == ("failed", None), failed
        by_service = {s["service"]: s for s in failed["services"]}
        compiler = by_service.pop("compiler")
        assert (compiler["erased_parts"], compiler["failed_parts"]) == (0, 1)
        assert_readable(compiler["reason"])
        assert "this erasure could not be carried out: the compiler" in compiler["reason"]
        assert all(s["reason"] is None and s["failed_parts"] == 0 for s in by_service.values())

    replay_dead_letter_naming(stack, subjects.ERASE_COMPILATIONS, accepted["id"])

    done = erasure_status(stack, accepted, lambda seen: seen["status"] != "failed")
    assert done["status"] == "completed", done
    assert done["completed_at"] is not None
    assert [
        (s["service"], s["erased_parts"], s["failed_parts"], s["reason"]) for s in done["services"]
    ] == [
        ("compiler", 1, 0, None),
        ("test-runner", 1, 0, None),
        ("publisher", 1, 0, None),
    ]

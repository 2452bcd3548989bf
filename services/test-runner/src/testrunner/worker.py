"""The test-runner's entrypoint: binds its consumers and its query to the handlers;
`migrate` applies its migrations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import Envelope
from contracts.runs import RunProgressV1, TestRunPausedV1, progress_subject
from contracts.subjects import (
    GET_TEST_RUN,
    TEST_RUNNER_ADD_RUN_CASES,
    TEST_RUNNER_CANCEL_TEST_RUN,
    TEST_RUNNER_DEAD_EXECUTIONS,
    TEST_RUNNER_ERASE_TEST_RUNS,
    TEST_RUNNER_EXECUTE_CASE,
    TEST_RUNNER_FAN_OUT_RUN,
    TEST_RUNNER_START_TEST_RUN,
)
from runtime import outbox
from runtime.ai import provider_from_settings
from runtime.cli import migrate_command
from runtime.dead_letter_consumer import DeadLetter, DeadLetterBinding
from runtime.erasure import unless_erased
from runtime.queries import QueryBinding
from runtime.retention import DAY, Retention
from runtime.service import AnyBinding, Binding, Service, serve
from runtime.staged import Recorded, Staged, StagedBinding
from testrunner import handlers
from testrunner.adapters.lookups import StoredLookups
from testrunner.executor import Executor
from testrunner.models import SCHEMA, erased_owners, metadata, response_cache
from testrunner.repository import ErasureRepository, RunRepository
from testrunner.settings import TestRunnerSettings

SERVICE = "test-runner"
MIGRATIONS = Path(__file__).parent / "migrations"


def bindings(service: Service) -> tuple[AnyBinding, ...]:
    settings = service.settings
    assert isinstance(settings, TestRunnerSettings)
    root = settings.nats_subject_root

    async def notify(notice: RunProgressV1) -> None:
        await service.nc.publish(
            progress_subject(root, notice.run_id), notice.model_dump_json().encode()
        )

    async def mark_paused(cause: Envelope[Any], paused: TestRunPausedV1) -> bool:
        async def pause(session: AsyncSession) -> bool:
            if not await RunRepository(session).mark_paused(paused.run_id, paused.reason):
                return False
            await outbox.add_caused(
                session, service.outbox, source=SERVICE, caused=[(cause, paused)]
            )
            return True

        return await service.write(pause)

    provider = provider_from_settings(settings)
    service.closers.append(provider.aclose)
    service.retention.append(
        Retention(response_cache, "created_at", settings.response_cache_retention_days * DAY)
    )
    executor = Executor(
        provider=provider,
        grader_model=settings.grader_model,
        lookups=StoredLookups(service.reader),
        mark_paused=mark_paused,
        notify=notify,
        pause_limit=settings.pause_limit_seconds,
        provider_attempts=settings.provider_attempts,
    )

    chunk_size = settings.fan_out_chunk

    async def on_start(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.handle_start_test_run(
            envelope.data,
            owner_id=envelope.owner_id,
            runs=RunRepository(session),
            chunk_size=chunk_size,
        )

    async def on_add_cases(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.handle_add_run_cases(
            envelope.data, runs=RunRepository(session), chunk_size=chunk_size
        )

    async def on_fan_out(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.handle_fan_out_run(
            envelope.data, runs=RunRepository(session), chunk_size=chunk_size
        )

    async def on_cancel(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.handle_cancel_test_run(envelope.data, runs=RunRepository(session))

    async def on_erase(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.handle_erase_test_runs(
            envelope.data, erasures=ErasureRepository(session)
        )

    async def on_executed(session: AsyncSession, staged: list[Staged]) -> Recorded:
        recorded = await handlers.handle_executions(
            [(s.envelope, s.value) for s in staged], runs=RunRepository(session)
        )
        for notice in recorded.notices:
            if notice.status != "paused":
                executor.resumed(notice.run_id)
        notices = recorded.notices

        async def announce() -> None:
            for notice in notices:
                await notify(notice)

        return Recorded(recorded.emitted, announce if notices else None)

    async def on_dead_execution(letter: DeadLetter, session: AsyncSession) -> list[BaseModel]:
        recorded = await handlers.handle_dead_execution(letter, runs=RunRepository(session))
        return [event for _, event in recorded.emitted]

    async def on_get_run(envelope: Envelope[Any]) -> BaseModel:
        async with service.reader() as session:
            return await handlers.answer_get_test_run(
                envelope.data, owner_id=envelope.owner_id, runs=RunRepository(session)
            )

    return (
        Binding(TEST_RUNNER_START_TEST_RUN, unless_erased(erased_owners, on_start)),
        Binding(TEST_RUNNER_ADD_RUN_CASES, unless_erased(erased_owners, on_add_cases)),
        Binding(TEST_RUNNER_FAN_OUT_RUN, unless_erased(erased_owners, on_fan_out)),
        Binding(TEST_RUNNER_CANCEL_TEST_RUN, unless_erased(erased_owners, on_cancel)),
        Binding(TEST_RUNNER_ERASE_TEST_RUNS, on_erase),
        StagedBinding(TEST_RUNNER_EXECUTE_CASE, executor.stage, on_executed),
        DeadLetterBinding(TEST_RUNNER_DEAD_EXECUTIONS, on_dead_execution),
        QueryBinding(GET_TEST_RUN, on_get_run),
    )


def main() -> None:
    if sys.argv[1:2] == ["migrate"]:
        migrate_command(SERVICE, TestRunnerSettings, MIGRATIONS, SCHEMA)
        return
    serve(SERVICE, TestRunnerSettings, metadata, bindings)

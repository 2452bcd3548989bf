"""Dead letters of the commands the gateway sent: the request each was sent for fails, with a
reason a person can read, so nothing waits for ever on an answer that will never come.

A worker dead-letters a command it can never apply (undecodable, refused for good, or failed on
every delivery: see docs/decisions/0003). The gateway reads the dead-letter stream back
(`gateway--dead_letters`) and settles the compilation, test run, publish, channel move or import
the command names. Only a request still waiting changes, and the inbox keys each dead letter by
the original command's id, so a redelivered dead letter changes nothing. A dead-lettered erasure
command marks its part of the erasure failed, until the part is erased after all.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from pydantic import BaseModel

from contracts.compiler import CompileAgentV1
from contracts.publishing import ImportAgentVersionsV1, MoveChannelV1, PublishVersionV1
from contracts.runs import AddRunCasesV1, FanOutRunV1, StartTestRunV1
from gateway.agents.repository import PENDING
from gateway.privacy.handlers import Erasures, handle_erase_dead_lettered
from gateway.publishing.repository import PublishRepository
from gateway.specs.repository import CompilationOutcomes
from gateway.testing.repository import TestRunRepository
from runtime.dead_letter_consumer import DeadLetter, readable_reason

log = structlog.get_logger()


async def handle_dead_letter(
    letter: DeadLetter,
    *,
    compilations: CompilationOutcomes,
    runs: TestRunRepository,
    requests: PublishRepository,
    erasures: Erasures,
) -> list[BaseModel]:
    """Fails the request a dead-lettered command was sent for, or the erasure's part; emits
    nothing.

    Idempotency key: the request id; only a request still pending (a run not yet finished) changes,
    and only an erasure's part not yet erased. A test-runner's own fan-out chunk fails its run.
    Dead letters of other messages (events; executions, which the test-runner records as `error`
    results) name no request here.
    """
    command = letter.envelope.data
    log.warning("dead_letter.received", subject=letter.subject, reason=letter.reason[:300])
    if await handle_erase_dead_lettered(
        command, readable_reason(letter, "erasure"), erasures=erasures
    ):
        return []
    if isinstance(command, CompileAgentV1):
        await compilations.complete(
            command.compilation_id,
            PENDING,
            status="failed",
            error=readable_reason(letter, "compilation"),
        )
    elif isinstance(command, StartTestRunV1 | AddRunCasesV1 | FanOutRunV1):
        # A dead-lettered fan-out chunk leaves its run's later executions unsent: the run could
        # never complete, so it fails here; replayed after a fix, the chunk goes on and the run's
        # completion takes over from `failed`.
        await runs.update_from_event(
            command.run_id,
            ("queued", "running", "paused"),
            status="failed",
            reason=readable_reason(letter, "test run"),
            finished_at=datetime.now(UTC),
        )
    elif isinstance(command, PublishVersionV1):
        await requests.complete(
            command.publish_id, PENDING, status="failed", reason=readable_reason(letter, "publish")
        )
    elif isinstance(command, MoveChannelV1):
        await requests.complete(
            command.move_id,
            PENDING,
            status="failed",
            reason=readable_reason(letter, "channel move"),
        )
    elif isinstance(command, ImportAgentVersionsV1) and command.import_id is not None:
        await requests.complete(
            command.import_id,
            PENDING,
            status="failed",
            reason=readable_reason(letter, "import of versions"),
        )
    return []

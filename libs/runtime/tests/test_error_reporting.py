"""What a failure leaves behind: a readable stack trace in the log, and for whoever asked, a reason
that names no internals (no exception class, no SQL)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from nats.aio.client import Client

from contracts.envelope import Envelope
from contracts.publishing import GetVersionV1
from contracts.subjects import GET_VERSION
from runtime import observability
from runtime.queries import QueryBinding, QueryFailed, answer, ask
from tests.support import infra

SQL_ERROR = (
    "(sqlalchemy.dialects.postgresql.asyncpg.Error) <class 'asyncpg.exceptions.DataError'>: "
    "invalid input for query argument $2: 2147483648 (value out of int32 range) "
    "[SQL: SELECT publisher.versions.number FROM publisher.versions WHERE number = $2::INTEGER]"
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The process's logging as it was before the test set it up."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
def test_a_standard_library_log_record_with_an_exception_has_a_readable_stack_trace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    observability.setup("test")  # in the test, so that it writes to the captured stdout
    try:
        raise ValueError("the reason")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")

    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "ASGI" in x]
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith("ValueError: the reason")
    assert "exc_info" not in line


async def test_a_query_that_fails_answers_a_reason_without_internals(nc: Client) -> None:
    async def failing(_envelope: Envelope[Any]) -> GetVersionV1:
        raise RuntimeError(SQL_ERROR)

    root = infra.new_root()
    correlation_id = uuid.uuid4()
    sub = await answer(
        nc, QueryBinding(GET_VERSION, failing), root=root, service="publisher", concurrency=1
    )
    try:
        with pytest.raises(QueryFailed) as caught:
            await ask(
                nc,
                GetVersionV1(agent_id=uuid.uuid4(), number=1),
                root=root,
                source="test",
                owner_id=None,
                correlation_id=correlation_id,
                timeout=5,
            )
    finally:
        await sub.unsubscribe()

    assert str(caught.value) == (
        "the publisher could not answer: an unexpected error, logged under correlation id "
        f"{correlation_id}"
    )

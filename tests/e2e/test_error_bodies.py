"""Errors never leak internals: an unexpected failure is a JSON 500 naming the request (the stack
trace is in the log, readable), and the connection it happened on stays usable."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from tests.support.fixtures import Stack

pytestmark = pytest.mark.e2e


def execute(database_url: str, sql: str) -> None:
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


def test_an_unexpected_failure_is_a_json_500_with_the_request_id_and_a_logged_stack_trace(
    isolated_stack: Callable[..., Stack],
) -> None:
    stack = isolated_stack()
    gateway = stack.start("gateway")
    token = stack.new_token()
    # A schema out of step with the code: every read of agents now fails inside the gateway.
    execute(stack.database_url, "ALTER TABLE gateway.agents RENAME TO agents_elsewhere")
    request_id = str(uuid.uuid4())
    with stack.client(token) as client:
        failed = client.get("/api/v1/agents", headers={"X-Request-Id": request_id})
        after = client.get("/healthz")  # the same keep-alive connection

    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/json"
    assert failed.headers["x-request-id"] == request_id
    assert failed.json() == {
        "error": {
            "code": "internal",
            "message": "something went wrong on our side; quote the request id if you report it",
            "request_id": request_id,
        }
    }
    assert after.status_code == 200
    lines = [json.loads(line) for line in gateway.log_text().splitlines() if line.startswith("{")]
    [logged] = [
        line
        for line in lines
        if line.get("event") == "gateway.request.failed"
        and line.get("correlation_id") == request_id
    ]
    assert logged["exception"].startswith("Traceback (most recent call last):")
    assert "agents" in logged["exception"]  # the database's own words, kept for the operator
    assert "<traceback object" not in gateway.log_text()

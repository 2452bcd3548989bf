"""The test-runner's tables, in its own `test_runner` schema.

A run is its snapshot (`runs` + `run_cases`), written once, and its results, one row per
execution (`results`, unique per case and repeat); the run row also keeps running counts so
the transaction that records the last execution knows it is the last.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from runtime.db import service_metadata
from runtime.erasure import erased_owners_table

SCHEMA = "test_runner"
metadata = service_metadata(SCHEMA)
# Users whose data was erased: their late messages write nothing (runtime/erasure.py).
erased_owners = erased_owners_table(metadata)

RUN_STATUSES = ("queued", "running", "paused", "completed", "cancelled")

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("agent_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("compilation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("owner_id", UUID(as_uuid=True), index=True),
    sa.Column("instructions", sa.Text, nullable=False),
    sa.Column("variables", JSONB, nullable=False),
    sa.Column("model", sa.Text),
    sa.Column("temperature", sa.Float),
    sa.Column("repeat", sa.Integer, nullable=False),
    sa.Column("cache", sa.Boolean, nullable=False),
    sa.Column("total_cases", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    # Executions emitted so far: the run fans out in chunks, each one transaction (FanOutRunV1).
    sa.Column("fanned_out", sa.Integer, nullable=False, server_default="0"),
    sa.Column("executed", sa.Integer, nullable=False, server_default="0"),
    # Executions by verdict: with repeat 1 these are the cases' live counts.
    sa.Column("executions_passed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("executions_failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("executions_errored", sa.Integer, nullable=False, server_default="0"),
    # Case verdicts, filled when the run completes (or is cancelled).
    sa.Column("passed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("errored", sa.Integer, nullable=False, server_default="0"),
    sa.Column("flaky", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("started_at", sa.TIMESTAMP(timezone=True)),
    sa.Column("finished_at", sa.TIMESTAMP(timezone=True)),
    sa.CheckConstraint(f"status IN {RUN_STATUSES!r}", name="status"),
)

run_cases = sa.Table(
    "run_cases",
    metadata,
    sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("case_index", sa.Integer, primary_key=True),
    sa.Column("case", JSONB, nullable=False),
)

results = sa.Table(
    "results",
    metadata,
    sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("case_index", sa.Integer, primary_key=True),
    sa.Column("repeat_index", sa.Integer, primary_key=True),
    sa.Column("test_case_id", UUID(as_uuid=True), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("pass", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("output", sa.Text),
    sa.Column("latency_ms", sa.Float),
    sa.Column("cached", sa.Boolean, nullable=False),
    # Written by the offline stand-in provider (no AI configured), not by a model.
    sa.Column("offline", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("prompt_tokens", sa.Integer, nullable=False),
    sa.Column("completion_tokens", sa.Integer, nullable=False),
    sa.Column("assertions", JSONB, nullable=False),
    sa.Column("named_scores", JSONB, nullable=False),
    sa.Column(
        "created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

response_cache = sa.Table(
    "response_cache",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("output", sa.Text, nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False),
    sa.Column("completion_tokens", sa.Integer, nullable=False),
    sa.Column("offline", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column(
        "created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Index("ix_response_cache_created_at", "created_at"),  # for the retention pruner
)

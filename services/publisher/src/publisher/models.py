"""The publisher's tables, in its own `publisher` schema.

Versions are immutable rows numbered per agent (the primary key makes a gap-free sequence
race-proof); channels point at versions and every move is appended to `channel_history`, never
edited. Imported versions and moves say so (`imported`): the importer is their author, the
export's claims are kept beside. `run_outcomes` keeps what the test-runner announced about each run, for the gate.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from runtime.db import service_metadata
from runtime.erasure import erased_owners_table

SCHEMA = "publisher"
metadata = service_metadata(SCHEMA)
# Users whose data was erased: their late messages write nothing (runtime/erasure.py).
erased_owners = erased_owners_table(metadata)


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
    )


run_outcomes = sa.Table(
    "run_outcomes",
    metadata,
    sa.Column("run_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("agent_id", UUID(as_uuid=True), nullable=False),
    sa.Column("compilation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("pass_rate", sa.Float),
    sa.Column("passed_cases", JSONB, nullable=False),
    sa.Column("failed_cases", JSONB, nullable=False),
    sa.Column("errored_cases", JSONB, nullable=False),
)

versions = sa.Table(
    "versions",
    metadata,
    sa.Column("agent_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("publish_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("owner_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("compilation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("test_run_id", UUID(as_uuid=True)),
    sa.Column("spec_revision", sa.Integer, nullable=False),
    sa.Column("spec", JSONB, nullable=False),
    sa.Column("instructions", sa.Text, nullable=False),
    sa.Column("variables", JSONB, nullable=False),
    sa.Column("settings", JSONB, nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("forced", sa.Boolean, nullable=False),
    sa.Column("force_reason", sa.Text),
    sa.Column("overridden", sa.Text),
    sa.Column("published_by", UUID(as_uuid=True), nullable=False),
    _timestamp("published_at"),
    # An imported version: who imported it and when, and what its export claimed (never trusted).
    sa.Column("imported", JSONB),
    sa.CheckConstraint("number >= 1", name="number_positive"),
)

channels = sa.Table(
    "channels",
    metadata,
    sa.Column("agent_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

channel_history = sa.Table(
    "channel_history",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("agent_id", UUID(as_uuid=True), nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("from_version", sa.Integer),
    sa.Column("to_version", sa.Integer, nullable=False),
    sa.Column("moved_by", UUID(as_uuid=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    _timestamp("moved_at"),
    sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("test_run_id", UUID(as_uuid=True)),
    # An imported entry (history only): who imported it and when, and what its export claimed.
    sa.Column("imported", JSONB),
    sa.Index("ix_channel_history_agent_channel_seq", "agent_id", "channel", sa.text("seq DESC")),
)

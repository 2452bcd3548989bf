"""The gateway's tables, in its own `gateway` schema: users, tokens, agents, specs, compilation views."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from runtime.db import service_metadata

SCHEMA = "gateway"
metadata = service_metadata(SCHEMA)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.TIMESTAMP(timezone=True),
        nullable=nullable,
        server_default=None if nullable else sa.func.now(),
    )


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("email", sa.Text, nullable=False, unique=True),
    _timestamp("created_at"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "user_id",
        UUID(as_uuid=True),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("token_hash", sa.LargeBinary, nullable=False, unique=True),
    sa.Column("token_prefix", sa.Text, nullable=False),
    _timestamp("created_at"),
    _timestamp("revoked_at", nullable=True),
    _timestamp("expires_at", nullable=True),
    # Refreshed at most once a minute, so authenticating is not a write per request.
    _timestamp("last_used_at", nullable=True),
)

# Sign-in links sent by mail: only the hash of the link's secret is kept; used once.
sign_in_links = sa.Table(
    "sign_in_links",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("token_hash", sa.LargeBinary, nullable=False, unique=True),
    _timestamp("created_at"),
    _timestamp("expires_at"),
    _timestamp("used_at", nullable=True),
)

# Browser sessions, found by the hash of the cookie's secret.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("secret_hash", sa.LargeBinary, nullable=False, unique=True),
    sa.Column(
        "user_id",
        UUID(as_uuid=True),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    _timestamp("created_at"),
    _timestamp("last_seen_at"),
    _timestamp("expires_at"),
    sa.Column("ip", sa.Text),
    sa.Column("user_agent", sa.Text),
    _timestamp("revoked_at", nullable=True),
)

# Mail waiting to go out: written in the request's transaction, sent after the commit and
# deleted once the SMTP server took it; a failed send is retried until `expires_at`.
mail_outbox = sa.Table(
    "mail_outbox",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    _timestamp("created_at"),
    _timestamp("next_attempt_at"),
    _timestamp("expires_at"),
    sa.Index("ix_mail_outbox_next_attempt", "next_attempt_at"),
)

# Append-only: a trigger (see the migration) refuses UPDATE, and DELETE unless the transaction
# says it erases a user's data. No foreign key: entries outlive sessions and failed attempts
# may name no user.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    _timestamp("occurred_at"),
    sa.Column("user_id", UUID(as_uuid=True)),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("ip", sa.Text),
    sa.Column("user_agent", sa.Text),
    sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Index("ix_audit_log_user_id", "user_id", sa.text("id DESC")),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "owner_id",
        UUID(as_uuid=True),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    # The publish gate's bar: a test run's pass rate below it refuses the publish.
    sa.Column("min_pass_rate", sa.Float, nullable=False, server_default="1.0"),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    sa.Index("ix_agents_owner_created", "owner_id", sa.text("created_at DESC"), sa.text("id DESC")),
)

specs = sa.Table(
    "specs",
    metadata,
    sa.Column(
        "agent_id",
        UUID(as_uuid=True),
        sa.ForeignKey("agents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("blocks", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    _timestamp("updated_at"),
)

# Every saved version of a spec, never edited: the history behind `revision`.
spec_revisions = sa.Table(
    "spec_revisions",
    metadata,
    sa.Column(
        "agent_id",
        UUID(as_uuid=True),
        sa.ForeignKey("agents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("blocks", JSONB, nullable=False),
    sa.Column("completeness", sa.Integer, nullable=False),
    sa.Column("author_id", UUID(as_uuid=True), nullable=False),
    _timestamp("created_at"),
)

# An agent's test cases (authoring data, promptfoo field names); runs take a snapshot of them.
test_cases = sa.Table(
    "test_cases",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    # Creation order, also for cases created in one statement (an import) that share a timestamp.
    sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
    sa.Column(
        "agent_id",
        UUID(as_uuid=True),
        sa.ForeignKey("agents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("description", sa.Text),
    sa.Column("input", sa.Text, nullable=False),
    sa.Column("vars", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("assertions", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("threshold", sa.Float),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    sa.Index("ix_test_cases_agent_seq", "agent_id", "seq"),
)

# The gateway's view of each compilation, kept up to date from the compiler's events.
compilations = sa.Table(
    "compilations",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "agent_id",
        UUID(as_uuid=True),
        sa.ForeignKey("agents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("spec_revision", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("instructions", sa.Text),
    sa.Column("sections", JSONB),
    sa.Column("spec_hash", sa.Text),
    sa.Column("compiler_version", sa.Text),
    sa.Column("variables", JSONB),
    sa.Column("token_count", sa.Integer),
    sa.Column("token_count_method", sa.Text),
    sa.Column("reused_from", UUID(as_uuid=True)),
    sa.Column("error", sa.Text),
    _timestamp("created_at"),
    _timestamp("completed_at", nullable=True),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
)

# The gateway's view of each test run: who may see it, and its outcome once the test-runner
# announces it. Results stay with the test-runner and are read through its query.
test_runs = sa.Table(
    "test_runs",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "agent_id",
        UUID(as_uuid=True),
        sa.ForeignKey("agents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("compilation_id", UUID(as_uuid=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="queued"),
    sa.Column("reason", sa.Text),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("repeat", sa.Integer, nullable=False),
    sa.Column("model", sa.Text),
    sa.Column("temperature", sa.Float),
    sa.Column("cache", sa.Boolean, nullable=False),
    sa.Column("passed", sa.Integer),
    sa.Column("failed", sa.Integer),
    sa.Column("errored", sa.Integer),
    sa.Column("flaky", sa.Integer),
    sa.Column("pass_rate", sa.Float),
    _timestamp("created_at"),
    _timestamp("finished_at", nullable=True),
    # When the last pause or resumption applied happened: those events may arrive out of order.
    _timestamp("paused_changed_at", nullable=True),
    sa.CheckConstraint(
        "status IN ('queued', 'running', 'paused', 'completed', 'cancelled', 'failed')",
        name="status",
    ),
    sa.Index("ix_test_runs_agent_created", "agent_id", sa.text("created_at DESC"), "id"),
)

# The gateway's view of each publish and channel move it asked for, kept from the publisher's
# events: what a client waits on after its 202.
publishes = sa.Table(
    "publishes",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "agent_id",
        UUID(as_uuid=True),
        sa.ForeignKey("agents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("channel", sa.Text),
    sa.Column("version", sa.Integer),
    sa.Column("seq", sa.BigInteger),
    sa.Column("reason", sa.Text),
    sa.Column("regressions", JSONB),
    _timestamp("created_at"),
    _timestamp("completed_at", nullable=True),
    sa.CheckConstraint("kind IN ('publish', 'move', 'import')", name="kind"),
    sa.CheckConstraint("status IN ('pending', 'done', 'refused', 'failed')", name="status"),
)

# A user's erasure (`DELETE /api/v1/me`): all the gateway keeps once the user is gone. No email, no
# name: the user's id (which no other row names any more, so a repeated request finds its
# erasure), the hash of the one-off token that reads the status, and the saga's progress.
erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("user_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("status_token_hash", sa.LargeBinary, nullable=False),
    _timestamp("requested_at"),
    _timestamp("completed_at", nullable=True),
)

# One row per command of the saga (a service's part), `erased_at` set by that service's event;
# `failure_reason` while its command is dead-lettered and the part not erased (ADR 0008).
erasure_parts = sa.Table(
    "erasure_parts",
    metadata,
    sa.Column(
        "erasure_id",
        UUID(as_uuid=True),
        sa.ForeignKey("erasures.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("parts", sa.Integer, nullable=False),
    _timestamp("erased_at", nullable=True),
    sa.Column("failure_reason", sa.Text, nullable=True),
)

"""The compiler's tables, in its own `compiler` schema."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from runtime.db import service_metadata
from runtime.erasure import erased_owners_table

SCHEMA = "compiler"
metadata = service_metadata(SCHEMA)
# Users whose data was erased: their late messages write nothing (runtime/erasure.py).
erased_owners = erased_owners_table(metadata)

compilations = sa.Table(
    "compilations",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("agent_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("spec_revision", sa.Integer, nullable=False),
    sa.Column("spec_hash", sa.Text, nullable=False),
    sa.Column("compiler_version", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("instructions", sa.Text),
    sa.Column("sections", JSONB),
    sa.Column("error", sa.Text),
    sa.Column("variables", JSONB),
    sa.Column("token_count", sa.Integer),
    sa.Column("token_count_method", sa.Text),
    sa.Column("reused_from", UUID(as_uuid=True)),
    sa.Column(
        "created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.CheckConstraint("status IN ('succeeded', 'failed')", name="status"),
    # Finds an identical spec's compilation to reuse.
    sa.Index(
        "ix_compilations_reusable",
        "spec_hash",
        "compiler_version",
        sa.text("created_at DESC"),
        postgresql_where=sa.text("status = 'succeeded'"),
    ),
)

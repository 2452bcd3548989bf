"""add_fan_out_cursor

A run is fanned out in chunks, each in its own transaction (`FanOutRunV1`): `fanned_out` counts
the executions emitted so far, so a redelivered chunk command emits nothing twice. Runs started
before this were fanned out whole.

Revision ID: 5b1e7d3c9a20
Revises: 7c2f0a9d41e6
Create Date: 2026-12-04 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5b1e7d3c9a20'
down_revision: str | None = '7c2f0a9d41e6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail the migration and retry instead.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column('runs', sa.Column('fanned_out', sa.Integer(), server_default='0', nullable=False),
                  schema='test_runner')
    op.execute("UPDATE test_runner.runs SET fanned_out = total_cases * repeat WHERE status <> 'queued'")


def downgrade() -> None:
    op.drop_column('runs', 'fanned_out', schema='test_runner')

"""imported_history: imported versions and channel moves are labelled, their claims kept apart;
forced moves, and the run that cleared a move, are recorded

Revision ID: 8e41c7a2d903
Revises: 1305240f79c3
Create Date: 2026-12-04 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '8e41c7a2d903'
down_revision: str | None = '1305240f79c3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail the migration and retry instead.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column('versions', sa.Column('imported', postgresql.JSONB(astext_type=sa.Text()), nullable=True), schema='publisher')
    op.add_column('channel_history', sa.Column('forced', sa.Boolean(), server_default=sa.text('false'), nullable=False), schema='publisher')
    op.add_column('channel_history', sa.Column('test_run_id', sa.UUID(), nullable=True), schema='publisher')
    op.add_column('channel_history', sa.Column('imported', postgresql.JSONB(astext_type=sa.Text()), nullable=True), schema='publisher')


def downgrade() -> None:
    op.drop_column('channel_history', 'imported', schema='publisher')
    op.drop_column('channel_history', 'test_run_id', schema='publisher')
    op.drop_column('channel_history', 'forced', schema='publisher')
    op.drop_column('versions', 'imported', schema='publisher')

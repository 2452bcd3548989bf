"""add_offline_flag

A result (and a cached answer) says whether the offline stand-in wrote it rather than a model, so
the API and the UI can label it. Existing rows were written before the flag: false.

Revision ID: 7c2f0a9d41e6
Revises: 39e8224bb7e3
Create Date: 2026-12-04 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '7c2f0a9d41e6'
down_revision: str | None = '39e8224bb7e3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail the migration and retry instead.
    op.execute("SET LOCAL lock_timeout = '5s'")
    # A constant default: PostgreSQL adds the column without rewriting the table.
    for table in ('results', 'response_cache'):
        op.add_column(table, sa.Column('offline', sa.Boolean(), server_default=sa.false(), nullable=False),
                      schema='test_runner')


def downgrade() -> None:
    for table in ('results', 'response_cache'):
        op.drop_column(table, 'offline', schema='test_runner')

"""failed_erasure_parts: why a part of an erasure failed (its command was dead-lettered), until it
is erased

Revision ID: 8b3e5d1c7a24
Revises: 2d99603acbda
Create Date: 2026-12-04 09:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '8b3e5d1c7a24'
down_revision: str | None = '2d99603acbda'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail the migration and retry instead.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column('erasure_parts', sa.Column('failure_reason', sa.Text(), nullable=True), schema='gateway')


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_column('erasure_parts', 'failure_reason', schema='gateway')

"""inbox_pruning_index

Revision ID: 2d99603acbda
Revises: 3f0c2d9a7b15
Create Date: 2026-12-04 08:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '2d99603acbda'
down_revision: str | None = '3f0c2d9a7b15'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Built concurrently, outside a transaction: the inbox is written on every message,
    # and a plain CREATE INDEX would hold its writes for as long as the build takes.
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.create_index('ix_processed_messages_processed_at', 'processed_messages', ['processed_at'], unique=False, schema='gateway',
                        postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index('ix_processed_messages_processed_at', table_name='processed_messages', schema='gateway',
                      postgresql_concurrently=True, if_exists=True)

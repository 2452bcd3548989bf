"""inbox_pruning_index

Revision ID: a30cf5d49196
Revises: 8e41c7a2d903
Create Date: 2026-12-04 08:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'a30cf5d49196'
down_revision: str | None = '8e41c7a2d903'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Built concurrently, outside a transaction: the inbox is written on every message,
    # and a plain CREATE INDEX would hold its writes for as long as the build takes.
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.create_index('ix_processed_messages_processed_at', 'processed_messages', ['processed_at'], unique=False, schema='publisher',
                        postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index('ix_processed_messages_processed_at', table_name='processed_messages', schema='publisher',
                      postgresql_concurrently=True, if_exists=True)

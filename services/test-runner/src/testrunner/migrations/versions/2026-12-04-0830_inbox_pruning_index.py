"""inbox_pruning_index

Revision ID: 39e8224bb7e3
Revises: 3b1431a0c9bf
Create Date: 2026-12-04 08:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '39e8224bb7e3'
down_revision: str | None = '3b1431a0c9bf'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Built concurrently, outside a transaction: the inbox and the response cache are written
    # as messages are handled, and a plain CREATE INDEX would hold those writes for the build.
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = '5s'")
        op.create_index('ix_processed_messages_processed_at', 'processed_messages', ['processed_at'], unique=False, schema='test_runner',
                        postgresql_concurrently=True, if_not_exists=True)
        op.create_index('ix_response_cache_created_at', 'response_cache', ['created_at'], unique=False, schema='test_runner',
                        postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index('ix_processed_messages_processed_at', table_name='processed_messages', schema='test_runner',
                      postgresql_concurrently=True, if_exists=True)
        op.drop_index('ix_response_cache_created_at', table_name='response_cache', schema='test_runner',
                      postgresql_concurrently=True, if_exists=True)

"""failed_requests: a request whose command was dead-lettered is failed (runs, publishes, moves,
imports), and an import's versions are tracked as a request of their own

Revision ID: 3f0c2d9a7b15
Revises: e6b849706c98
Create Date: 2026-12-04 08:10:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '3f0c2d9a7b15'
down_revision: str | None = 'e6b849706c98'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail the migration and retry instead.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_constraint(op.f('ck_test_runs_status'), 'test_runs', schema='gateway', type_='check')
    op.create_check_constraint(op.f('ck_test_runs_status'), 'test_runs', "status IN ('queued', 'running', 'paused', 'completed', 'cancelled', 'failed')", schema='gateway')
    op.drop_constraint(op.f('ck_publishes_status'), 'publishes', schema='gateway', type_='check')
    op.create_check_constraint(op.f('ck_publishes_status'), 'publishes', "status IN ('pending', 'done', 'refused', 'failed')", schema='gateway')
    op.drop_constraint(op.f('ck_publishes_kind'), 'publishes', schema='gateway', type_='check')
    op.create_check_constraint(op.f('ck_publishes_kind'), 'publishes', "kind IN ('publish', 'move', 'import')", schema='gateway')


def downgrade() -> None:
    op.execute("UPDATE gateway.test_runs SET status = 'cancelled' WHERE status = 'failed'")
    op.execute("UPDATE gateway.publishes SET status = 'refused' WHERE status = 'failed'")
    op.execute("DELETE FROM gateway.publishes WHERE kind = 'import'")
    op.drop_constraint(op.f('ck_publishes_kind'), 'publishes', schema='gateway', type_='check')
    op.create_check_constraint(op.f('ck_publishes_kind'), 'publishes', "kind IN ('publish', 'move')", schema='gateway')
    op.drop_constraint(op.f('ck_publishes_status'), 'publishes', schema='gateway', type_='check')
    op.create_check_constraint(op.f('ck_publishes_status'), 'publishes', "status IN ('pending', 'done', 'refused')", schema='gateway')
    op.drop_constraint(op.f('ck_test_runs_status'), 'test_runs', schema='gateway', type_='check')
    op.create_check_constraint(op.f('ck_test_runs_status'), 'test_runs', "status IN ('queued', 'running', 'paused', 'completed', 'cancelled')", schema='gateway')

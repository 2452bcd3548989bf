"""identity: sign-in links, sessions, mail outbox, audit log, token expiry and last use

Revision ID: 3f1d2a7c9b40
Revises: 69ba8985e218
Create Date: 2026-12-04 08:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '3f1d2a7c9b40'
down_revision: str | None = '69ba8985e218'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Never wait long for a lock on a live table: fail the migration and retry instead.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('occurred_at', sa.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('ip', sa.Text(), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    schema='gateway'
    )
    op.create_index('ix_audit_log_user_id', 'audit_log', ['user_id', sa.literal_column('id DESC')], unique=False, schema='gateway')
    op.create_table('mail_outbox',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('recipient', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('next_attempt_at', sa.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_outbox')),
    schema='gateway'
    )
    op.create_index('ix_mail_outbox_next_attempt', 'mail_outbox', ['next_attempt_at'], unique=False, schema='gateway')
    op.create_table('sessions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('secret_hash', sa.LargeBinary(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_seen_at', sa.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('ip', sa.Text(), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('revoked_at', sa.TIMESTAMP(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['gateway.users.id'], name=op.f('fk_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_sessions_secret_hash')),
    schema='gateway'
    )
    op.create_index(op.f('ix_gateway_sessions_user_id'), 'sessions', ['user_id'], unique=False, schema='gateway')
    op.create_table('sign_in_links',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.TIMESTAMP(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('used_at', sa.TIMESTAMP(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_sign_in_links_token_hash')),
    schema='gateway'
    )
    op.add_column('api_tokens', sa.Column('expires_at', sa.TIMESTAMP(timezone=True), nullable=True), schema='gateway')
    op.add_column('api_tokens', sa.Column('last_used_at', sa.TIMESTAMP(timezone=True), nullable=True), schema='gateway')
    # The audit log is append-only: no UPDATE ever, and DELETE only from a transaction that
    # declares it erases a user's data (SET LOCAL gateway.audit_erasure = 'on').
    op.execute("""
        CREATE FUNCTION gateway.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE'
               AND coalesce(current_setting('gateway.audit_erasure', true), '') = 'on' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$
    """)
    op.execute("""
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON gateway.audit_log
        FOR EACH ROW EXECUTE FUNCTION gateway.audit_log_append_only()
    """)
    op.execute("""
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON gateway.audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION gateway.audit_log_append_only()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_no_truncate ON gateway.audit_log")
    op.execute("DROP TRIGGER audit_log_append_only ON gateway.audit_log")
    op.execute("DROP FUNCTION gateway.audit_log_append_only()")
    op.drop_column('api_tokens', 'last_used_at', schema='gateway')
    op.drop_column('api_tokens', 'expires_at', schema='gateway')
    op.drop_table('sign_in_links', schema='gateway')
    op.drop_index(op.f('ix_gateway_sessions_user_id'), table_name='sessions', schema='gateway')
    op.drop_table('sessions', schema='gateway')
    op.drop_index('ix_mail_outbox_next_attempt', table_name='mail_outbox', schema='gateway')
    op.drop_table('mail_outbox', schema='gateway')
    op.drop_index('ix_audit_log_user_id', table_name='audit_log', schema='gateway')
    op.drop_table('audit_log', schema='gateway')

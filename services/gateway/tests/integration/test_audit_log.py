"""The audit log on a real database: entries are appended, never changed or removed."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from gateway.audit.repository import AuditRepository, ClientInfo
from gateway.models import audit_log
from runtime import db

pytestmark = pytest.mark.integration


async def test_audit_entries_cannot_be_updated_deleted_or_truncated(database_url: str) -> None:
    engine = db.create_engine(database_url, pool_size=1)
    user_id = uuid.uuid4()
    try:
        async with db.create_sessionmaker(engine).begin() as session:
            await AuditRepository(session).append(
                user_id, "sign_in", ClientInfo("10.0.0.1", "curl/8"), session_id="s"
            )
        tampering = (
            sa.update(audit_log).where(audit_log.c.user_id == user_id).values(action="nothing"),
            sa.delete(audit_log).where(audit_log.c.user_id == user_id),
            sa.text("TRUNCATE gateway.audit_log"),
        )
        for statement in tampering:
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(statement)

        async with db.create_sessionmaker(engine)() as session:
            (entry,) = await AuditRepository(session).list_page(user_id, 10, None)
        assert (entry.action, entry.ip, entry.user_agent) == ("sign_in", "10.0.0.1", "curl/8")
        assert entry.details == {"session_id": "s"}
    finally:
        await engine.dispose()


async def test_erasing_a_users_data_may_delete_their_entries(database_url: str) -> None:
    engine = db.create_engine(database_url, pool_size=1)
    user_id = uuid.uuid4()
    try:
        async with db.create_sessionmaker(engine).begin() as session:
            await AuditRepository(session).append(user_id, "sign_in", ClientInfo(None, None))
        async with engine.begin() as conn:
            await conn.execute(sa.text("SET LOCAL gateway.audit_erasure = 'on'"))
            deleted = await conn.execute(sa.delete(audit_log).where(audit_log.c.user_id == user_id))
        assert deleted.rowcount == 1
    finally:
        await engine.dispose()

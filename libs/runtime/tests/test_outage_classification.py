"""Which failures say a dependency is unreachable (held and retried) and which are the handler's."""

from __future__ import annotations

import nats.errors
import psycopg
import psycopg.errors
import pytest
import sqlalchemy.exc

from runtime.outages import backoff, is_unreachable


def _dbapi(cls: type[sqlalchemy.exc.DBAPIError], *, invalidated: bool = False) -> Exception:
    return cls("SELECT 1", None, Exception("driver"), connection_invalidated=invalidated)


def _caused_by(cause: Exception) -> Exception:
    try:
        raise RuntimeError("while applying") from cause
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    "exc",
    [
        _dbapi(sqlalchemy.exc.OperationalError),
        _dbapi(sqlalchemy.exc.InterfaceError),
        _dbapi(sqlalchemy.exc.ProgrammingError, invalidated=True),
        sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
        psycopg.OperationalError("consuming input failed: server closed the connection"),
        psycopg.InterfaceError("the connection is closed"),
        ConnectionRefusedError(111, "Connection refused"),
        nats.errors.TimeoutError(),
        nats.errors.ConnectionClosedError(),
        _caused_by(ConnectionResetError()),
    ],
    ids=repr,
)
def test_unreachable_dependencies(exc: Exception) -> None:
    assert is_unreachable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        TimeoutError(),  # the handler's own time limit: a hung handler is its failure
        _dbapi(sqlalchemy.exc.IntegrityError),
        _dbapi(sqlalchemy.exc.DataError),
        psycopg.errors.UniqueViolation("duplicate key"),
        psycopg.errors.InvalidTextRepresentation("bad uuid"),
        ValueError("bad input"),
        _caused_by(KeyError("x")),
    ],
    ids=repr,
)
def test_the_handlers_own_failures(exc: Exception) -> None:
    assert not is_unreachable(exc)


def test_the_backoff_doubles_up_to_its_bound() -> None:
    assert [backoff(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert backoff(10_000) == 15.0

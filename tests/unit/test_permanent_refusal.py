"""The one classifier of PostgreSQL refusals: permanent ones make an order a dead letter,
everything else is retried as before."""

from __future__ import annotations

import asyncpg
import pytest

from engine.persistence import PERMANENT_REASONS, permanent_refusal


def refusal(cls: type[asyncpg.PostgresError], table: str | None = None) -> BaseException:
    exc = cls("refused")
    exc.table_name = table  # type: ignore[attr-defined]  # set by asyncpg from the server
    return exc


def every_postgres_error() -> list[type[asyncpg.PostgresError]]:
    found, todo = [], [asyncpg.PostgresError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if getattr(cls, "sqlstate", None):
            found.append(cls)
    return found


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (refusal(asyncpg.ForeignKeyViolationError, "orders"), "customer_missing"),
        (refusal(asyncpg.ForeignKeyViolationError, "tickets"), "foreign_key_violation"),
        (refusal(asyncpg.CheckViolationError, "orders"), "check_violation"),
        (refusal(asyncpg.NotNullViolationError, "order_lines"), "not_null_violation"),
        (refusal(asyncpg.RestrictViolationError), "restrict_violation"),
        (refusal(asyncpg.NumericValueOutOfRangeError), "invalid_data"),
        (refusal(asyncpg.InvalidTextRepresentationError), "invalid_data"),
        # a seat resold after a cancellation whose void has not landed yet: it clears
        (refusal(asyncpg.UniqueViolationError, "tickets"), None),
        (refusal(asyncpg.SerializationError), None),
        (refusal(asyncpg.DeadlockDetectedError), None),
        (refusal(asyncpg.LockNotAvailableError), None),
        (refusal(asyncpg.QueryCanceledError), None),
        (refusal(asyncpg.AdminShutdownError), None),
        (refusal(asyncpg.TooManyConnectionsError), None),
        (refusal(asyncpg.DiskFullError), None),
        (asyncpg.ConnectionDoesNotExistError("lost"), None),
        (asyncpg.InterfaceError("closed"), None),
        (ConnectionResetError(), None),
        (TimeoutError(), None),
        (RuntimeError("anything else"), None),
    ],
)
def test_classifies_each_refusal(exc: BaseException, reason: str | None) -> None:
    assert permanent_refusal(exc) == reason


def test_only_integrity_and_data_errors_are_permanent() -> None:
    for cls in every_postgres_error():
        reason = permanent_refusal(refusal(cls))
        assert reason is None or reason in PERMANENT_REASONS
        if reason is not None:
            assert cls.sqlstate[:2] in ("22", "23"), cls
            assert cls.sqlstate != "23505", cls
        if cls.sqlstate[:2] in ("08", "40", "53", "55", "57", "58"):
            assert reason is None, cls

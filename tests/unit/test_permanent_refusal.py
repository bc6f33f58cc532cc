"""The one classifier of PostgreSQL failures (engine/store/pg_failures.py): unreachable,
refused for now, refused for good (a dead letter); and the backoff policy of engine/failures.py."""

from __future__ import annotations

import asyncpg
import pytest

from engine.failures import PERMANENT_REASONS, REFUSED_BACKOFF, Backoff, Failure
from engine.store.pg_failures import classify, expected, permanent_refusal


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


def every_asyncpg_error() -> list[type[Exception]]:
    found: list[type[Exception]] = []
    todo: list[type[Exception]] = [asyncpg.PostgresError, asyncpg.InterfaceError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        found.append(cls)
    return found


def kind_by_sqlstate(exc: BaseException) -> Failure:
    """What PostgreSQL's SQLSTATE classes say: 08 is a connection exception and 57P03 a
    server not accepting connections yet; 22 (data exception) and the integrity violations
    other than unique_violation are for good; the rest may clear."""
    state = getattr(exc, "sqlstate", None) or ""
    if state.startswith("08") or state == "57P03":
        return Failure.UNREACHABLE
    if state.startswith("22") or state in ("23503", "23514", "23502", "23001"):
        return Failure.REFUSED_FOR_GOOD
    return Failure.REFUSED


def test_every_asyncpg_error_has_one_kind() -> None:
    classes = every_asyncpg_error()
    assert len(classes) > 200  # the walk reached the whole tree
    for cls in classes:
        exc = refusal(cls, "tickets") if issubclass(cls, asyncpg.PostgresError) else cls("x")
        kind = classify(exc)
        assert kind is kind_by_sqlstate(exc), cls
        assert (kind is Failure.REFUSED_FOR_GOOD) == (permanent_refusal(exc) is not None), cls
        assert expected(exc) == (kind is not Failure.REFUSED_FOR_GOOD), cls


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ConnectionRefusedError(), Failure.UNREACHABLE),
        (ConnectionResetError(), Failure.UNREACHABLE),
        (OSError("network unreachable"), Failure.UNREACHABLE),
        (TimeoutError(), Failure.UNREACHABLE),
        (asyncpg.ConnectionDoesNotExistError("lost"), Failure.UNREACHABLE),
        (asyncpg.CannotConnectNowError("starting up"), Failure.UNREACHABLE),
        (refusal(asyncpg.DeadlockDetectedError), Failure.REFUSED),
        (refusal(asyncpg.UniqueViolationError, "tickets"), Failure.REFUSED),
        (refusal(asyncpg.AdminShutdownError), Failure.REFUSED),
        (asyncpg.InterfaceError("connection is closed"), Failure.REFUSED),
        (asyncpg.DataError("invalid input for query argument"), Failure.REFUSED_FOR_GOOD),
        (refusal(asyncpg.ForeignKeyViolationError, "orders"), Failure.REFUSED_FOR_GOOD),
        (refusal(asyncpg.NumericValueOutOfRangeError), Failure.REFUSED_FOR_GOOD),
        (RuntimeError("a bug"), None),
        (KeyError("status"), None),
    ],
)
def test_classifies_each_failure(exc: BaseException, kind: Failure | None) -> None:
    assert classify(exc) is kind
    assert expected(exc) == (kind in (Failure.UNREACHABLE, Failure.REFUSED))


def test_refused_orders_back_off_from_one_second_to_a_minute() -> None:
    delays = [REFUSED_BACKOFF.after(None)]
    for _ in range(8):
        delays.append(REFUSED_BACKOFF.after(delays[-1]))
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert [REFUSED_BACKOFF.nth(n) for n in range(1, 9)] == delays[:8]


def test_backoff_counts_failures_from_one() -> None:
    backoff = Backoff(first_s=0.5, factor=2.0, cap_s=8.0)
    assert [backoff.nth(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff.after(None) == 0.5
    assert Backoff(first_s=10.0, factor=2.0, cap_s=3.0).after(None) == 3.0

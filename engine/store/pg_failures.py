"""The one classifier of PostgreSQL failures (asyncpg's exceptions) into the kinds of
engine/failures.py: unreachable, refused for now, refused for good. Every caller that
catches a PostgreSQL error asks here: the Persister (through its order store), the worker's
batcher, jobs and sync loop."""

from __future__ import annotations

import asyncpg

from engine.failures import Failure

# SQLSTATEs whose refusal no retry can change: the rows the order needs are gone or its
# values break a rule of the schema. Not among them: unique_violation (23505), since a seat
# resold after a cancellation is refused until the cancellation's void lands, and every
# connection, serialization, deadlock, resource or shutdown error.
PERMANENT_SQLSTATES = {
    "23503": "foreign_key_violation",
    "23514": "check_violation",
    "23502": "not_null_violation",
    "23001": "restrict_violation",
}

# the server could not be reached, or the connection to it was lost: class 08 (connection
# exception), cannot_connect_now (57P03, starting up or in recovery), the socket's own errors
UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
)
# asyncpg's own errors (a closed connection or pool, a value it cannot encode) and every
# error the server sends
DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError)


def classify(exc: BaseException) -> Failure | None:
    """The kind of this PostgreSQL failure, or None when it is not one (a bug: callers log
    it in full)."""
    if isinstance(exc, UNREACHABLE):
        return Failure.UNREACHABLE
    if not isinstance(exc, DATABASE_ERRORS):
        return None
    if permanent_refusal(exc) is not None:
        return Failure.REFUSED_FOR_GOOD
    return Failure.REFUSED


def permanent_refusal(exc: BaseException) -> str | None:
    """Why PostgreSQL will refuse this order however often it is retried (one of
    engine.failures.PERMANENT_REASONS), or None when a retry may succeed."""
    state = getattr(exc, "sqlstate", None)
    if not isinstance(state, str):
        return None
    if state == "23503" and getattr(exc, "table_name", None) == "orders":
        return "customer_missing"  # orders' only foreign key: orders.customer_id -> users
    if state.startswith("22"):  # data exception: a value the column cannot take
        return "invalid_data"
    return PERMANENT_SQLSTATES.get(state)


def expected(exc: BaseException) -> bool:
    """PostgreSQL is unreachable or refused for now: a retry may succeed, so the caller logs
    a line and retries rather than a traceback."""
    return classify(exc) in (Failure.UNREACHABLE, Failure.REFUSED)

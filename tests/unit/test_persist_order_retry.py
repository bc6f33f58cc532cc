"""`persist_order` turns a failure a retry may clear into ARQ's Retry, growing the delay with
each try, and lets any other error fail the job (with its traceback in the log)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from arq import Retry

from workers.persist_batcher import NotPersisted
from workers.tasks import persist_order


class FailingBatcher:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def submit(self, order_id: str) -> None:
        raise self.exc


def ctx_failing(exc: Exception, job_try: int = 1) -> dict[str, Any]:
    return {"persist_batcher": FailingBatcher(exc), "job_try": job_try}


@pytest.mark.parametrize(
    "exc",
    [
        NotPersisted("o1"),
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.ConnectionDoesNotExistError("lost"),
        asyncpg.CannotConnectNowError("starting up"),
        asyncpg.InterfaceError("pool is closing"),
        asyncpg.DeadlockDetectedError("deadlock"),
        asyncpg.SerializationError("could not serialize"),
        asyncpg.TooManyConnectionsError("too many clients"),
    ],
)
async def test_a_failure_that_may_clear_is_retried(exc: Exception) -> None:
    with pytest.raises(Retry):
        await persist_order(ctx_failing(exc), "o1")


@pytest.mark.parametrize(
    "exc", [asyncpg.CheckViolationError("refused for good"), RuntimeError("a bug")]
)
async def test_any_other_error_fails_the_job(exc: Exception) -> None:
    with pytest.raises(type(exc)):
        await persist_order(ctx_failing(exc), "o1")


async def test_retries_wait_longer_each_try_up_to_30_seconds() -> None:
    delays = []
    for job_try in range(1, 8):
        with pytest.raises(Retry) as raised:
            await persist_order(ctx_failing(NotPersisted("o1"), job_try), "o1")
        delays.append(raised.value.defer_score)
    assert delays == [2000, 4000, 8000, 16000, 30000, 30000, 30000]

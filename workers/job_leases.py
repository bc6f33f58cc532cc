"""Leases on persist_order jobs: a worker persists a whole batch of paid orders without
running one ARQ job per order, and never an order whose job another worker is running.

A lease is ARQ's own in-progress key (`arq:in-progress:<order id>`), taken only if absent,
so ARQ and the batches exclude each other exactly as ARQ workers exclude each other. Taking
a lease takes the job off the job queue; finishing deletes the job as ARQ does after a success
(no results are kept); releasing puts it back, due after a delay. A worker killed while it
holds leases leaves them to lapse, and their orders to the outbox: the sync loop takes over
leases older than a few seconds on orders the outbox has held too long.

The scripts are in lua/job_queue/ and run on the job queue's Redis (standalone, as ARQ requires).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Sequence

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from engine import keys as redis_keys
from engine.store.scripts import load_script


def _script(redis: Redis, name: str) -> AsyncScript:
    return load_script(redis, f"job_queue/{name}", ())


class JobLeases:
    def __init__(
        self,
        job_queue: Redis,
        lease_ms: int,
        stale_ms: int,
        job_queue_name: str = redis_keys.ARQ_QUEUE,
    ) -> None:
        self._job_queue = job_queue
        self._job_queue_name = job_queue_name
        self._lease_ms = lease_ms  # ARQ's in-progress lease, so a lease's age reads the same
        self._stale_ms = stale_ms
        self.owner = f"batch:{os.getpid()}:{secrets.token_hex(4)}"
        self._lease = _script(job_queue, "lease")
        self._finish = _script(job_queue, "finish")
        self._release = _script(job_queue, "release")

    async def lease(self, candidates: Sequence[tuple[str, bool]], want: int) -> list[str]:
        """Lease up to `want` of these orders' jobs, in order; (order id, may take over a
        stale lease). Returns the orders leased."""
        if not candidates or want <= 0:
            return []
        keys = [self._job_queue_name, *(redis_keys.arq_in_progress(o) for o, _ in candidates)]
        args: list[str | int] = [self.owner, self._lease_ms, self._stale_ms, want]
        for order_id, take_over in candidates:
            args += [order_id, "1" if take_over else "0"]
        leased = await self._lease(keys=keys, args=args)
        return [c.decode() if isinstance(c, bytes) else str(c) for c in leased]

    async def finish(self, order_ids: Iterable[str]) -> None:
        ids = list(order_ids)
        if not ids:
            return
        keys = [self._job_queue_name]
        for order_id in ids:
            keys += [
                redis_keys.arq_in_progress(order_id),
                redis_keys.arq_job(order_id),
                redis_keys.arq_retry(order_id),
            ]
        await self._finish(keys=keys, args=[self.owner, *ids])

    async def release(self, order_ids: Iterable[str], delay_ms: int) -> None:
        ids = list(order_ids)
        if not ids:
            return
        keys = [self._job_queue_name]
        for order_id in ids:
            keys += [redis_keys.arq_in_progress(order_id), redis_keys.arq_job(order_id)]
        await self._release(keys=keys, args=[self.owner, delay_ms, *ids])

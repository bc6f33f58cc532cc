"""Claims on persist_order jobs: a worker persists a whole batch of paid orders without
running one ARQ job per order, and never an order whose job another worker is running.

A claim is ARQ's own in-progress key (`arq:in-progress:<order id>`), taken only if absent,
so ARQ and the batches exclude each other exactly as ARQ workers exclude each other. Taking
a claim takes the job off the queue; finishing deletes the job as ARQ does after a success
(no results are kept); releasing puts it back, due after a delay. A worker killed while it
holds claims leaves them to lapse, and their orders to the outbox: the sync loop takes over
claims older than a few seconds on orders the outbox has held too long.

The scripts are in lua/queue/ and run on the queue Redis (standalone, as ARQ requires).
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
    return load_script(redis, f"queue/{name}", ())


class JobClaims:
    def __init__(
        self,
        queue: Redis,
        lease_ms: int,
        stale_ms: int,
        queue_name: str = redis_keys.ARQ_QUEUE,
    ) -> None:
        self._queue = queue
        self._queue_name = queue_name
        self._lease_ms = lease_ms  # ARQ's in-progress lease, so a claim's age reads the same
        self._stale_ms = stale_ms
        self.owner = f"batch:{os.getpid()}:{secrets.token_hex(4)}"
        self._claim = _script(queue, "claim")
        self._finish = _script(queue, "finish")
        self._release = _script(queue, "release")

    async def claim(self, candidates: Sequence[tuple[str, bool]], want: int) -> list[str]:
        """Claim up to `want` of these orders' jobs, in order; (order id, may take over a
        stale claim). Returns the orders claimed."""
        if not candidates or want <= 0:
            return []
        keys = [self._queue_name, *(redis_keys.arq_in_progress(o) for o, _ in candidates)]
        args: list[str | int] = [self.owner, self._lease_ms, self._stale_ms, want]
        for order_id, take_over in candidates:
            args += [order_id, "1" if take_over else "0"]
        claimed = await self._claim(keys=keys, args=args)
        return [c.decode() if isinstance(c, bytes) else str(c) for c in claimed]

    async def finish(self, order_ids: Iterable[str]) -> None:
        ids = list(order_ids)
        if not ids:
            return
        keys = [self._queue_name]
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
        keys = [self._queue_name]
        for order_id in ids:
            keys += [redis_keys.arq_in_progress(order_id), redis_keys.arq_job(order_id)]
        await self._release(keys=keys, args=[self.owner, delay_ms, *ids])

"""The API's side of the job queue: enqueue `persist_order` with the order id as job id.

Payments that meet while a call is in flight are queued together (engine/store/coalescing.py)
in one call of lua/job_queue/enqueue.lua, which stores each job as ARQ's `enqueue_job` does
(ARQ's serializer, its expiry, skipped when the job or its result already exists), so the
jobs of a burst of payments cost one round trip, not three each.
"""

from __future__ import annotations

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import serialize_job
from arq.utils import timestamp_ms

from engine import keys
from engine.store.coalescing import Coalescer
from engine.store.scripts import load_script

PERSIST_ORDER = "persist_order"
MAX_BATCH = 256
MAX_IN_FLIGHT = 4


class ArqJobQueue:
    def __init__(self, pool: ArqRedis) -> None:
        self._pool = pool
        self._enqueue = load_script(pool, "job_queue/enqueue", ())
        self._coalescer: Coalescer[str, str, None] = Coalescer(
            self._enqueue_batch, MAX_BATCH, MAX_IN_FLIGHT
        )

    @classmethod
    async def connect(cls, job_queue_redis_url: str) -> ArqJobQueue:
        return cls(await create_pool(RedisSettings.from_dsn(job_queue_redis_url)))

    async def persist_paid(self, order_id: str) -> None:
        # a job with this id already queued means the order is already on its way
        await self._coalescer.submit(keys.ARQ_QUEUE, order_id)

    async def _enqueue_batch(self, queue: str, batch: list[str]) -> list[None]:
        order_ids = list(dict.fromkeys(batch))  # the same order twice: one job
        enqueued_ms = timestamp_ms()
        job_keys: list[str] = [queue]
        args: list[str | int | bytes] = [self._pool.expires_extra_ms, enqueued_ms]
        for order_id in order_ids:
            job_keys += [keys.arq_job(order_id), keys.arq_result(order_id)]
            job = serialize_job(
                PERSIST_ORDER,
                (order_id,),
                {},
                None,
                enqueued_ms,
                serializer=self._pool.job_serializer,
            )
            args += [order_id, job]
        await self._enqueue(keys=job_keys, args=args)
        return [None] * len(batch)

    async def close(self) -> None:
        await self._pool.aclose()

"""The API's side of the job queue: enqueue `persist_order` with the order id as job id."""

from __future__ import annotations

from arq.connections import ArqRedis, RedisSettings, create_pool

PERSIST_ORDER = "persist_order"


class ArqJobQueue:
    def __init__(self, pool: ArqRedis) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, job_queue_redis_url: str) -> ArqJobQueue:
        return cls(await create_pool(RedisSettings.from_dsn(job_queue_redis_url)))

    async def persist_paid(self, order_id: str) -> None:
        # a job with this id already queued means the order is already on its way
        await self._pool.enqueue_job(PERSIST_ORDER, order_id, _job_id=order_id)

    async def close(self) -> None:
        await self._pool.aclose()

"""The API's persist jobs (workers/job_queue.py): the jobs of payments that meet are queued in
one call, stored as ARQ's own enqueue_job stores them, once per order."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from arq.jobs import deserialize_job

from engine import keys
from engine.store.resources import Resources
from workers.job_queue import PERSIST_ORDER, ArqJobQueue


async def test_jobs_of_concurrent_payments_are_queued_once_each_as_arq_stores_them(
    resources: Resources,
) -> None:
    queue = await ArqJobQueue.connect(resources.settings.job_queue_redis_url)
    redis = queue._pool
    try:
        order_ids = [f"1-{secrets.token_hex(10)}" for _ in range(3)]
        finished = f"1-{secrets.token_hex(10)}"
        await redis.set(keys.arq_result(finished), b"done", px=60_000)  # ARQ kept its result
        calls: list[list[str]] = []
        script = queue._enqueue

        async def counted(keys: list[str], args: list[Any]) -> Any:
            calls.append(keys)
            return await script(keys=keys, args=args)

        queue._enqueue = counted  # type: ignore[assignment]
        await asyncio.gather(*(queue.persist_paid(o) for o in [*order_ids, order_ids[0], finished]))
        assert len(calls) == 1  # one call for the five that met: four orders, one twice
        assert len(calls[0]) == 1 + 2 * 4

        for order_id in order_ids:
            assert await redis.zscore(keys.ARQ_QUEUE, order_id) is not None
            job = deserialize_job(await redis.get(keys.arq_job(order_id)))
            assert (job.function, job.args, job.kwargs) == (PERSIST_ORDER, (order_id,), {})
            assert 0 < await redis.pttl(keys.arq_job(order_id)) <= redis.expires_extra_ms
        assert await redis.zscore(keys.ARQ_QUEUE, finished) is None
        assert not await redis.exists(keys.arq_job(finished))

        again = await redis.get(keys.arq_job(order_ids[1]))
        await queue.persist_paid(order_ids[1])  # already queued: left as it is
        assert await redis.get(keys.arq_job(order_ids[1])) == again
    finally:
        await queue.close()

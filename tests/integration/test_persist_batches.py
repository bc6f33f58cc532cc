"""Paid orders persisted in batches drained from the outbox: one persist_order job brings
the event's backlog with it, the batch leases those orders' jobs first (ARQ's in-progress
key), and deletes them once their orders are completed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import default_queue_name, in_progress_key_prefix, job_key_prefix

from engine import keys
from engine.orders import EventClaim
from engine.persistence import Persister
from engine.principal import Principal
from engine.settings import get_settings
from engine.store.redis_order_log import RedisOrderLog
from engine.store.resources import Resources
from tests.concurrency.engine_client import claim, create_customers, engine_orders
from tests.conftest import Actor
from tests.pg_refusals import TransientRefusal
from tests.sale_setup import open_sale
from workers.job_leases import JobLeases
from workers.job_queue import ArqJobQueue
from workers.persist_batcher import PersistBatcher
from workers.tasks import IN_PROGRESS_MS, LEASE_STALE_MS

pytestmark = pytest.mark.cluster


@pytest.fixture
async def arq() -> AsyncIterator[ArqRedis]:
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(get_settings().job_queue_redis_url))
    yield pool
    await pool.aclose()


@pytest.fixture
async def batcher(resources: Resources, arq: ArqRedis) -> AsyncIterator[PersistBatcher]:
    order_log = RedisOrderLog(resources.redis, resources.scripts)
    persister = Persister(order_log, resources.order_store, resources.gate_keys())
    leases = JobLeases(arq, IN_PROGRESS_MS, LEASE_STALE_MS)
    batcher = PersistBatcher(persister, order_log, leases, max_batch=40, first_batch=10)
    batcher.start()
    yield batcher
    await batcher.stop()


async def paid_with_jobs(
    resources: Resources, partner_id: int, count: int
) -> tuple[int, list[str]]:
    """`count` one-seat orders, paid, each with its persist_order job enqueued."""
    sale = await open_sale(resources, partner_id, seats=count)
    customers = await create_customers(resources.pool, count)
    queue = await ArqJobQueue.connect(get_settings().job_queue_redis_url)
    orders = engine_orders(resources, queue)  # type: ignore[arg-type]
    ids = []
    for customer, seat in zip(customers, sale.seat_ids, strict=True):
        order_id = await claim(orders, customer, [EventClaim(sale.event_id, [seat])])
        await orders.pay(Principal(customer, "customer"), order_id, "tok_visa")
        ids.append(order_id)
    await queue.close()
    return sale.event_id, ids


async def statuses(resources: Resources, order_ids: list[str]) -> dict[str, Any]:
    rows = await resources.pool.fetch(
        """SELECT o.id, o.status,
                  (SELECT count(*) FROM order_status_history h
                    WHERE h.order_id = o.id AND h.status = 'completed') AS completions,
                  (SELECT count(*) FROM tickets t WHERE t.order_id = o.id) AS tickets
             FROM orders o WHERE o.id = ANY($1)""",
        order_ids,
    )
    return {r["id"]: (r["status"], r["completions"], r["tickets"]) for r in rows}


async def wait_completed(resources: Resources, order_ids: list[str], within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done = await statuses(resources, order_ids)
        if len(done) == len(order_ids) and all(s[0] == "completed" for s in done.values()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not completed in {within}s: {await statuses(resources, order_ids)}")


async def test_one_job_brings_the_event_backlog_and_the_other_jobs_are_deleted(
    resources: Resources, partner: Actor, arq: ArqRedis, batcher: PersistBatcher
) -> None:
    event_id, ids = await paid_with_jobs(resources, partner.id, 120)
    first = ids[0]
    # what ARQ does before it runs persist_order(first): the job is now in progress here
    await arq.psetex(in_progress_key_prefix + first, IN_PROGRESS_MS, b"1")
    await batcher.submit(first)
    await wait_completed(resources, ids)
    assert set((await statuses(resources, ids)).values()) == {("completed", 1, 1)}
    await arq.delete(in_progress_key_prefix + first)  # ARQ's finish_job, for the job it ran
    outbox = keys.event_key(event_id, "outbox")
    assert await resources.redis.zcard(outbox) == 0
    queued = await arq.zmscore(default_queue_name, ids[1:])
    assert queued == [None] * (len(ids) - 1)
    assert not await arq.exists(*(job_key_prefix + o for o in ids[1:]))
    assert not await arq.exists(*(in_progress_key_prefix + o for o in ids[1:]))
    documents = await resources.redis.hmget(keys.event_key(event_id, "orders"), ids)
    assert all(b'"status":"completed"' in doc for doc in documents)


async def test_a_live_lease_is_left_alone_and_a_dead_workers_lease_taken_over(
    resources: Resources, partner: Actor, arq: ArqRedis, batcher: PersistBatcher
) -> None:
    event_id, (held, abandoned, free) = await paid_with_jobs(resources, partner.id, 3)
    # another worker's batch has just leased `held`; a worker killed 20 s ago left `abandoned`
    await arq.set(in_progress_key_prefix + held, "batch:other", px=IN_PROGRESS_MS)
    await arq.set(in_progress_key_prefix + abandoned, "batch:dead", px=IN_PROGRESS_MS - 20_000)
    await arq.zrem(default_queue_name, held, abandoned)
    order_log = RedisOrderLog(resources.redis, resources.scripts)
    batcher.drain(event_id, stuck_before_ms=await order_log.server_time_ms() + 1)
    await wait_completed(resources, [abandoned, free])
    assert await statuses(resources, [held]) == {}
    assert await arq.get(in_progress_key_prefix + held) == b"batch:other"
    assert not await arq.exists(in_progress_key_prefix + abandoned, job_key_prefix + abandoned)
    # the other worker's batch, done: its order leaves nothing behind for later tests
    await arq.delete(in_progress_key_prefix + held)
    batcher.drain(event_id)
    await wait_completed(resources, [held])


async def test_an_order_postgres_refuses_waits_and_the_rest_of_its_batch_is_written(
    resources: Resources, partner: Actor, arq: ArqRedis, batcher: PersistBatcher
) -> None:
    event_id, ids = await paid_with_jobs(resources, partner.id, 25)
    doomed = ids[7]
    refusal = TransientRefusal(resources.pool, doomed)
    await refusal.start()
    try:
        batcher.drain(event_id)
        rest = [o for o in ids if o != doomed]
        await wait_completed(resources, rest)
        assert set((await statuses(resources, rest)).values()) == {("completed", 1, 1)}
        assert await statuses(resources, [doomed]) == {}
        # its job is back on the queue, due soon, for a later try; the outbox still has it
        assert await arq.zscore(default_queue_name, doomed) is not None
        assert await arq.exists(job_key_prefix + doomed)
        assert not await arq.exists(in_progress_key_prefix + doomed)
        assert await resources.redis.zscore(keys.event_key(event_id, "outbox"), doomed)
    finally:
        await refusal.stop()
    # PostgreSQL takes it now: a try once its put-off lapses writes it
    for _ in range(40):
        batcher.drain(event_id)
        if await statuses(resources, [doomed]):
            break
        await asyncio.sleep(0.5)
    await wait_completed(resources, [doomed])
    assert await statuses(resources, [doomed]) == {doomed: ("completed", 1, 1)}

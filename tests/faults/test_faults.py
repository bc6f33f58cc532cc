"""Faults: killed workers, an API killed after payment, a PostgreSQL outage, Redis flushed.
Every paid order still ends `completed` exactly once, and Redis can be rebuilt."""

from __future__ import annotations

import asyncio
import sys

import pytest

from engine import keys
from engine.orders import EventClaim
from engine.principal import Principal
from engine.settings import ROOT, get_settings
from engine.store.resources import Resources
from tests.concurrency.engine_client import claim, create_customers, engine_orders
from tests.conftest import Actor
from tests.faults.tcp_proxy import PostgresProxy
from tests.faults.worker_process import (
    forget_started,
    kill,
    start_worker,
    wait_for_status,
    wait_until_started,
)
from tests.sale_setup import open_sale, reconcile
from workers.job_queue import ArqJobQueue

pytestmark = pytest.mark.cluster


async def paid_orders(resources: Resources, partner_id: int, count: int) -> list[str]:
    """`count` single-seat orders, claimed and paid, with persist_order jobs enqueued."""
    sale = await open_sale(resources, partner_id, seats=count)
    customers = await create_customers(resources.pool, count)
    queue = await ArqJobQueue.connect(get_settings().job_queue_redis_url)
    orders = engine_orders(resources, queue)  # type: ignore[arg-type]
    ids = await asyncio.gather(
        *(
            claim(orders, c, [EventClaim(sale.event_id, [seat])])
            for c, seat in zip(customers, sale.seat_ids, strict=True)
        )
    )
    await asyncio.gather(
        *(
            orders.pay(Principal(c, "customer"), order_id, "tok_visa")
            for c, order_id in zip(customers, ids, strict=True)
        )
    )
    await queue.close()
    return list(ids)


async def assert_completed_exactly_once(resources: Resources, order_ids: list[str]) -> None:
    rows = await resources.pool.fetch(
        """SELECT o.id, o.status,
                  (SELECT count(*) FROM tickets t WHERE t.order_id = o.id) AS tickets,
                  (SELECT count(*) FROM order_status_history h
                    WHERE h.order_id = o.id AND h.status = 'completed') AS completions
             FROM orders o WHERE o.id = ANY($1)""",
        order_ids,
    )
    assert len(rows) == len(order_ids)
    assert {(r["status"], r["tickets"], r["completions"]) for r in rows} == {("completed", 1, 1)}


async def test_worker_killed_mid_batch_then_restarted(resources: Resources, partner: Actor) -> None:
    order_ids = await paid_orders(resources, partner.id, 400)
    worker = start_worker()
    try:
        while await wait_for_status(resources.pool, order_ids, "completed", 0.05) < 20:
            pass
    finally:
        kill(worker)
    done = await wait_for_status(resources.pool, order_ids, "completed", 0)
    assert done < len(order_ids), "the worker finished before it could be killed mid-batch"
    restarted = start_worker()
    try:
        assert await wait_for_status(resources.pool, order_ids, "completed", 60) == len(order_ids)
    finally:
        kill(restarted)
    await assert_completed_exactly_once(resources, order_ids)


async def test_api_killed_between_confirm_and_enqueue(resources: Resources, partner: Actor) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    (customer,) = await create_customers(resources.pool, 1)
    order_id = await claim(
        engine_orders(resources), customer, [EventClaim(sale.event_id, sale.seat_ids)]
    )
    died = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.faults.pay_then_die",
        order_id,
        str(customer),
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await died.communicate()
    assert died.returncode == 3, stderr.decode()
    assert await resources.redis.zscore(keys.event_key(sale.event_id, "outbox"), order_id)
    worker = start_worker()
    try:
        assert await wait_for_status(resources.pool, [order_id], "completed", 30) == 1
    finally:
        kill(worker)
    await assert_completed_exactly_once(resources, [order_id])


async def test_postgres_outage_during_payments(resources: Resources, partner: Actor) -> None:
    proxy = PostgresProxy(get_settings().database_url)
    await forget_started(resources.job_queue_redis)
    worker = start_worker(DATABASE_URL=await proxy.start())
    try:
        # cut only once the worker is up: one cut during its start-up stops it for good
        await wait_until_started(resources.job_queue_redis)
        await proxy.cut()
        order_ids = await paid_orders(resources, partner.id, 50)
        await asyncio.sleep(10)
        assert await wait_for_status(resources.pool, order_ids, "completed", 0) == 0
        await proxy.restore()
        assert await wait_for_status(resources.pool, order_ids, "completed", 60) == 50
    finally:
        kill(worker)
        await proxy.stop()
    await assert_completed_exactly_once(resources, order_ids)


async def test_redis_flushed_then_rehydrated_from_postgres(
    resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=10, pools=(10,))
    customers = await create_customers(resources.pool, 3)
    queue_orders = engine_orders(resources)
    bought = [
        await claim(queue_orders, customers[0], [EventClaim(sale.event_id, sale.seat_ids[:3])]),
        await claim(
            queue_orders, customers[1], [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 4})]
        ),
    ]
    for customer, order_id in zip(customers, bought, strict=False):
        await queue_orders.pay(Principal(customer, "customer"), order_id, "tok_visa")
    held = await claim(queue_orders, customers[2], [EventClaim(sale.event_id, [sale.seat_ids[5]])])
    from engine.persistence import Persister
    from engine.store.redis_order_log import RedisOrderLog

    persister = Persister(
        RedisOrderLog(resources.redis, resources.scripts),
        resources.order_store,
        resources.gate_keys(),
    )
    await persister.persist([*bought, held])
    await resources.redis.flushdb()
    drift = await reconcile(resources, sale.event_id)
    assert not drift.hydrated
    assert drift.counts_after is not None
    assert (drift.counts_after.available, drift.counts_after.held, drift.counts_after.sold) == (
        13,
        0,
        7,
    )
    assert drift.lost_reservations_expired == 1
    retaken = await claim(
        queue_orders, customers[2], [EventClaim(sale.event_id, [sale.seat_ids[0]])]
    )
    assert retaken == "seat_unavailable"
    assert "-" in await claim(
        queue_orders, customers[2], [EventClaim(sale.event_id, [sale.seat_ids[5]])]
    )
    status = await resources.pool.fetchval("SELECT status FROM orders WHERE id = $1", held)
    assert status == "expired"


async def test_a_completed_order_is_cancelled_as_before_after_redis_lost_its_data(
    resources: Resources, partner: Actor
) -> None:
    """Hydration puts back what a completed order bought; its document comes back from
    PostgreSQL when the customer cancels, so the cancellation frees the seat at once and the
    worker writes it (tickets void, payment kept) as it would have before the loss."""
    from engine.persistence import Persister
    from engine.store.redis_order_log import RedisOrderLog

    sale = await open_sale(resources, partner.id, seats=2)
    customer, later = await create_customers(resources.pool, 2)
    buyer = Principal(customer, "customer")
    orders = engine_orders(resources)
    order_id = await claim(orders, customer, [EventClaim(sale.event_id, sale.seat_ids[:1])])
    await orders.pay(buyer, order_id, "tok_visa")
    order_log = RedisOrderLog(resources.redis, resources.scripts)
    persister = Persister(order_log, resources.order_store, resources.gate_keys())
    assert await persister.persist([order_id]) == 1
    before = await resources.pool.fetchrow(
        "SELECT status, payment_ref, paid_at FROM orders WHERE id = $1", order_id
    )
    assert before["status"] == "completed" and before["payment_ref"]

    await resources.redis.delete(*keys.event_keys(sale.event_id))  # Redis lost the event
    await reconcile(resources, sale.event_id)
    seats = keys.event_key(sale.event_id, "seats")
    assert await resources.redis.hget(seats, str(sale.seat_ids[0])) == f"s:{order_id}".encode()

    cancelled = await orders.cancel(buyer, order_id)
    assert cancelled.status == "cancelled"
    assert [h.status for h in cancelled.history] == ["reserved", "paid", "completed", "cancelled"]
    assert await resources.redis.hget(seats, str(sale.seat_ids[0])) == b"a"
    assert "-" in await claim(orders, later, [EventClaim(sale.event_id, sale.seat_ids[:1])])

    changed = await order_log.changed_orders(sale.event_id, 500)
    assert order_id in changed
    await persister.persist(changed, include_paid=False)
    after = await resources.pool.fetchrow(
        "SELECT status, payment_ref, paid_at FROM orders WHERE id = $1", order_id
    )
    assert dict(after) == {**dict(before), "status": "cancelled"}
    tickets = await resources.pool.fetch("SELECT status FROM tickets WHERE order_id = $1", order_id)
    assert [t["status"] for t in tickets] == ["void"]
    history = await resources.pool.fetch(
        "SELECT status FROM order_status_history WHERE order_id = $1"
        " ORDER BY at, order_status_rank(status)",
        order_id,
    )
    assert [h["status"] for h in history] == ["reserved", "paid", "completed", "cancelled"]

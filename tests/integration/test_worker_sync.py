"""The worker's background round: sweep lapsed holds, write changes and refusals to
PostgreSQL, and re-enqueue paid orders the outbox still holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool

from engine import keys
from engine.failures import REFUSED_BACKOFF
from engine.orders import EventClaim
from engine.persistence import Persister
from engine.principal import Principal
from engine.reconcile import reconcile_all
from engine.settings import get_settings
from engine.store.pg_orders import PgOrderRepair
from engine.store.redis_order_log import RedisOrderLog
from engine.store.resources import Resources
from tests.concurrency.engine_client import (
    RecordingJobQueue,
    claim,
    create_customers,
    engine_orders,
)
from tests.conftest import Actor
from tests.pg_refusals import TransientRefusal
from tests.sale_setup import open_sale
from workers.tasks import sync_round

pytestmark = pytest.mark.cluster


@pytest.fixture
async def worker_ctx(resources: Resources) -> AsyncIterator[dict[str, Any]]:
    arq: ArqRedis = await create_pool(RedisSettings.from_dsn(get_settings().job_queue_redis_url))
    order_log = RedisOrderLog(resources.redis, resources.scripts)
    persister = Persister(order_log, resources.order_store, resources.gate_keys())
    yield {"resources": resources, "order_log": order_log, "persister": persister, "redis": arq}
    await arq.aclose()


async def order_status(resources: Resources, order_id: str) -> str | None:
    status: str | None = await resources.pool.fetchval(
        "SELECT status FROM orders WHERE id = $1", order_id
    )
    return status


async def test_sweeper_expires_unpaid_holds_and_records_history(
    resources: Resources, partner: Actor, worker_ctx: dict[str, Any]
) -> None:
    sale = await open_sale(resources, partner.id, seats=2, hold_seconds=1)
    (customer,) = await create_customers(resources.pool, 1)
    order_id = await claim(
        engine_orders(resources), customer, [EventClaim(sale.event_id, sale.seat_ids)]
    )
    await sync_round(worker_ctx, sweep=True)
    assert await order_status(resources, order_id) == "reserved"
    await asyncio.sleep(1.1)
    await sync_round(worker_ctx, sweep=True)
    assert await order_status(resources, order_id) == "expired"
    history = await resources.pool.fetch(
        "SELECT status, reason FROM order_status_history WHERE order_id = $1 ORDER BY at", order_id
    )
    assert [(h["status"], h["reason"]) for h in history] == [
        ("reserved", None),
        ("expired", "hold_expired"),
    ]
    counts = await resources.redis.hmget(keys.event_key(sale.event_id, "counts"), "a", "h", "s")
    assert [int(c) for c in counts] == [2, 0, 0]
    assert await resources.redis.zcard(keys.event_key(sale.event_id, "changes")) == 0


async def test_refusals_are_written_with_reason_customer_and_items(
    resources: Resources, partner: Actor, worker_ctx: dict[str, Any]
) -> None:
    sale = await open_sale(resources, partner.id, pools=(1,))
    first, second = await create_customers(resources.pool, 2)
    orders = engine_orders(resources)
    want = [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 1})]
    assert "-" in await claim(orders, first, want)
    assert await claim(orders, second, want) == "sold_out"
    await sync_round(worker_ctx, sweep=False)
    rows = await resources.pool.fetch(
        "SELECT customer_id, reason, requested FROM purchase_refusals WHERE event_id = $1",
        sale.event_id,
    )
    assert [(r["customer_id"], r["reason"]) for r in rows] == [(second, "sold_out")]
    assert str(sale.pool_ids[0]) in rows[0]["requested"]
    assert await resources.redis.xlen(keys.event_key(sale.event_id, "refusals")) == 0


async def test_outbox_reconciler_reenqueues_paid_orders_never_enqueued(
    resources: Resources, partner: Actor, worker_ctx: dict[str, Any]
) -> None:
    """An API crash between confirm and enqueue: the outbox still has the paid order."""
    sale = await open_sale(resources, partner.id, seats=1)
    (customer,) = await create_customers(resources.pool, 1)
    lost_queue = RecordingJobQueue()  # stands for an API that died before enqueueing
    orders = engine_orders(resources, lost_queue)
    order_id = await claim(orders, customer, [EventClaim(sale.event_id, sale.seat_ids)])
    await orders.pay(Principal(customer, "customer"), order_id, "tok_visa")
    arq: ArqRedis = worker_ctx["redis"]
    await arq.delete(f"arq:job:{order_id}")
    outbox = keys.event_key(sale.event_id, "outbox")
    await resources.redis.zadd(outbox, {order_id: 1})  # paid long enough ago
    await sync_round(worker_ctx, sweep=False)
    assert await arq.exists(f"arq:job:{order_id}") == 1
    await worker_ctx["persister"].persist([order_id])
    assert await order_status(resources, order_id) == "completed"
    assert await resources.redis.zscore(outbox, order_id) is None


async def test_partner_sales_report_counts_everything(
    client: Any,
    resources: Resources,
    partner: Actor,
    other_partner: Actor,
    worker_ctx: dict[str, Any],
) -> None:
    sale = await open_sale(resources, partner.id, seats=3, price_cents=2500)
    buyers = await create_customers(resources.pool, 3)
    queue = RecordingJobQueue()
    orders = engine_orders(resources, queue)
    paid = await claim(orders, buyers[0], [EventClaim(sale.event_id, [sale.seat_ids[0]])])
    await orders.pay(Principal(buyers[0], "customer"), paid, "tok_visa")
    held = await claim(orders, buyers[1], [EventClaim(sale.event_id, [sale.seat_ids[1]])])
    assert await claim(orders, buyers[2], [EventClaim(sale.event_id, [sale.seat_ids[1]])]) == (
        "seat_unavailable"
    )
    await worker_ctx["persister"].persist(queue.paid)
    await sync_round(worker_ctx, sweep=False)
    report = await client.get(f"/partner/events/{sale.event_id}/sales", headers=partner.headers)
    assert report.status_code == 200, report.text
    assert report.json() == {
        "available": 1,
        "held": 1,
        "sold": 1,
        "revenue_cents": 2500,
        "orders_by_status": {"completed": 1, "reserved": 1},
        "failures_by_reason": {"seat_unavailable": 1},
        "checked_in": 0,
    }
    listing = await client.get(
        f"/partner/events/{sale.event_id}/orders?limit=1", headers=partner.headers
    )
    assert listing.status_code == 200
    first_page = listing.json()
    assert len(first_page["items"]) == 1
    assert first_page["next_cursor"]
    rest = await client.get(
        f"/partner/events/{sale.event_id}/orders?cursor={first_page['next_cursor']}",
        headers=partner.headers,
    )
    assert {o["id"] for o in first_page["items"] + rest.json()["items"]} == {paid, held}
    foreign = await client.get(
        f"/partner/events/{sale.event_id}/sales", headers=other_partner.headers
    )
    assert foreign.status_code == 404


async def test_order_postgres_refuses_does_not_hold_up_the_batch(
    resources: Resources, partner: Actor, worker_ctx: dict[str, Any]
) -> None:
    """One order PostgreSQL cannot take for now while the rest are written. (One it refuses
    for good, its customer deleted, is a dead letter: tests/integration/test_dead_letters.py.)"""
    sale = await open_sale(resources, partner.id, seats=2)
    good, doomed = await create_customers(resources.pool, 2)
    orders = engine_orders(resources)
    kept = await claim(orders, good, [EventClaim(sale.event_id, [sale.seat_ids[0]])])
    lost = await claim(orders, doomed, [EventClaim(sale.event_id, [sale.seat_ids[1]])])
    refusal = TransientRefusal(resources.pool, lost)
    await refusal.start()
    try:
        assert await worker_ctx["persister"].persist([kept, lost]) == 1
    finally:
        await refusal.stop()
    assert await order_status(resources, kept) == "reserved"
    assert await order_status(resources, lost) is None
    changes = keys.event_key(sale.event_id, "changes")
    assert await resources.redis.zscore(changes, lost) is not None  # kept for a retry
    assert await resources.redis.zscore(changes, kept) is None
    await write_changes(worker_ctx, sale.event_id, wait_s=1.1)  # leave nothing for later tests
    assert await order_status(resources, lost) == "reserved"


async def test_a_change_postgres_refuses_is_put_off_longer_each_time_then_written(
    resources: Resources, partner: Actor, worker_ctx: dict[str, Any]
) -> None:
    """A poison change is not retried every round: it waits (0.4 s, then 0.8 s, ...) while
    the changes behind it are written, and is written once PostgreSQL takes it."""
    persister = Persister(
        worker_ctx["order_log"],
        resources.order_store,
        resources.gate_keys(),
        backoff=replace(REFUSED_BACKOFF, first_s=0.4),
    )
    ctx = {**worker_ctx, "persister": persister}
    sale = await open_sale(resources, partner.id, seats=3)
    good, doomed, later = await create_customers(resources.pool, 3)
    orders = engine_orders(resources)
    kept = await claim(orders, good, [EventClaim(sale.event_id, [sale.seat_ids[0]])])
    lost = await claim(orders, doomed, [EventClaim(sale.event_id, [sale.seat_ids[1]])])
    refusal = TransientRefusal(resources.pool, lost)
    await refusal.start()
    changes = keys.event_key(sale.event_id, "changes")

    async def due_in_ms() -> float:
        now = await worker_ctx["order_log"].server_time_ms()
        return float(await resources.redis.zscore(changes, lost)) - now

    await write_changes(ctx, sale.event_id)
    assert await order_status(resources, kept) == "reserved"
    assert 200 < await due_in_ms() <= 400  # 0.4 s, less the time since it was put off
    behind = await claim(orders, later, [EventClaim(sale.event_id, [sale.seat_ids[2]])])
    assert await worker_ctx["order_log"].changed_orders(sale.event_id, 500) == [behind]
    await write_changes(ctx, sale.event_id)
    assert await order_status(resources, behind) == "reserved"

    await asyncio.sleep(0.45)
    assert await worker_ctx["order_log"].changed_orders(sale.event_id, 500) == [lost]
    await write_changes(ctx, sale.event_id)  # refused again: put off twice as long
    assert 600 < await due_in_ms() <= 800
    assert await order_status(resources, lost) is None

    await refusal.stop()
    await asyncio.sleep(0.85)
    await write_changes(ctx, sale.event_id)
    assert await order_status(resources, lost) == "reserved"
    assert await resources.redis.zscore(changes, lost) is None


async def write_changes(ctx: dict[str, Any], event_id: int, wait_s: float = 0) -> None:
    """The sync round's step for one event's order changes (other tests' events may hold
    orders PostgreSQL refuses on purpose), after waiting until changes put off are due."""
    await asyncio.sleep(wait_s)
    changed = await ctx["order_log"].changed_orders(event_id, 500)
    await ctx["persister"].persist(changed, include_paid=False)


async def test_rolled_back_claim_written_meanwhile_leaves_no_lost_reservation(
    resources: Resources, partner: Actor, worker_ctx: dict[str, Any]
) -> None:
    """A claim taken back by a later step (another event refused, or the shopping slot ended)
    may already have been written as reserved by a sync round: it ends cancelled, with the
    reason, in both stores, rather than as a reservation PostgreSQL keeps and Redis forgot."""
    sale = await open_sale(resources, partner.id, seats=2)
    (customer,) = await create_customers(resources.pool, 1)
    order_id = await claim(
        engine_orders(resources), customer, [EventClaim(sale.event_id, sale.seat_ids[:1])]
    )
    await write_changes(worker_ctx, sale.event_id)  # a sync round, while the request goes on
    assert await order_status(resources, order_id) == "reserved"
    assert await resources.sale_store.release(sale.event_id, order_id, "rollback", "sold_out")
    await write_changes(worker_ctx, sale.event_id)
    assert await order_status(resources, order_id) == "cancelled"
    history = await resources.pool.fetch(
        "SELECT status, reason FROM order_status_history WHERE order_id = $1 ORDER BY at", order_id
    )
    assert [(h["status"], h["reason"]) for h in history] == [
        ("reserved", None),
        ("cancelled", "sold_out"),
    ]
    drifts = await reconcile_all(
        resources.sale_reads,
        resources.inventory,
        resources.inventory,
        PgOrderRepair(resources.pool),
    )
    assert [d.lost_reservations_expired for d in drifts if d.event_id == sale.event_id] == [0]
    counts = await resources.redis.hmget(keys.event_key(sale.event_id, "counts"), "a", "h", "s")
    assert [int(c) for c in counts] == [2, 0, 0]

"""Orders PostgreSQL refuses for good end as dead letters: kept in order_dead_letters with
the reason, out of every retry loop, marked on the order, counted by /metrics and reported by
reconcile; the other orders of the same batch still complete."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import msgspec
import pytest
from arq.connections import RedisSettings, create_pool

from engine import keys
from engine.orders import EventClaim
from engine.persistence import Persister
from engine.principal import Principal
from engine.reconcile import report
from engine.settings import get_settings
from engine.store.redis_order_log import RedisOrderLog
from engine.store.resources import Resources
from engine.tokens import issue_access_token
from tests.concurrency.engine_client import claim, create_customers, engine_orders
from tests.conftest import Actor
from tests.faults.worker_process import kill, start_worker, wait_for_status
from tests.sale_setup import open_sale, reconcile
from workers.job_queue import ArqJobQueue
from workers.tasks import sync_round

pytestmark = pytest.mark.cluster


async def dead_letter_rows(resources: Resources, order_ids: list[str]) -> list[Any]:
    return list(
        await resources.pool.fetch(
            """SELECT order_id, customer_id, status, reason, sqlstate, attempts, document
                 FROM order_dead_letters WHERE order_id = ANY($1) ORDER BY order_id""",
            order_ids,
        )
    )


async def wait_dead_letters(resources: Resources, order_ids: list[str], within: float) -> float:
    """Seconds until every order is a dead letter in PostgreSQL."""
    started = time.monotonic()
    while len(await dead_letter_rows(resources, order_ids)) < len(order_ids):
        assert time.monotonic() - started < within, "no dead letter in time"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def document(resources: Resources, event_id: int, order_id: str) -> dict[str, Any]:
    raw = await resources.redis.hget(keys.event_key(event_id, "orders"), order_id)
    assert raw is not None
    doc: dict[str, Any] = msgspec.json.decode(raw)
    return doc


def scraped(metrics: str, reason: str) -> float:
    found = re.search(rf'^boxoffice_dead_letter_orders{{reason="{reason}"}} (\S+)$', metrics, re.M)
    assert found, metrics[-2000:]
    return float(found.group(1))


async def test_paid_order_of_a_deleted_customer_becomes_a_dead_letter(
    resources: Resources, partner: Actor, client: Any
) -> None:
    sale = await open_sale(resources, partner.id, seats=6)
    customers = await create_customers(resources.pool, 6)
    queue = await ArqJobQueue.connect(get_settings().job_queue_redis_url)
    orders = engine_orders(resources, queue)  # type: ignore[arg-type]
    ids = []
    for customer, seat in zip(customers, sale.seat_ids, strict=True):
        order_id = await claim(orders, customer, [EventClaim(sale.event_id, [seat])])
        await orders.pay(Principal(customer, "customer"), order_id, "tok_visa")
        ids.append(order_id)
    await queue.close()
    gone, gone_order = customers[2], ids[2]
    others = [o for o in ids if o != gone_order]
    # as the bug was reproduced: the row deleted by hand, the order only in Redis so far
    await resources.pool.execute("DELETE FROM users WHERE id = $1", gone)

    worker = start_worker()
    try:
        took = await wait_dead_letters(resources, [gone_order], within=20)
        assert await wait_for_status(resources.pool, others, "completed", within=20) == 5
        await asyncio.sleep(3)  # the worker keeps running: it must not try the order again
    finally:
        kill(worker)
    print(f"dead letter {took:.1f}s after the worker started")

    (row,) = await dead_letter_rows(resources, [gone_order])
    assert (row["customer_id"], row["status"], row["reason"], row["sqlstate"]) == (
        gone,
        "paid",
        "customer_missing",
        "23503",
    )
    assert row["attempts"] == 1
    assert msgspec.json.decode(row["document"].encode())["id"] == gone_order
    assert (
        await resources.pool.fetchval("SELECT count(*) FROM orders WHERE id = $1", gone_order) == 0
    )
    # out of every retry loop: outbox, changes, and its persist_order job
    assert await resources.redis.zscore(keys.event_key(sale.event_id, "outbox"), gone_order) is None
    assert (
        await resources.redis.zscore(keys.event_key(sale.event_id, "changes"), gone_order) is None
    )
    arq = await create_pool(RedisSettings.from_dsn(get_settings().job_queue_redis_url))
    assert await arq.exists(keys.arq_job(gone_order), keys.arq_retry(gone_order)) == 0
    await arq.aclose()
    # visible on the order
    doc = await document(resources, sale.event_id, gone_order)
    assert doc["status"] == "paid"
    assert doc["dead_letter"]["reason"] == "customer_missing"
    token = issue_access_token(  # the row is gone by hand; its token is still signed
        Principal(gone, "customer"), resources.settings.jwt_secret, 60
    )
    shown = await client.get(f"/orders/{gone_order}", headers={"Authorization": f"Bearer {token}"})
    assert shown.status_code == 200
    assert (shown.json()["status"], shown.json()["dead_letter"]["reason"]) == (
        "paid",
        "customer_missing",
    )

    summary = report([await reconcile(resources, sale.event_id, apply=False)])
    assert summary["dead_letters"] == 1
    assert summary["dead_letters_by_event"] == {
        str(sale.event_id): {"count": 1, "orders": [gone_order]}
    }

    repaired = await reconcile(resources, sale.event_id)  # not drift: left as it is
    assert not repaired.found and repaired.dead_letters == [gone_order]
    seat = await resources.redis.hget(keys.event_key(sale.event_id, "seats"), str(sale.seat_ids[2]))
    assert seat == f"s:{gone_order}".encode()

    metrics = (await client.get("/metrics")).text
    in_pg = await resources.pool.fetchval(
        "SELECT count(*) FROM order_dead_letters WHERE reason = 'customer_missing'"
    )
    assert in_pg >= 1
    assert scraped(metrics, "customer_missing") == in_pg
    assert scraped(metrics, "check_violation") == 0


async def test_a_change_of_a_deleted_customer_is_not_put_off_for_ever(
    resources: Resources, partner: Actor
) -> None:
    """The sync round's path (status changes, not paid orders): a reserved order whose
    customer is gone is a dead letter at once, and the changes behind it are written."""
    sale = await open_sale(resources, partner.id, seats=3)
    customers = await create_customers(resources.pool, 3)
    orders = engine_orders(resources)
    ids = [
        await claim(orders, customer, [EventClaim(sale.event_id, [seat])])
        for customer, seat in zip(customers, sale.seat_ids, strict=True)
    ]
    await resources.pool.execute("DELETE FROM users WHERE id = $1", customers[1])
    arq = await create_pool(RedisSettings.from_dsn(get_settings().job_queue_redis_url))
    order_log = RedisOrderLog(resources.redis, resources.scripts)
    ctx = {
        "resources": resources,
        "order_log": order_log,
        "persister": Persister(order_log, resources.order_store, resources.gate_keys()),
        "redis": arq,
    }
    try:
        await sync_round(ctx, sweep=False)
    finally:
        await arq.aclose()
    (row,) = await dead_letter_rows(resources, [ids[1]])
    assert (row["status"], row["reason"]) == ("reserved", "customer_missing")
    changes = keys.event_key(sale.event_id, "changes")
    assert await resources.redis.zmscore(changes, ids) == [None, None, None]
    written = await resources.pool.fetch("SELECT id FROM orders WHERE id = ANY($1)", ids)
    assert sorted(r["id"] for r in written) == sorted([ids[0], ids[2]])
    assert (await document(resources, sale.event_id, ids[1]))["dead_letter"]["reason"] == (
        "customer_missing"
    )

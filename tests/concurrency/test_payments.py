"""Payments made in one script call per batch (lua/pay.lua) keep every guarantee under real
concurrency (several OS processes, and many payments in one batch): nothing sold beyond the
pool, an order paid at most once, and a paid order in the outbox before the job is queued."""

from __future__ import annotations

import asyncio

from engine import keys
from engine.orders import EventClaim
from engine.principal import Principal
from engine.store.resources import Resources
from tests.concurrency.engine_client import (
    RecordingJobQueue,
    buys_from_processes,
    claim,
    counts,
    create_customers,
    engine_orders,
    pay,
    pays_from_processes,
)
from tests.concurrency.test_claims import live_counts
from tests.conftest import Actor
from tests.sale_setup import OnSale, open_sale


async def pool_states(resources: Resources, sale: OnSale) -> tuple[int, int, int]:
    pool = sale.pool_ids[0]
    fields = (f"{pool}:a", f"{pool}:h", f"{pool}:s")
    a, h, s = await resources.redis.hmget(keys.event_key(sale.event_id, "pools"), *fields)
    return int(a), int(h), int(s)


async def outbox(resources: Resources, event_id: int) -> set[str]:
    members = await resources.redis.zrange(keys.event_key(event_id, "outbox"), 0, -1)
    return {member.decode() for member in members}


async def statuses(resources: Resources, order_ids: list[str]) -> dict[str, int]:
    """How many of these orders are in each status, from their documents in Redis."""
    tally: dict[str, int] = {}
    for order_id in order_ids:
        doc = await resources.sale_store.order_document(order_id)
        assert doc is not None
        tally[doc.status] = tally.get(doc.status, 0) + 1
    return tally


async def test_400_buyers_claim_and_pay_a_pool_of_100_sell_exactly_100(
    resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id, pools=(100,))
    customers = await create_customers(resources.pool, 400)
    jobs = [(c, [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 1})]) for c in customers]
    results = await buys_from_processes(jobs, processes=4)
    assert counts(results) == {"ok": 100, "sold_out": 300}
    paid = [r for r in results if "-" in r]
    assert await live_counts(resources.redis, sale.event_id) == (0, 0, 100)
    assert await pool_states(resources, sale) == (0, 0, 100)
    assert await outbox(resources, sale.event_id) == set(paid)
    assert await statuses(resources, paid) == {"paid": 100}


async def test_an_order_is_paid_once_whatever_the_concurrent_payments(
    resources: Resources, partner: Actor
) -> None:
    """24 payments of one order from 4 processes (6 at once in each, so they meet in one
    batch as well as across processes): one is taken, the others refused."""
    sale = await open_sale(resources, partner.id, pools=(10,))
    (customer,) = await create_customers(resources.pool, 1)
    order_id = await claim(
        engine_orders(resources), customer, [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 2})]
    )
    jobs = [(customer, order_id, "tok_visa")] * 24
    assert counts(await pays_from_processes(jobs, processes=4)) == {"paid": 1, "invalid_state": 23}
    assert await live_counts(resources.redis, sale.event_id) == (8, 0, 2)
    assert await pool_states(resources, sale) == (8, 0, 2)
    assert await outbox(resources, sale.event_id) == {order_id}


async def test_a_payment_and_a_decline_racing_one_order_agree(
    resources: Resources, partner: Actor
) -> None:
    """Payments and declines of the same orders at once: each order ends paid (its units sold)
    or payment_failed (its units back on sale), never both, and one request says which."""
    sale = await open_sale(resources, partner.id, pools=(40,))
    customers = await create_customers(resources.pool, 20)
    orders = engine_orders(resources)
    placed = [
        (c, await claim(orders, c, [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 2})]))
        for c in customers
    ]
    jobs = [(c, o, token) for c, o in placed for token in ("tok_visa", "tok_decline", "tok_visa")]
    tally = counts(await pays_from_processes(jobs, processes=3))
    assert tally["invalid_state"] == 40  # two of the three requests of each order
    paid = tally.get("paid", 0)
    assert paid + tally.get("payment_declined", 0) == 20
    order_ids = [o for _, o in placed]
    assert await statuses(resources, order_ids) == {
        status: n for status, n in (("paid", paid), ("payment_failed", 20 - paid)) if n
    }
    assert await pool_states(resources, sale) == (40 - 2 * paid, 0, 2 * paid)
    paid_ids = {o for o in order_ids if o in await outbox(resources, sale.event_id)}
    assert len(paid_ids) == len(await outbox(resources, sale.event_id)) == paid


class FailingJobQueue(RecordingJobQueue):
    """The job queue unreachable: as if the API died right after the payment's script."""

    async def persist_paid(self, order_id: str) -> None:
        self.paid.append(order_id)
        raise ConnectionError("job queue unreachable")


async def test_paid_orders_are_in_the_outbox_before_their_jobs_are_queued(
    resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id, pools=(50,))
    customers = await create_customers(resources.pool, 50)
    queue = FailingJobQueue()
    orders = engine_orders(resources, queue)
    claims = [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 1})]
    placed = [(c, await claim(orders, c, claims)) for c in customers]

    async def pay_then_fail(customer: int, order_id: str) -> None:
        try:
            await orders.pay(Principal(customer, "customer"), order_id, "tok_visa")
        except ConnectionError:
            return
        raise AssertionError("the job queue's failure was not raised")

    await asyncio.gather(*(pay_then_fail(c, o) for c, o in placed))
    order_ids = [o for _, o in placed]
    assert sorted(queue.paid) == sorted(order_ids)
    assert await outbox(resources, sale.event_id) == set(order_ids)
    assert await statuses(resources, order_ids) == {"paid": 50}
    assert await pay(orders, customers[0], order_ids[0]) == "invalid_state"

"""Nothing is ever sold twice: first the race a naive check-then-set has, then the scripts
that close it, under real concurrency (several OS processes against one Redis)."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from engine import keys
from engine.order_ids import new_order_id
from engine.orders import ClaimOutcome, EventClaim
from engine.store.resources import Resources
from tests.concurrency.engine_client import (
    claim,
    claims_from_processes,
    counts,
    create_customers,
    engine_orders,
)
from tests.conftest import Actor
from tests.sale_setup import open_sale

pytestmark = pytest.mark.cluster


async def live_counts(redis: Redis, event_id: int) -> tuple[int, int, int]:
    a, h, s = await redis.hmget(keys.event_key(event_id, "counts"), "a", "h", "s")
    return int(a), int(h), int(s)


async def seat_holders(redis: Redis, event_id: int) -> dict[str, str]:
    states = await redis.hgetall(keys.event_key(event_id, "seats"))
    return {k.decode(): v.decode() for k, v in states.items()}


async def test_naive_check_then_set_oversells(redis: Redis) -> None:
    """Without an atomic script, two buyers both see a seat free and both take it."""
    seats_key = "naive:{ev:0}:seats"
    await redis.delete(seats_key)
    await redis.hset(seats_key, mapping={str(seat): "a" for seat in range(50)})
    sold: list[int] = []

    async def naive_claim(buyer: int) -> None:
        seat = str(buyer % 50)
        if await redis.hget(seats_key, seat) == b"a":  # check ...
            await asyncio.sleep(0)
            await redis.hset(seats_key, seat, f"h:{buyer}")  # ... then set
            sold.append(buyer)

    await asyncio.gather(*(naive_claim(buyer) for buyer in range(500)))
    assert len(sold) > 50, "the race did not show; the test cannot demonstrate the guard"


async def test_500_claims_on_50_seats_sell_each_seat_once(
    resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=50)
    customers = await create_customers(resources.pool, 500)
    jobs = [
        (customer, [EventClaim(sale.event_id, seat_ids=[sale.seat_ids[i % 50]])])
        for i, customer in enumerate(customers)
    ]
    results = await claims_from_processes(jobs, processes=4)
    tally = counts(results)
    assert tally == {"ok": 50, "seat_unavailable": 450}
    holders = await seat_holders(resources.redis, sale.event_id)
    winners = {r for r in results if "-" in r}
    assert sorted(holders.values()) == sorted(f"h:{order}" for order in winners)
    assert await live_counts(resources.redis, sale.event_id) == (0, 50, 0)


async def test_1000_claims_on_pool_of_100_sell_exactly_100(
    resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id, pools=(100,))
    customers = await create_customers(resources.pool, 1000)
    jobs = [(c, [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 1})]) for c in customers]
    tally = counts(await claims_from_processes(jobs, processes=4))
    assert tally == {"ok": 100, "sold_out": 900}
    assert await live_counts(resources.redis, sale.event_id) == (0, 100, 0)
    pool_key = keys.event_key(sale.event_id, "pools")
    available = await resources.redis.hget(pool_key, f"{sale.pool_ids[0]}:a")
    assert int(available) == 0


async def test_multi_event_refusal_leaves_nothing_held(
    resources: Resources, partner: Actor
) -> None:
    first = await open_sale(resources, partner.id, seats=20)
    second = await open_sale(resources, partner.id, seats=1)
    orders = engine_orders(resources)
    (blocker,) = await create_customers(resources.pool, 1)
    assert "-" in await claim(orders, blocker, [EventClaim(second.event_id, [second.seat_ids[0]])])
    customers = await create_customers(resources.pool, 20)
    results = await asyncio.gather(
        *(
            claim(
                orders,
                c,
                [
                    EventClaim(first.event_id, [first.seat_ids[i]]),
                    EventClaim(second.event_id, [second.seat_ids[0]]),
                ],
            )
            for i, c in enumerate(customers)
        )
    )
    assert counts(results) == {"seat_unavailable": 20}
    assert await live_counts(resources.redis, first.event_id) == (20, 0, 0)
    holders = await seat_holders(resources.redis, first.event_id)
    assert set(holders.values()) == {"a"}


async def test_per_customer_limit_holds_under_parallel_requests(
    resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=40, limit=4)
    (customer,) = await create_customers(resources.pool, 1)
    jobs = [(customer, [EventClaim(sale.event_id, [seat])]) for seat in sale.seat_ids[:20]]
    tally = counts(await claims_from_processes(jobs, processes=4))
    assert tally == {"ok": 4, "limit_exceeded": 16}
    assert await live_counts(resources.redis, sale.event_id) == (36, 4, 0)


async def test_a_claim_sent_again_holds_once_and_is_released_whole(
    resources: Resources, partner: Actor
) -> None:
    """One order id holds once per event: the same claim sent twice together (one batch) and
    once more afterwards holds its units once; releasing the order puts every unit back."""
    sale = await open_sale(resources, partner.id, pools=(10,))
    (buyer,) = await create_customers(resources.pool, 1)
    order_id = new_order_id(sale.event_id)
    claim_of = EventClaim(sale.event_id, pools={sale.pool_ids[0]: 2})

    async def send() -> ClaimOutcome:
        return await resources.sale_store.claim(order_id, buyer, claim_of, True, "{}")

    outcomes = [*await asyncio.gather(send(), send(), send()), await send()]
    assert sum(o.ok for o in outcomes) == 1
    assert sorted(o.code or "" for o in outcomes if not o.ok) == ["order_exists"] * 3
    assert await live_counts(resources.redis, sale.event_id) == (8, 2, 0)

    await resources.sale_store.release(sale.event_id, order_id, "cancel", "cancelled")
    assert await live_counts(resources.redis, sale.event_id) == (10, 0, 0)

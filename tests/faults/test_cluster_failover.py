"""A Redis Cluster master killed in the middle of a sale (SIGKILL): its replica takes over,
and no payment the buyers were told about is lost, and no seat is sold twice.

Runs on the harness's cluster (--redis-cluster: 3 masters, one replica each, payments
acknowledged once one replica has them, REDIS_PAYMENT_REPLICAS=1). Buyers claim a random
seat and pay for it in a loop, against the engine directly, while the master of the event's
slot is killed; the killed server is started again a few seconds later, once its replica
has taken over, and comes back as that replica's replica (until then no payment on that
shard can reach a replica, so none is acknowledged). Afterwards every acknowledged payment
must be paid in Redis with its seat sold to it, and every seat sold at most once, with the
event's counts agreeing with its seats. What each claim and pay saw during the switch is
printed (run with -s to see it).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from engine import errors, keys
from engine.orders import EventClaim, Orders, requested_items
from engine.principal import Principal
from engine.store.lua_json import decode_document
from engine.store.redis_client import SaleRedis
from engine.store.resources import Resources
from loadtests.setup_data import OnSale, create_customers, open_sale
from tests import services as test_services
from tests.concurrency.engine_client import engine_orders
from tests.conftest import Actor

pytestmark = [pytest.mark.cluster, pytest.mark.cluster_only, pytest.mark.slow]

SEATS = 3000
BUYERS = 24
KILL_AFTER_S = 1.5
RESTART_AFTER_S = 4.0  # after the kill: the replica has been promoted by then
AFTER_S = 2.0  # buyers go on this long once the cluster is whole again


@dataclass
class Seen:
    """What the buyers saw, per phase: before the kill, from it until the cluster was whole
    again, and after."""

    acknowledged: dict[str, int] = field(default_factory=dict)  # order id -> seat
    outcomes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    phase: str = "before"
    done: bool = False


def outcome_of(exc: BaseException) -> str:
    if isinstance(exc, errors.BoxofficeError):
        return exc.code
    return type(exc).__name__


async def buyer(orders: Orders, customer: int, sale: OnSale, seen: Seen) -> None:
    principal = Principal(customer, "customer")
    while not seen.done:
        claim = [EventClaim(event_id=sale.event_id, seat_ids=[random.choice(sale.seat_ids)])]
        phase = seen.phase
        try:
            order = await orders.place(principal, claim, requested_items(claim))
        except Exception as exc:  # what a claim sees is what this test reports
            seen.outcomes[(phase, "claim", outcome_of(exc))] += 1
            await asyncio.sleep(0.02)
            continue
        seen.outcomes[(phase, "claim", "ok")] += 1
        phase = seen.phase
        try:
            paid = await orders.pay(principal, order.id, "tok_visa")
        except Exception as exc:
            seen.outcomes[(phase, "pay", outcome_of(exc))] += 1
            continue
        seen.outcomes[(phase, "pay", "ok")] += 1
        seen.acknowledged[paid.id] = claim[0].seat_ids[0]


async def test_a_master_killed_mid_sale_loses_no_acknowledged_payment(
    services: test_services.TestServices,
    resources: Resources,
    redis: SaleRedis,
    partner: Actor,
) -> None:
    redis_fixture = redis
    cluster = services.cluster
    assert cluster is not None and cluster.replicas >= 1
    assert resources.settings.payment_replicas == 1
    sale = await open_sale(resources, partner.id, seats=SEATS, limit=1000)
    customers = await create_customers(resources.pool, BUYERS)
    orders = engine_orders(resources)
    seen = Seen()
    tag_key = keys.event_key(sale.event_id, "seats")
    victim = cluster.master_of(tag_key)

    started = time.monotonic()
    buyers = [asyncio.create_task(buyer(orders, c, sale, seen)) for c in customers]
    await asyncio.sleep(KILL_AFTER_S)
    seen.phase = "switch"
    victim.kill()
    killed_at = time.monotonic()
    await asyncio.sleep(RESTART_AFTER_S)
    await asyncio.to_thread(victim.start)  # rejoins as a replica of the promoted one
    await asyncio.to_thread(cluster.wait_healthy, 30.0)
    whole_after_s = time.monotonic() - killed_at
    seen.phase = "after"
    await asyncio.sleep(AFTER_S)
    seen.done = True
    await asyncio.gather(*buyers)

    new_master = cluster.master_of(tag_key)
    assert new_master is not victim, "the replica was not promoted"
    report = "\n".join(
        f"{phase:>6} {step:<5} {what:<24} {n}"
        for (phase, step, what), n in sorted(seen.outcomes.items())
    )
    print(
        f"\nmaster killed at {killed_at - started:.1f} s; cluster whole again "
        f"{whole_after_s:.1f} s later (the killed server restarted after {RESTART_AFTER_S} s)\n"
        f"{report}\nacknowledged payments: {len(seen.acknowledged)}"
    )

    redis = resources.redis
    marks = {
        int(seat): state.decode()
        for seat, state in (await redis.hgetall(keys.event_key(sale.event_id, "seats"))).items()
    }
    lost = []
    for order_id, seat in seen.acknowledged.items():
        raw = await redis.hget(keys.event_key(sale.event_id, "orders"), order_id)
        paid = raw is not None and decode_document(raw).status in ("paid", "completed")
        if not paid or marks.get(seat) != f"s:{order_id}":
            lost.append(order_id)
    assert lost == [], f"{len(lost)} acknowledged payments lost: {lost[:5]}"
    sold_to = Counter(state[2:] for state in marks.values() if state.startswith("s:"))
    # a seat holds one mark, so it cannot be sold twice in Redis; each order bought one seat
    assert all(n == 1 for n in sold_to.values()), sold_to.most_common(3)
    counts = await redis.hmget(keys.event_key(sale.event_id, "counts"), "a", "h", "s")
    available, held, sold = (int(c) for c in counts)
    by_mark = Counter(state[:1] for state in marks.values())
    assert (available, held, sold) == (by_mark["a"], by_mark["h"], by_mark["s"])
    assert available + held + sold == SEATS
    assert seen.outcomes[("after", "pay", "ok")] > 0, "no payment went through after the switch"
    # the killed server gets its slots back, so the tests after this one find the cluster
    # as it was; the session's clients then read its roles again (a keyed command would
    # learn them from MOVED, but FLUSHDB goes to the masters a client knows)
    await asyncio.to_thread(cluster.make_master, victim)
    for client in (resources.redis, redis_fixture):
        await client.aclose()

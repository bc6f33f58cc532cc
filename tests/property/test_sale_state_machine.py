"""Random claim / pay / decline / cancel / expire sequences against real Redis and PostgreSQL.

After every step: sold + held + available = capacity, the counts agree with the seat and pool
states, every seat is held or sold by at most one live order and per-customer limits hold.
At the end every order is written to PostgreSQL, and after reconcile Redis and PostgreSQL
agree on what is sold.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from engine import errors, keys
from engine.orders import EventClaim
from engine.persistence import Persister
from engine.principal import Principal
from engine.reconcile import reconcile_event
from engine.settings import get_settings
from engine.store.pg_orders import PgOrderRepair
from engine.store.redis_order_log import RedisOrderLog
from engine.store.resources import Resources, open_resources
from tests.concurrency.engine_client import RecordingJobQueue, create_customers, engine_orders
from tests.sale_setup import open_sale

pytestmark = pytest.mark.cluster

SEATS, POOL, LIMIT = 6, 5, 4


class SaleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.resources: Resources = self.run(open_resources(get_settings(), pool_size=2))
        self.orders = engine_orders(self.resources, RecordingJobQueue())
        self.live: dict[str, int] = {}  # order id -> customer, for orders not yet final
        self.all_orders: list[str] = []

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    @initialize()
    def open_event(self) -> None:
        partner = self.run(create_customers(self.resources.pool, 1))[0]
        self.run(
            self.resources.pool.execute(
                "UPDATE users SET role = 'partner', company_name = 'P' WHERE id = $1", partner
            )
        )
        self.sale = self.run(
            open_sale(self.resources, partner, seats=SEATS, pools=(POOL,), limit=LIMIT)
        )
        self.customers = self.run(create_customers(self.resources.pool, 3))

    @rule(
        customer=st.integers(0, 2),
        seats=st.sets(st.integers(0, SEATS - 1), max_size=3),
        quantity=st.integers(0, 3),
    )
    def claim(self, customer: int, seats: set[int], quantity: int) -> None:
        if not seats and not quantity:
            return
        claim = EventClaim(
            self.sale.event_id,
            [self.sale.seat_ids[i] for i in sorted(seats)],
            {self.sale.pool_ids[0]: quantity} if quantity else {},
        )
        buyer = self.customers[customer]
        try:
            order = self.run(self.orders.place(Principal(buyer, "customer"), [claim], "{}"))
        except (errors.PurchaseRefused, errors.InvalidInput):
            return
        self.live[order.id] = buyer
        self.all_orders.append(order.id)

    def _pick(self, pick: int) -> tuple[str, int] | None:
        """A live order, chosen by creation order: order ids are random, so choosing among
        them by id would make replays differ (hypothesis calls that a flaky strategy)."""
        if not self.live:
            return None
        order_id = [o for o in self.all_orders if o in self.live][pick % len(self.live)]
        return order_id, self.live[order_id]

    @rule(pick=st.integers(0, 1000), declined=st.booleans())
    def pay(self, pick: int, declined: bool) -> None:
        picked = self._pick(pick)
        if picked:
            token = "tok_decline" if declined else "tok_visa"
            try:
                self.run(self.orders.pay(Principal(picked[1], "customer"), picked[0], token))
            except errors.BoxofficeError:
                self.live.pop(picked[0])

    @rule(pick=st.integers(0, 1000))
    def cancel(self, pick: int) -> None:
        picked = self._pick(pick)
        if picked:
            with contextlib.suppress(errors.BoxofficeError):
                self.run(self.orders.cancel(Principal(picked[1], "customer"), picked[0]))
            self.live.pop(picked[0])

    @rule(pick=st.integers(0, 1000))
    def expire(self, pick: int) -> None:
        """Time passes for one order: its hold lapses and the sweeper runs."""
        picked = self._pick(pick)
        if picked:
            holds = keys.event_key(self.sale.event_id, "holds")
            if self.run(self.resources.redis.zscore(holds, picked[0])) is not None:
                self.run(self.resources.redis.zadd(holds, {picked[0]: 1}, xx=True))
            log = RedisOrderLog(self.resources.redis, self.resources.scripts)
            self.run(log.expire_due_holds(self.sale.event_id, 2))

    async def _state(self) -> tuple[list[int], dict[str, str], dict[str, int], dict[str, int]]:
        redis = self.resources.redis
        counts = await redis.hmget(keys.event_key(self.sale.event_id, "counts"), "a", "h", "s")
        seats = await redis.hgetall(keys.event_key(self.sale.event_id, "seats"))
        pools = await redis.hgetall(keys.event_key(self.sale.event_id, "pools"))
        customers = await redis.hgetall(keys.event_key(self.sale.event_id, "customers"))
        return (
            [int(c) for c in counts],
            {k.decode(): v.decode() for k, v in seats.items()},
            {k.decode(): int(v) for k, v in pools.items() if not k.endswith((b":n", b":p"))},
            {k.decode(): int(v) for k, v in customers.items()},
        )

    @invariant()
    def inventory_adds_up(self) -> None:
        if not hasattr(self, "sale"):
            return
        (a, h, s), seats, pools, customers = self.run(self._state())
        assert a + h + s == SEATS + POOL
        pool = str(self.sale.pool_ids[0])
        assert pools[f"{pool}:a"] + pools[f"{pool}:h"] + pools[f"{pool}:s"] == POOL
        assert min(pools[f"{pool}:a"], pools[f"{pool}:h"], pools[f"{pool}:s"]) >= 0
        marks = list(seats.values())
        assert a == marks.count("a") + pools[f"{pool}:a"]
        assert h == sum(m.startswith("h:") for m in marks) + pools[f"{pool}:h"]
        assert s == sum(m.startswith("s:") for m in marks) + pools[f"{pool}:s"]
        assert all(0 < owned <= LIMIT for owned in customers.values())

    def teardown(self) -> None:
        try:
            if hasattr(self, "sale"):
                self.run(self._persist_and_compare())
        finally:
            self.run(self.resources.close())
            self.loop.close()

    async def _persist_and_compare(self) -> None:
        resources = self.resources
        persister = Persister(
            RedisOrderLog(resources.redis, resources.scripts),
            resources.order_store,
            resources.gate_keys(),
        )
        await persister.persist(self.all_orders)
        drift = await reconcile_event(
            self.sale.event_id,
            resources.sale_reads,
            resources.inventory,
            resources.inventory,
            PgOrderRepair(resources.pool),
            apply=False,
        )
        assert drift.seats_sold_in_pg_not_in_redis == 0
        assert drift.pool_units_sold_in_pg_not_in_redis == 0
        pg_sold = await resources.pool.fetchval(
            "SELECT count(*) FROM tickets WHERE event_id = $1 AND status <> 'void'",
            self.sale.event_id,
        )
        (_, _, redis_sold), _, _, _ = await self._state()
        assert pg_sold == redis_sold  # everything paid is persisted: the two agree exactly
        statuses = await resources.pool.fetch(
            "SELECT id, status FROM orders WHERE id = ANY($1)", self.all_orders
        )
        docs = await RedisOrderLog(resources.redis, resources.scripts).documents(self.all_orders)
        redis_status = {o: d.status for o, (d, _) in zip(self.all_orders, docs, strict=True) if d}
        assert {r["id"]: r["status"] for r in statuses} == redis_status


@pytest.mark.usefixtures("services")
def test_random_sale_sequences_keep_inventory_exact() -> None:
    machine = SaleMachine.TestCase
    machine.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    machine().runTest()

"""Reconcile Redis with PostgreSQL: report drift, then repair it.

PostgreSQL is authoritative for what is sold, Redis for in-flight holds and sales not yet
persisted. Repair is hydration (which rebuilds counts, seats and sold parts from both) plus
expiring orders PostgreSQL still thinks are reserved but Redis no longer knows. Orders
PostgreSQL refused for good (dead letters, engine/persistence.py) are reported, not repaired:
settling one (a refund, say) is an operator's decision.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from engine.hydration import Availability, EventSnapshot, InventoryCache, SnapshotSource


class Drift(msgspec.Struct):
    event_id: int
    hydrated: bool
    seats_sold_in_pg_not_in_redis: int = 0
    pool_units_sold_in_pg_not_in_redis: int = 0
    counts_before: Availability | None = None
    counts_after: Availability | None = None
    lost_reservations_expired: int = 0
    dead_letters: list[str] = msgspec.field(default_factory=list)

    @property
    def found(self) -> bool:
        return (
            not self.hydrated
            or self.seats_sold_in_pg_not_in_redis > 0
            or self.pool_units_sold_in_pg_not_in_redis > 0
            or self.counts_before != self.counts_after
            or self.lost_reservations_expired > 0
        )


class RedisView(Protocol):
    async def seat_marks(self, event_id: int) -> dict[str, str]: ...

    async def pool_sold(self, event_id: int) -> dict[str, int]: ...

    async def counts(self, event_ids: list[int]) -> dict[int, Availability]: ...

    async def known_orders(self, event_id: int, order_ids: list[str]) -> set[str]: ...


class OrderRepair(Protocol):
    async def events_on_sale(self) -> list[int]: ...

    async def reserved_orders(self, event_id: int) -> list[str]: ...

    async def expire_lost(self, order_ids: list[str], reason: str) -> int: ...

    async def dead_letters(self, event_id: int) -> list[str]:
        """Orders of this (home) event PostgreSQL refused for good."""


def sold_drift(
    snapshot: EventSnapshot, marks: dict[str, str], pool_sold: dict[str, int]
) -> tuple[int, int]:
    """Seats and pool units PostgreSQL has sold that Redis does not show as sold."""
    seats = pools = 0
    for part in snapshot.sold_parts:
        seats += sum(1 for seat in part["s"] if marks.get(seat) != f"s:{part['o']}")
    pg_pool_sold: dict[str, int] = {}
    for part in snapshot.sold_parts:
        for pool, quantity in part["g"]:
            pg_pool_sold[pool] = pg_pool_sold.get(pool, 0) + quantity
    for pool, quantity in pg_pool_sold.items():
        pools += max(quantity - pool_sold.get(pool, 0), 0)
    return seats, pools


async def reconcile_event(
    event_id: int,
    source: SnapshotSource,
    cache: InventoryCache,
    redis: RedisView,
    repair: OrderRepair,
    apply: bool = True,
) -> Drift:
    snapshot = await source.on_sale_snapshot(event_id)
    before = (await redis.counts([event_id])).get(event_id)
    drift = Drift(event_id=event_id, hydrated=before is not None, counts_before=before)
    drift.dead_letters = await repair.dead_letters(event_id)
    if snapshot is None:
        return drift
    drift.seats_sold_in_pg_not_in_redis, drift.pool_units_sold_in_pg_not_in_redis = sold_drift(
        snapshot, await redis.seat_marks(event_id), await redis.pool_sold(event_id)
    )
    reserved = await repair.reserved_orders(event_id)
    lost = sorted(set(reserved) - await redis.known_orders(event_id, reserved))
    if not apply:
        drift.lost_reservations_expired = len(lost)
        return drift
    drift.counts_after = await cache.load(event_id, snapshot)
    drift.lost_reservations_expired = await repair.expire_lost(lost, "hold_lost")
    return drift


async def reconcile_all(
    source: SnapshotSource,
    cache: InventoryCache,
    redis: RedisView,
    repair: OrderRepair,
    apply: bool = True,
) -> list[Drift]:
    return [
        await reconcile_event(event_id, source, cache, redis, repair, apply)
        for event_id in await repair.events_on_sale()
    ]


def report(drifts: list[Drift]) -> dict[str, Any]:
    return {
        "events": len(drifts),
        "with_drift": sum(1 for d in drifts if d.found),
        "details": [msgspec.to_builtins(d) for d in drifts if d.found],
        "dead_letters": sum(len(d.dead_letters) for d in drifts),
        "dead_letters_by_event": {
            str(d.event_id): {"count": len(d.dead_letters), "orders": d.dead_letters}
            for d in drifts
            if d.dead_letters
        },
    }

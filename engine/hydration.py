"""Hydration: load an event's on-sale inventory from PostgreSQL into Redis.

PostgreSQL is authoritative for what is sold; Redis keeps its in-flight holds and sales not yet
persisted. Idempotent: run it on opening a sale, on inventory changes, after Redis lost its
data, or from the reconciler.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from engine.gate_keys import EventKeyCopy
from engine.live_tickets import LiveTicket
from engine.waiting_room import RoomSettings


class Availability(msgspec.Struct):
    available: int
    held: int
    sold: int


class EventSnapshot(msgspec.Struct):
    """What PostgreSQL knows of an event on sale, in the shape lua/hydrate.lua takes."""

    meta: dict[str, Any]
    seats: list[tuple[str, int, str]]
    pools: list[tuple[str, int, str, int]]
    sold_parts: list[dict[str, Any]]
    room: RoomSettings  # the waiting room's settings, which its queue and claims read in Redis
    # every ticket of the event with its state; None: not read, the Redis states stay as
    # they are (and are not made authoritative)
    tickets: list[LiveTicket] | None = None
    # the event's gate keys and partner, which scans verify codes with in Redis; None: not read
    gate_keys: EventKeyCopy | None = None


class SnapshotSource(Protocol):
    async def on_sale_snapshot(self, event_id: int) -> EventSnapshot | None:
        """None when the event has no on-sale window."""


class InventoryCache(Protocol):
    async def load(self, event_id: int, snapshot: EventSnapshot) -> Availability: ...

    async def forget(self, event_id: int) -> None: ...


async def hydrate(
    event_id: int, source: SnapshotSource, cache: InventoryCache
) -> Availability | None:
    snapshot = await source.on_sale_snapshot(event_id)
    if snapshot is None:
        return None
    return await cache.load(event_id, snapshot)

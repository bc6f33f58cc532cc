"""PostgreSQL reads the sale engine needs: on-sale snapshots and id lookups."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import asyncpg

from engine.gate_keys import EventKeyCopy, GateKey
from engine.hydration import EventSnapshot
from engine.moments import to_ms
from engine.store.pg_tickets import LIVE_TICKETS, live_ticket
from engine.waiting_room import RoomSettings


class PgSaleReads:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        # a ticket type never moves to another event, so its event is cached for the process
        self._event_of_type: dict[int, int] = {}

    async def event_of_ticket_type(self, ticket_type_id: int) -> int | None:
        event_id = self._event_of_type.get(ticket_type_id)
        if event_id is None:
            event_id = await self._pool.fetchval(
                "SELECT event_id FROM ticket_types WHERE id = $1", ticket_type_id
            )
            if event_id is not None:
                self._event_of_type[ticket_type_id] = event_id
        return event_id

    async def event_exists(self, event_id: int) -> bool:
        return bool(
            await self._pool.fetchval(
                "SELECT 1 FROM events WHERE id = $1 AND status <> 'archived'", event_id
            )
        )

    async def on_sale_snapshot(self, event_id: int) -> EventSnapshot | None:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            event = await conn.fetchrow(
                """SELECT status, sale_starts_at, sale_ends_at, hold_seconds,
                          max_tickets_per_customer, starts_at, waiting_room_enabled,
                          admit_per_minute, max_active, waiting_room_paused, partner_id
                     FROM events
                    WHERE id = $1 AND sale_starts_at IS NOT NULL AND status <> 'archived'""",
                event_id,
            )
            if event is None:
                return None
            seats = await conn.fetch(
                "SELECT id, price_cents, label FROM seats WHERE event_id = $1", event_id
            )
            pools = await conn.fetch(
                "SELECT id, price_cents, name, quantity FROM ticket_types WHERE event_id = $1",
                event_id,
            )
            sold = await conn.fetch(
                """SELECT t.order_id, o.customer_id, t.seat_id, t.ticket_type_id
                     FROM tickets t JOIN orders o ON o.id = t.order_id
                    WHERE t.event_id = $1 AND t.status <> 'void'""",
                event_id,
            )
            tickets = await conn.fetch(f"{LIVE_TICKETS} WHERE t.event_id = $1", event_id)
            gate_keys = await conn.fetch(
                """SELECT event_id, key_id, public_key, sealed_private_key, created_at
                     FROM gate_keys WHERE event_id = $1""",
                event_id,
            )
        return EventSnapshot(
            meta={
                "status": event["status"],
                "sale_starts": to_ms(event["sale_starts_at"]),
                "sale_ends": to_ms(event["sale_ends_at"]),
                "hold_ms": event["hold_seconds"] * 1000,
                "limit": event["max_tickets_per_customer"],
                "event": str(event_id),
                "starts": to_ms(event["starts_at"]),
            },
            seats=[(str(s["id"]), s["price_cents"], s["label"]) for s in seats],
            pools=[(str(p["id"]), p["price_cents"], p["name"], p["quantity"]) for p in pools],
            sold_parts=_sold_parts(sold),
            room=_room_settings(event),
            tickets=[live_ticket(row) for row in tickets],
            gate_keys=EventKeyCopy(
                event["partner_id"], [GateKey(**dict(row)) for row in gate_keys]
            ),
        )


def _room_settings(event: asyncpg.Record) -> RoomSettings:
    return RoomSettings(
        event_status=event["status"],
        sale_starts_ms=to_ms(event["sale_starts_at"]),
        sale_ends_ms=to_ms(event["sale_ends_at"]),
        enabled=event["waiting_room_enabled"],
        admit_per_minute=event["admit_per_minute"] or 0,
        max_active=event["max_active"] or 0,
        paused=event["waiting_room_paused"],
    )


def _sold_parts(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    parts: dict[str, dict[str, Any]] = {}
    pools: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        part = parts.setdefault(
            row["order_id"], {"o": row["order_id"], "c": str(row["customer_id"]), "s": [], "g": []}
        )
        if row["seat_id"] is not None:
            part["s"].append(str(row["seat_id"]))
        else:
            counts = pools[row["order_id"]]
            key = str(row["ticket_type_id"])
            counts[key] = counts.get(key, 0) + 1
    for order_id, counts in pools.items():
        parts[order_id]["g"] = [[key, n] for key, n in counts.items()]
    return list(parts.values())

"""PostgreSQL queries behind the partner's sales report."""

from __future__ import annotations

import asyncpg

from engine.hydration import Availability
from engine.orders import Order
from engine.pagination import AfterOrder, encode_cursor, read_cursor
from engine.store.pg_orders import PgOrderStore


class PgReportStore:
    def __init__(self, pool: asyncpg.Pool, orders: PgOrderStore) -> None:
        self._pool = pool
        self._orders = orders

    async def owner_of(self, event_id: int) -> int | None:
        owner: int | None = await self._pool.fetchval(
            "SELECT partner_id FROM events WHERE id = $1", event_id
        )
        return owner

    async def stored_availability(self, event_id: int) -> Availability:
        row = await self._pool.fetchrow(
            """SELECT (SELECT count(*) FILTER (WHERE status = 'available') FROM seats
                        WHERE event_id = $1)
                      + (SELECT coalesce(sum(quantity - sold), 0) FROM ticket_types
                          WHERE event_id = $1) AS available,
                      (SELECT count(*) FILTER (WHERE status = 'sold') FROM seats
                        WHERE event_id = $1)
                      + (SELECT coalesce(sum(sold), 0) FROM ticket_types
                          WHERE event_id = $1) AS sold""",
            event_id,
        )
        return Availability(int(row["available"]), 0, int(row["sold"]))

    async def sales_figures(self, event_id: int) -> tuple[int, dict[str, int], dict[str, int], int]:
        async with self._pool.acquire() as conn:
            revenue = await conn.fetchval(
                """SELECT coalesce(sum(l.price_cents), 0) FROM order_lines l
                     JOIN orders o ON o.id = l.order_id
                    WHERE l.event_id = $1 AND o.status IN ('paid', 'completed')""",
                event_id,
            )
            statuses = await conn.fetch(
                """SELECT o.status, count(*) AS n FROM orders o
                    WHERE o.id IN (SELECT order_id FROM order_lines WHERE event_id = $1)
                    GROUP BY o.status""",
                event_id,
            )
            failures = await conn.fetch(
                """SELECT reason, count(*) AS n FROM purchase_refusals WHERE event_id = $1
                    GROUP BY reason""",
                event_id,
            )
            checked_in = await conn.fetchval(
                "SELECT count(*) FROM tickets WHERE event_id = $1 AND status = 'used'", event_id
            )
        return (
            int(revenue),
            {row["status"]: row["n"] for row in statuses},
            {row["reason"]: row["n"] for row in failures},
            int(checked_in),
        )

    async def event_orders(
        self, event_id: int, limit: int, cursor: str | None
    ) -> tuple[list[Order], str | None]:
        after = read_cursor(cursor, AfterOrder)
        ids = await self._pool.fetch(
            """SELECT o.id, o.created_at FROM orders o
                WHERE o.id IN (SELECT order_id FROM order_lines WHERE event_id = $1)
                  AND ($2::timestamptz IS NULL OR (o.created_at, o.id) < ($2, $3))
                ORDER BY o.created_at DESC, o.id DESC LIMIT $4""",
            event_id,
            after.at if after else None,
            after.order_id if after else "",
            limit + 1,
        )
        page = [row["id"] for row in ids[:limit]]
        orders = [order for order_id in page if (order := await self._orders.order(order_id))]
        for order in orders:
            order.items = [line for line in order.items if line.event_id == event_id]
        next_cursor = (
            encode_cursor(ids[limit - 1]["created_at"].isoformat(), ids[limit - 1]["id"])
            if len(ids) > limit
            else None
        )
        return orders, next_cursor

"""PostgreSQL queries behind the partner's sales report."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from engine.hydration import Availability
from engine.orders import Order
from engine.pagination import AfterOrder, encode_cursor, read_cursor
from engine.reports import Customer
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
        self,
        event_id: int,
        limit: int,
        cursor: str | None,
        status: str | None = None,
        text: str | None = None,
    ) -> tuple[list[Order], str | None]:
        after = read_cursor(cursor, AfterOrder)
        pattern = None if text is None else f"%{_like_escaped(text)}%"
        ids = await self._pool.fetch(
            """SELECT o.id, o.created_at FROM orders o JOIN users u ON u.id = o.customer_id
                WHERE o.id IN (SELECT order_id FROM order_lines WHERE event_id = $1)
                  AND ($2::timestamptz IS NULL OR (o.created_at, o.id) < ($2, $3))
                  AND ($5::text IS NULL OR o.status = $5)
                  AND ($6::text IS NULL OR o.id = $7 OR u.name ILIKE $6 OR u.email ILIKE $6)
                ORDER BY o.created_at DESC, o.id DESC LIMIT $4""",
            event_id,
            after.at if after else None,
            after.order_id if after else "",
            limit + 1,
            status,
            pattern,
            text,
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

    async def event_order(self, event_id: int, order_id: str) -> Order | None:
        has_lines = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM order_lines WHERE order_id = $1 AND event_id = $2)",
            order_id,
            event_id,
        )
        order = await self._orders.order(order_id) if has_lines else None
        if order is not None:
            order.items = [line for line in order.items if line.event_id == event_id]
        return order

    async def customers(self, event_id: int, customer_ids: list[int]) -> dict[int, Customer]:
        rows = await self._pool.fetch(
            """SELECT u.id, u.name, u.email FROM users u
                WHERE u.id = ANY($2::bigint[])
                  AND EXISTS (SELECT 1 FROM orders o JOIN order_lines l ON l.order_id = o.id
                               WHERE o.customer_id = u.id AND l.event_id = $1)""",
            event_id,
            customer_ids,
        )
        return {row["id"]: Customer(row["name"], row["email"]) for row in rows}

    def order_rows(self, event_id: int) -> AsyncIterator[Sequence[Any]]:
        return self._stream(
            """SELECT o.id, o.created_at, o.status, u.name, u.email,
                      string_agg(l.label, '; ' ORDER BY l.line_no), count(*),
                      sum(l.price_cents), o.paid_at
                 FROM order_lines l JOIN orders o ON o.id = l.order_id
                 JOIN users u ON u.id = o.customer_id
                WHERE l.event_id = $1
                GROUP BY o.id, u.id ORDER BY o.created_at, o.id""",
            event_id,
        )

    def attendee_rows(self, event_id: int) -> AsyncIterator[Sequence[Any]]:
        return self._stream(
            """SELECT t.id, t.label, u.name, u.email, t.code, t.status, t.used_at, t.order_id
                 FROM tickets t JOIN orders o ON o.id = t.order_id
                 JOIN users u ON u.id = o.customer_id
                WHERE t.event_id = $1 AND t.status IN ('valid', 'used')
                ORDER BY t.id""",
            event_id,
        )

    async def _stream(self, sql: str, *args: Any) -> AsyncIterator[Sequence[Any]]:
        """Rows fetched STREAM_PREFETCH at a time from a server-side cursor (asyncpg needs a
        transaction for one), so only that many are in memory at once."""
        async with self._pool.acquire() as conn, conn.transaction(readonly=True):
            async for record in conn.cursor(sql, *args, prefetch=STREAM_PREFETCH):
                yield tuple(record.values())


STREAM_PREFETCH = 500


def _like_escaped(text: str) -> str:
    """`text` matched literally by LIKE: its own % and _ are not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

"""PostgreSQL side of orders: idempotent batch writes by workers, and reads of the archive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from engine.live_tickets import LiveTicket
from engine.order_document import OrderDocument
from engine.orders import HistoryEntry, Order, OrderLine, document_of
from engine.pagination import AfterOrder, encode_cursor, read_cursor
from engine.persistence import DeadLetter, OrderRows
from engine.store.lua_json import encode
from engine.store.pg_failures import classify, permanent_refusal
from engine.store.pg_tickets import LIVE_TICKETS, live_ticket

# Every write of a batch is one statement over arrays (unnest), not one per row: PostgreSQL
# plans and executes it once, and the batch costs a handful of round trips whatever its size.
_UPSERT_ORDERS = """
INSERT INTO orders (id, customer_id, status, total_cents, payment_ref, expires_at, created_at,
                    paid_at)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[],
                     $6::timestamptz[], $7::timestamptz[], $8::timestamptz[])
ON CONFLICT (id) DO UPDATE
   SET status = EXCLUDED.status, payment_ref = EXCLUDED.payment_ref,
       paid_at = EXCLUDED.paid_at, expires_at = EXCLUDED.expires_at, updated_at = now()
 WHERE order_status_rank(EXCLUDED.status) > order_status_rank(orders.status)"""

_INSERT_LINES = """
INSERT INTO order_lines (order_id, line_no, event_id, seat_id, ticket_type_id, label,
                         price_cents)
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::bigint[],
                     $6::text[], $7::bigint[])
ON CONFLICT DO NOTHING"""

_INSERT_HISTORY = """
INSERT INTO order_status_history (order_id, status, at, reason)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[])
ON CONFLICT DO NOTHING"""

_INSERT_TICKETS = """
INSERT INTO tickets (order_id, line_no, event_id, seat_id, ticket_type_id, label, code, status)
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::bigint[],
                     $6::text[], $7::text[], $8::text[])
ON CONFLICT (order_id, line_no) DO NOTHING
RETURNING id, order_id, seat_id, ticket_type_id, status"""

_VOID_TICKETS = """
UPDATE tickets SET status = 'void'
 WHERE order_id = ANY($1::text[]) AND status <> 'void'
RETURNING id, order_id, seat_id, ticket_type_id"""

# now() is the transaction's start: every row of a batch gets the same time
_TICKET_HISTORY = """
INSERT INTO ticket_status_history (ticket_id, status, at, reason)
SELECT t, s, now(), $3 FROM unnest($1::bigint[], $2::text[]) AS u (t, s)
ON CONFLICT DO NOTHING"""

_SEAT_HISTORY = """
INSERT INTO seat_status_history (seat_id, status, order_id, at)
SELECT s, $3, o, now() FROM unnest($1::bigint[], $2::text[]) AS u (s, o)
ON CONFLICT DO NOTHING"""

_COMPLETED_AT = """
SELECT order_id, at FROM order_status_history
 WHERE order_id = ANY($1::text[]) AND status = 'completed'"""


_RECORD_DEAD_LETTERS = """
INSERT INTO order_dead_letters (order_id, event_id, customer_id, status, reason, sqlstate,
                                detail, document)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::jsonb[])
ON CONFLICT (order_id) DO UPDATE
   SET status = EXCLUDED.status, reason = EXCLUDED.reason, sqlstate = EXCLUDED.sqlstate,
       detail = EXCLUDED.detail, document = EXCLUDED.document, last_refused_at = now(),
       attempts = order_dead_letters.attempts + 1"""


class PgOrderStore:
    # how the Persister tells an unreachable PostgreSQL from an order it refuses, and why
    classify_failure = staticmethod(classify)
    refusal_reason = staticmethod(permanent_refusal)

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write(self, batch: list[OrderRows]) -> dict[str, datetime]:
        """Write orders, lines, histories and tickets in one transaction, idempotently.

        Returns when each completed order of the batch was completed, as PostgreSQL keeps it
        (an earlier, interrupted run may have completed it already)."""
        lines = [line for r in batch for line in r.lines]
        history = [(r.order_id, *entry) for r in batch for entry in r.history]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                _UPSERT_ORDERS,
                [r.order_id for r in batch],
                [r.customer_id for r in batch],
                [r.status for r in batch],
                [r.total_cents for r in batch],
                [r.payment_ref for r in batch],
                [r.expires_at for r in batch],
                [r.created_at for r in batch],
                [r.paid_at for r in batch],
            )
            if lines:
                await conn.execute(_INSERT_LINES, *_columns(lines, 7))
            if history:
                await conn.execute(_INSERT_HISTORY, *_transpose(history, 4))
            # void first: a seat a cancelled order gives back may be re-sold in this batch
            voided_orders = [r.order_id for r in batch if r.void_tickets]
            if voided_orders:
                voided = await conn.fetch(_VOID_TICKETS, voided_orders)
                await self._apply_ticket_change(conn, voided, "void", "available", -1)
            tickets = [t for r in batch for t in r.tickets]
            if tickets:
                issued = await conn.fetch(_INSERT_TICKETS, *_columns(tickets, 8))
                valid = [t for t in issued if t["status"] == "valid"]
                await self._apply_ticket_change(conn, valid, "valid", "sold", +1)
                await self._born_void(conn, [t for t in issued if t["status"] == "void"])
            completed = [r.order_id for r in batch if r.completed_ms is not None]
            rows = await conn.fetch(_COMPLETED_AT, completed) if completed else []
        return {row["order_id"]: row["at"] for row in rows}

    async def record_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Keep orders refused for good, in a transaction of their own (the batch that was
        refused is rolled back); a letter written again counts one more attempt."""
        await self._pool.execute(
            _RECORD_DEAD_LETTERS,
            *_transpose(
                [
                    (
                        *(getattr(letter, name) for name in DeadLetter.__struct_fields__[:7]),
                        encode(letter.document).decode(),
                    )
                    for letter in letters
                ],
                8,
            ),
        )

    async def dead_letter_counts(self) -> dict[str, int]:
        """Orders kept as dead letters, by reason."""
        rows = await self._pool.fetch(
            "SELECT reason, count(*) AS n FROM order_dead_letters GROUP BY reason"
        )
        return {row["reason"]: row["n"] for row in rows}

    async def _born_void(self, conn: asyncpg.Connection, tickets: list[asyncpg.Record]) -> None:
        """Tickets of an order cancelled before they were written: valid, then void at once."""
        if tickets:
            await conn.execute(
                _TICKET_HISTORY,
                [t["id"] for t in tickets for _ in range(2)],
                ["valid", "void"] * len(tickets),
                "order_cancelled",
            )

    async def _apply_ticket_change(
        self,
        conn: asyncpg.Connection,
        tickets: list[asyncpg.Record],
        ticket_status: str,
        seat_status: str,
        delta: int,
    ) -> None:
        if not tickets:
            return
        await conn.execute(
            _TICKET_HISTORY, [t["id"] for t in tickets], [ticket_status] * len(tickets), None
        )
        seats = sorted((t["seat_id"], t["order_id"]) for t in tickets if t["seat_id"])
        if seats:
            await conn.execute(
                "UPDATE seats SET status = $2 WHERE id = ANY($1::bigint[])",
                [seat for seat, _ in seats],
                seat_status,
            )
            await conn.execute(
                _SEAT_HISTORY,
                [seat for seat, _ in seats],
                [order_id for _, order_id in seats],
                seat_status,
            )
        per_type: dict[int, int] = {}
        for t in tickets:
            if t["ticket_type_id"]:
                per_type[t["ticket_type_id"]] = per_type.get(t["ticket_type_id"], 0) + delta
        for type_id in sorted(per_type):
            await conn.execute(
                "UPDATE ticket_types SET sold = sold + $2 WHERE id = $1", type_id, per_type[type_id]
            )

    async def issued_tickets(self, order_ids: list[str]) -> list[LiveTicket]:
        """These orders' tickets as PostgreSQL has them, for their live events."""
        rows = await self._pool.fetch(
            f"{LIVE_TICKETS} WHERE t.order_id = ANY($1::text[])", order_ids
        )
        return [live_ticket(row) for row in rows]

    async def order(self, order_id: str) -> Order | None:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM orders WHERE id = $1", order_id)
            orders = await self._assemble(conn, rows)
        return orders[0] if orders else None

    async def document(self, order_id: str) -> OrderDocument | None:
        """The order in the shape of its Redis document (engine.orders.document_of)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM orders WHERE id = $1", order_id)
            orders = await self._assemble(conn, rows)
        if not orders:
            return None
        return document_of(orders[0], rows[0]["payment_ref"], rows[0]["paid_at"])

    async def customer_orders(
        self, customer_id: int, limit: int, cursor: str | None
    ) -> tuple[list[Order], str | None]:
        after = read_cursor(cursor, AfterOrder)
        async with self._pool.acquire() as conn:
            if after is None:
                rows = await conn.fetch(
                    """SELECT * FROM orders WHERE customer_id = $1
                       ORDER BY created_at DESC, id DESC LIMIT $2""",
                    customer_id,
                    limit + 1,
                )
            else:
                rows = await conn.fetch(
                    """SELECT * FROM orders WHERE customer_id = $1
                         AND (created_at, id) < ($2::timestamptz, $3)
                       ORDER BY created_at DESC, id DESC LIMIT $4""",
                    customer_id,
                    after.at,
                    after.order_id,
                    limit + 1,
                )
            orders = await self._assemble(conn, rows[:limit])
        next_cursor = (
            encode_cursor(rows[limit - 1]["created_at"].isoformat(), rows[limit - 1]["id"])
            if len(rows) > limit
            else None
        )
        return orders, next_cursor

    async def _assemble(self, conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[Order]:
        ids = [row["id"] for row in rows]
        lines: dict[str, list[OrderLine]] = {i: [] for i in ids}
        for line in await conn.fetch(
            "SELECT * FROM order_lines WHERE order_id = ANY($1) ORDER BY order_id, line_no", ids
        ):
            lines[line["order_id"]].append(
                OrderLine(
                    event_id=line["event_id"],
                    seat_id=line["seat_id"],
                    ticket_type_id=line["ticket_type_id"],
                    label=line["label"],
                    price_cents=line["price_cents"],
                )
            )
        history: dict[str, list[HistoryEntry]] = {i: [] for i in ids}
        for entry in await conn.fetch(
            """SELECT * FROM order_status_history WHERE order_id = ANY($1)
               ORDER BY order_id, at, order_status_rank(status)""",
            ids,
        ):
            history[entry["order_id"]].append(
                HistoryEntry(status=entry["status"], at=entry["at"], reason=entry["reason"])
            )
        return [
            Order(
                id=row["id"],
                customer_id=row["customer_id"],
                status=row["status"],
                items=lines[row["id"]],
                total_cents=row["total_cents"],
                expires_at=row["expires_at"],
                created_at=row["created_at"],
                history=history[row["id"]],
            )
            for row in rows
        ]


def _astuple(row: Any) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in row.__struct_fields__)


def _columns(rows: list[Any], width: int) -> list[list[Any]]:
    return _transpose([_astuple(row) for row in rows], width)


def _transpose(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Row tuples as `width` column lists, the arrays an unnest statement takes."""
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for column, value in zip(columns, row, strict=False):
            column.append(value)
    return columns


async def write_refusals(
    pool: asyncpg.Pool, event_id: int, entries: list[tuple[str, dict[str, str]]]
) -> None:
    """Refused purchases from an event's Redis stream; the stream id makes replays harmless."""
    await pool.executemany(
        """INSERT INTO purchase_refusals (event_id, stream_id, customer_id, reason, requested, at)
           VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint / 1000.0))
           ON CONFLICT DO NOTHING""",
        [
            (
                event_id,
                entry_id,
                int(f.get("c") or 0) or None,
                f.get("r", "unknown"),
                f.get("i", ""),
                int(f.get("t") or entry_id.split("-")[0]),
            )
            for entry_id, f in entries
        ],
    )


class PgOrderRepair:
    """PostgreSQL side of reconciliation."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def events_on_sale(self) -> list[int]:
        rows = await self._pool.fetch(
            """SELECT id FROM events WHERE sale_starts_at IS NOT NULL AND status <> 'archived'
                ORDER BY id"""
        )
        return [row["id"] for row in rows]

    async def reserved_orders(self, event_id: int) -> list[str]:
        rows = await self._pool.fetch(
            """SELECT id FROM orders WHERE status = 'reserved' AND id LIKE $1 || '-%'""",
            str(event_id),
        )
        return [row["id"] for row in rows]

    async def dead_letters(self, event_id: int) -> list[str]:
        rows = await self._pool.fetch(
            "SELECT order_id FROM order_dead_letters WHERE event_id = $1 ORDER BY order_id",
            event_id,
        )
        return [row["order_id"] for row in rows]

    async def expire_lost(self, order_ids: list[str], reason: str) -> int:
        """Orders whose hold Redis lost: nothing was paid, so they expire."""
        if not order_ids:
            return 0
        async with self._pool.acquire() as conn, conn.transaction():
            expired = await conn.fetch(
                """UPDATE orders SET status = 'expired', updated_at = now()
                    WHERE id = ANY($1) AND status = 'reserved' RETURNING id""",
                order_ids,
            )
            await conn.executemany(
                """INSERT INTO order_status_history (order_id, status, at, reason)
                   VALUES ($1, 'expired', now(), $2) ON CONFLICT DO NOTHING""",
                [(row["id"], reason) for row in expired],
            )
        return len(expired)

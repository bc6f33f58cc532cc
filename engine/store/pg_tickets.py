"""PostgreSQL side of tickets: gate keys, a customer's tickets and QR images, admissions and
the scan log, revoked codes, and the mail outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from engine.gate import RevokedCode, Scan, ScanBy, ScanEntry, ScannedTicket
from engine.gate_keys import GateKey, GateKeys
from engine.pagination import Page, decode_cursor, page_of
from engine.ticket_mail import MailOrder, MailTicket, OutboxItem
from engine.tickets import IssuedTicket


class PgGateKeyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def event_keys(self, event_id: int) -> list[GateKey]:
        rows = await self._pool.fetch(
            """SELECT event_id, key_id, public_key, sealed_private_key, created_at
                 FROM gate_keys WHERE event_id = $1 ORDER BY key_id""",
            event_id,
        )
        return [GateKey(**dict(row)) for row in rows]

    async def partner_keys(self, partner_id: int) -> list[GateKey]:
        rows = await self._pool.fetch(
            """SELECT k.event_id, k.key_id, k.public_key, k.sealed_private_key, k.created_at
                 FROM gate_keys k JOIN events e ON e.id = k.event_id
                WHERE e.partner_id = $1""",
            partner_id,
        )
        return [GateKey(**dict(row)) for row in rows]

    async def add_key(self, key: GateKey) -> bool:
        added = await self._pool.fetchval(
            """INSERT INTO gate_keys (event_id, key_id, public_key, sealed_private_key)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true""",
            key.event_id,
            key.key_id,
            key.public_key,
            key.sealed_private_key,
        )
        return bool(added)


def gate_keys_beside(order_store: Any, secret: bytes) -> GateKeys:
    """Gate keys in the same database as an order store, for callers of Persister that still
    hand it the bare ticket signing secret."""
    return GateKeys(PgGateKeyStore(order_store._pool), secret)


_SCANNED = "id, event_id, order_id, label, seat_id, ticket_type_id, status, used_at"

# one round trip: use the ticket, record its history and the scan
_ADMIT = f"""
WITH admitted AS (
    UPDATE tickets SET status = 'used', used_at = now()
     WHERE code = $1 AND event_id = $2::bigint AND status = 'valid'
    RETURNING {_SCANNED}
), history AS (
    INSERT INTO ticket_status_history (ticket_id, status, at, reason)
    SELECT id, 'used', used_at, 'scanned' FROM admitted
), scan AS (
    INSERT INTO ticket_scans (ticket_id, event_id, partner_id, scanned_by, gate, result, at)
    SELECT id, event_id, $3::bigint, $4::bigint, $5::text, 'admitted', used_at FROM admitted
)
SELECT {_SCANNED} FROM admitted"""

# the ticket was not valid (any more): say why, and log the scan with that answer
_REFUSE = f"""
WITH found AS (
    SELECT {_SCANNED},
           CASE status WHEN 'used' THEN 'already_used' WHEN 'void' THEN 'void'
                       ELSE 'invalid' END AS result
      FROM tickets WHERE code = $1 AND event_id = $2
), scan AS (
    INSERT INTO ticket_scans (ticket_id, event_id, partner_id, scanned_by, gate, result)
    SELECT id, event_id, $3::bigint, $4::bigint, $5::text, result FROM found
    UNION ALL
    SELECT NULL, $2::bigint, $3::bigint, $4::bigint, $5::text, 'invalid'
     WHERE NOT EXISTS (SELECT 1 FROM found)
)
SELECT * FROM found"""


def _scanned(row: asyncpg.Record) -> ScannedTicket:
    return ScannedTicket(**{name: row[name] for name in ScannedTicket.__struct_fields__})


class PgTicketStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- customers -------------------------------------------------------------------

    async def order_tickets(self, order_id: str) -> list[IssuedTicket]:
        rows = await self._pool.fetch(
            """SELECT id, event_id, label, code, status FROM tickets
                WHERE order_id = $1 ORDER BY line_no""",
            order_id,
        )
        return [IssuedTicket(**dict(row)) for row in rows]

    async def customer_ticket_qr(
        self, ticket_id: int, customer_id: int
    ) -> tuple[str, bytes | None] | None:
        row = await self._pool.fetchrow(
            """SELECT t.code, q.png FROM tickets t
                 JOIN orders o ON o.id = t.order_id
                 LEFT JOIN ticket_qr_images q ON q.ticket_id = t.id
                WHERE t.id = $1 AND o.customer_id = $2""",
            ticket_id,
            customer_id,
        )
        return (row["code"], row["png"]) if row else None

    async def save_qr(self, images: dict[int, bytes]) -> None:
        if images:
            await self._pool.execute(
                """INSERT INTO ticket_qr_images (ticket_id, png)
                   SELECT * FROM unnest($1::bigint[], $2::bytea[]) ON CONFLICT DO NOTHING""",
                list(images),
                list(images.values()),
            )

    async def qr_images(self, ticket_ids: list[int]) -> dict[int, bytes]:
        rows = await self._pool.fetch(
            "SELECT ticket_id, png FROM ticket_qr_images WHERE ticket_id = ANY($1::bigint[])",
            ticket_ids,
        )
        return {row["ticket_id"]: row["png"] for row in rows}

    # -- the gate ----------------------------------------------------------------------

    async def event_partner(self, event_id: int) -> int | None:
        partner: int | None = await self._pool.fetchval(
            "SELECT partner_id FROM events WHERE id = $1", event_id
        )
        return partner

    async def admit(self, code: str, event_id: int, by: ScanBy) -> Scan:
        args = (code, event_id, by.partner_id, by.user_id, by.gate)
        async with self._pool.acquire() as conn:
            admitted = await conn.fetchrow(_ADMIT, *args)
            if admitted is not None:
                return Scan(result="admitted", ticket=_scanned(admitted))
            # a new statement sees the scan that won, if one won meanwhile
            found = await conn.fetchrow(_REFUSE, *args)
        if found is None:
            return Scan(result="invalid")
        return Scan(result=found["result"], ticket=_scanned(found), used_at=found["used_at"])

    async def log_scans(self, entries: list[ScanEntry]) -> None:
        await self._pool.executemany(
            """INSERT INTO ticket_scans (ticket_id, event_id, partner_id, scanned_by, gate,
                                         result, at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            [
                (e.ticket_id, e.event_id, e.by.partner_id, e.by.user_id, e.by.gate, e.result, e.at)
                for e in entries
            ],
        )

    async def revoked(
        self, event_id: int, since: datetime | None, limit: int, cursor: str | None
    ) -> Page[RevokedCode]:
        after = decode_cursor(cursor, 2)
        rows = await self._pool.fetch(
            """SELECT t.id AS ticket_id, t.code, h.at AS voided_at
                 FROM tickets t
                 JOIN ticket_status_history h ON h.ticket_id = t.id AND h.status = 'void'
                WHERE t.event_id = $1 AND t.status = 'void'
                  AND h.at >= coalesce($2::timestamptz, '-infinity')
                  AND ($3::timestamptz IS NULL OR (h.at, t.id) > ($3, $4::bigint))
                ORDER BY h.at, t.id LIMIT $5""",
            event_id,
            since,
            datetime.fromisoformat(after[0]) if after else None,
            int(after[1]) if after else 0,
            limit + 1,
        )
        return page_of(
            [RevokedCode(**dict(row)) for row in rows],
            limit,
            lambda r: (r.voided_at.isoformat(), r.ticket_id),
        )


class PgMailOutbox:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._tickets = PgTicketStore(pool)

    async def claim_due(self, limit: int, lease_s: float) -> list[OutboxItem]:
        rows = await self._pool.fetch(
            """UPDATE mail_outbox
                  SET attempts = attempts + 1,
                      next_attempt_at = now() + make_interval(secs => $2)
                WHERE id IN (SELECT id FROM mail_outbox
                              WHERE status = 'pending' AND next_attempt_at <= now()
                              ORDER BY next_attempt_at, id LIMIT $1
                                FOR UPDATE SKIP LOCKED)
            RETURNING id, order_id, kind, attempts""",
            limit,
            lease_s,
        )
        return sorted((OutboxItem(**dict(row)) for row in rows), key=lambda item: item.id)

    async def mail_order(self, order_id: str) -> MailOrder | None:
        async with self._pool.acquire() as conn:
            order = await conn.fetchrow(
                """SELECT o.id, o.status, o.total_cents, u.name, u.email
                     FROM orders o JOIN users u ON u.id = o.customer_id WHERE o.id = $1""",
                order_id,
            )
            if order is None:
                return None
            tickets = await conn.fetch(
                """SELECT t.id, t.label, t.code, t.status, e.name AS event_name, e.venue,
                          e.starts_at
                     FROM tickets t LEFT JOIN events e ON e.id = t.event_id
                    WHERE t.order_id = $1 ORDER BY t.line_no""",
                order_id,
            )
        return MailOrder(
            order_id=order["id"],
            status=order["status"],
            customer_name=order["name"],
            customer_email=order["email"],
            total_cents=order["total_cents"],
            tickets=[MailTicket(**dict(row)) for row in tickets],
        )

    async def qr_images(self, ticket_ids: list[int]) -> dict[int, bytes]:
        return await self._tickets.qr_images(ticket_ids)

    async def save_qr(self, images: dict[int, bytes]) -> None:
        await self._tickets.save_qr(images)

    async def finish(self, item_id: int, status: str, delivered_to: str | None) -> None:
        await self._pool.execute(
            """UPDATE mail_outbox SET status = $2, delivered_to = $3, sent_at = now(),
                                      last_error = NULL
                WHERE id = $1""",
            item_id,
            status,
            delivered_to,
        )

    async def retry(self, item_id: int, error: str, after_s: float | None) -> None:
        await self._pool.execute(
            """UPDATE mail_outbox
                  SET last_error = $2,
                      status = CASE WHEN $3::float8 IS NULL THEN 'failed' ELSE status END,
                      next_attempt_at = now() + make_interval(secs => coalesce($3::float8, 0))
                WHERE id = $1""",
            item_id,
            error,
            after_s,
        )

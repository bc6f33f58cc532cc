"""PostgreSQL side of tickets: gate keys, a customer's tickets and QR images, admissions and
the scan log, revoked codes, and the mail outbox."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import asyncpg

from engine.gate import RevokedCode, Scan, ScanBy, ScanEntry, ScannedTicket
from engine.gate_keys import GateKey
from engine.live_tickets import LiveTicket, LoggedScan
from engine.pagination import AfterMoment, Page, page_of, read_cursor
from engine.ticket_codes import ticket_ref
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

    async def event_partner(self, event_id: int) -> int | None:
        partner_id: int | None = await self._pool.fetchval(
            "SELECT partner_id FROM events WHERE id = $1", event_id
        )
        return partner_id


_SCANNED = "id, event_id, order_id, label, seat_id, ticket_type_id, status, used_at"

# Scans arriving together are answered by one statement, so one commit serves many gates
# (the commit, not the work, is what a scan costs): use each valid ticket once, answer every
# scan from the statement's snapshot, and log them all. Of several scans of one code in the
# batch, the first is admitted and the rest are already_used. `result` is NULL only when the
# snapshot still shows a ticket valid that the UPDATE found used (a scan in another statement
# committed meanwhile and won): `_REFUSE`, a new statement, then reads what the winner wrote.
_ADMIT_BATCH = f"""
WITH scans AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                         $6::text[]) AS s(n, code, event_id, partner_id, scanned_by, gate)
), admitted AS (
    UPDATE tickets t SET status = 'used', used_at = now()
      FROM (SELECT DISTINCT code, event_id FROM scans) s
     WHERE t.code = s.code AND t.event_id = s.event_id AND t.status = 'valid'
    RETURNING t.code, {", ".join(f"t.{c}" for c in _SCANNED.split(", "))}
), history AS (
    INSERT INTO ticket_status_history (ticket_id, status, at, reason)
    SELECT id, 'used', used_at, 'scanned' FROM admitted
), winners AS (
    SELECT DISTINCT ON (code) code, n FROM scans
     WHERE code IN (SELECT code FROM admitted) ORDER BY code, n
), answer AS (
    SELECT s.n, {", ".join(f"a.{c}" for c in _SCANNED.split(", "))},
           CASE WHEN w.n = s.n THEN 'admitted' ELSE 'already_used' END AS result
      FROM scans s JOIN admitted a ON a.code = s.code AND a.event_id = s.event_id
      LEFT JOIN winners w ON w.code = s.code
    UNION ALL
    SELECT s.n, {", ".join(f"t.{c}" for c in _SCANNED.split(", "))},
           CASE t.status WHEN 'used' THEN 'already_used' WHEN 'void' THEN 'void' END
      FROM scans s JOIN tickets t ON t.code = s.code AND t.event_id = s.event_id
     WHERE NOT EXISTS (SELECT 1 FROM admitted a WHERE a.code = s.code)
), scan AS (
    INSERT INTO ticket_scans (ticket_id, event_id, partner_id, scanned_by, gate, result)
    SELECT a.id, a.event_id, s.partner_id, s.scanned_by, s.gate, a.result
      FROM answer a JOIN scans s USING (n) WHERE a.result IS NOT NULL
    UNION ALL
    SELECT NULL, s.event_id, s.partner_id, s.scanned_by, s.gate, 'invalid'
      FROM scans s WHERE NOT EXISTS (SELECT 1 FROM answer a WHERE a.n = s.n)
)
SELECT * FROM answer"""

# the ticket was not valid (any more): say why, and log the scan with that answer
_REFUSE = f"""
WITH found AS (
    SELECT {_SCANNED},
           CASE status WHEN 'used' THEN 'already_used' WHEN 'void' THEN 'void'
                       ELSE 'invalid' END AS result
      FROM tickets WHERE code = $1 AND event_id = $2::bigint
), scan AS (
    INSERT INTO ticket_scans (ticket_id, event_id, partner_id, scanned_by, gate, result)
    SELECT id, event_id, $3::bigint, $4::bigint, $5::text, result FROM found
    UNION ALL
    SELECT NULL, $2::bigint, $3::bigint, $4::bigint, $5::text, 'invalid'
     WHERE NOT EXISTS (SELECT 1 FROM found)
)
SELECT * FROM found"""


# a ticket as a live event keeps it: its state and when it took it
LIVE_TICKETS = """
SELECT t.id, t.event_id, t.order_id, t.line_no, t.label, t.seat_id, t.ticket_type_id, t.code,
       t.status,
       CASE t.status
            WHEN 'used' THEN t.used_at
            WHEN 'void' THEN coalesce((SELECT max(h.at) FROM ticket_status_history h
                                        WHERE h.ticket_id = t.id AND h.status = 'void'),
                                       t.created_at)
       END AS changed_at
  FROM tickets t"""

# scans logged by live events (lua/scan.lua): the log, and each admitted ticket used with its
# history, idempotently (a scan's stream id is unique per event)
_WRITE_SCANS = """
WITH s AS (
    SELECT * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[],
                         $7::text[], $8::timestamptz[])
        AS s(stream_id, ticket_id, result, partner_id, scanned_by, gate, at)
), logged AS (
    INSERT INTO ticket_scans (ticket_id, event_id, partner_id, scanned_by, gate, result, at,
                              stream_id)
    SELECT ticket_id, $1::bigint, partner_id, scanned_by, gate, result, at, stream_id FROM s
    ON CONFLICT (event_id, stream_id) WHERE stream_id IS NOT NULL DO NOTHING
), used AS (
    UPDATE tickets t SET status = 'used', used_at = s.at
      FROM s
     WHERE s.result = 'admitted' AND t.id = s.ticket_id AND t.event_id = $1::bigint
       AND t.status = 'valid'
    RETURNING t.id, t.used_at
)
INSERT INTO ticket_status_history (ticket_id, status, at, reason)
SELECT id, 'used', used_at, 'scanned' FROM used
ON CONFLICT DO NOTHING"""

# codes voided: PostgreSQL's, and those a live event voided that it may not have yet
# ($6/$7: ticket ids and times from Redis, which win for the tickets they name)
_REVOKED = """
WITH live AS (
    SELECT * FROM unnest($6::bigint[], $7::timestamptz[]) AS l(ticket_id, voided_at)
), revoked AS (
    SELECT t.id AS ticket_id, t.code, h.at AS voided_at
      FROM tickets t
      JOIN ticket_status_history h ON h.ticket_id = t.id AND h.status = 'void'
     WHERE t.event_id = $1 AND t.status = 'void'
       AND NOT EXISTS (SELECT 1 FROM live WHERE live.ticket_id = t.id)
    UNION ALL
    SELECT t.id, t.code, l.voided_at FROM live l JOIN tickets t ON t.id = l.ticket_id
     WHERE t.event_id = $1
)
SELECT * FROM revoked
 WHERE voided_at >= coalesce($2::timestamptz, '-infinity')
   AND ($3::timestamptz IS NULL OR (voided_at, ticket_id) > ($3, $4::bigint))
 ORDER BY voided_at, ticket_id LIMIT $5"""


def live_ticket(row: asyncpg.Record) -> LiveTicket:
    fields = dict(row)
    fields["ref"] = ticket_ref(fields["order_id"], fields.pop("line_no")).hex()
    return LiveTicket(**fields)


def _scanned(row: asyncpg.Record) -> ScannedTicket:
    return ScannedTicket(**{name: row[name] for name in ScannedTicket.__struct_fields__})


class AdmitBatcher:
    """Coalesces concurrent scans into `_ADMIT_BATCH` statements, at most `max_in_flight` at
    once: scans that arrive while those run wait for the next one, so a busy gate gets
    bigger batches rather than a queue of single commits."""

    def __init__(self, pool: asyncpg.Pool, max_in_flight: int = 4, max_batch: int = 256) -> None:
        self._pool = pool
        self._max_in_flight = max_in_flight
        self._max_batch = max_batch
        self._pending: list[tuple[str, int, ScanBy, asyncio.Future[Scan]]] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._scheduled = False

    async def admit(self, code: str, event_id: int, by: ScanBy) -> Scan:
        future: asyncio.Future[Scan] = asyncio.get_running_loop().create_future()
        self._pending.append((code, event_id, by, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if self._pending and not self._scheduled and len(self._in_flight) < self._max_in_flight:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending and len(self._in_flight) < self._max_in_flight:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            task = asyncio.ensure_future(self._send(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._schedule()

    async def _send(self, batch: list[tuple[str, int, ScanBy, asyncio.Future[Scan]]]) -> None:
        try:
            scans = await self._run(batch)
        except Exception as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), scan in zip(batch, scans, strict=True):
            if not future.done():
                future.set_result(scan)

    async def _run(self, batch: list[tuple[str, int, ScanBy, asyncio.Future[Scan]]]) -> list[Scan]:
        columns: list[list[Any]] = [list(range(len(batch))), [], [], [], [], []]
        for code, event_id, by, _ in batch:
            for column, value in zip(
                columns[1:], (code, event_id, by.partner_id, by.user_id, by.gate), strict=True
            ):
                column.append(value)
        async with self._pool.acquire() as conn:
            rows = {row["n"]: row for row in await conn.fetch(_ADMIT_BATCH, *columns)}
            scans = []
            for n, (code, event_id, by, _) in enumerate(batch):
                row = rows.get(n)
                if row is not None and row["result"] is None:  # lost a race: read the winner's
                    row = await conn.fetchrow(
                        _REFUSE, code, event_id, by.partner_id, by.user_id, by.gate
                    )
                scans.append(_scan_of(row))
        return scans


def _scan_of(row: asyncpg.Record | None) -> Scan:
    if row is None:
        return Scan(result="invalid")
    if row["result"] == "admitted":
        return Scan(result="admitted", ticket=_scanned(row))
    return Scan(result=row["result"], ticket=_scanned(row), used_at=row["used_at"])


class PgTicketStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._admissions = AdmitBatcher(pool)

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
        return await self._admissions.admit(code, event_id, by)

    async def event_tickets(self, event_id: int) -> list[LiveTicket]:
        rows = await self._pool.fetch(f"{LIVE_TICKETS} WHERE t.event_id = $1", event_id)
        return [live_ticket(row) for row in rows]

    async def issued_tickets(self, order_ids: list[str]) -> list[LiveTicket]:
        rows = await self._pool.fetch(
            f"{LIVE_TICKETS} WHERE t.order_id = ANY($1::text[])", order_ids
        )
        return [live_ticket(row) for row in rows]

    async def write_scans(self, event_id: int, scans: list[LoggedScan]) -> None:
        await self._pool.execute(
            _WRITE_SCANS,
            event_id,
            [s.stream_id for s in scans],
            [s.ticket_id for s in scans],
            [s.result for s in scans],
            [s.partner_id for s in scans],
            [s.user_id for s in scans],
            [s.gate for s in scans],
            [s.at for s in scans],
        )

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
        self,
        event_id: int,
        since: datetime | None,
        limit: int,
        cursor: str | None,
        live: list[tuple[int, datetime]],
    ) -> Page[RevokedCode]:
        after = read_cursor(cursor, AfterMoment)
        rows = await self._pool.fetch(
            _REVOKED,
            event_id,
            since,
            after.at if after else None,
            after.id if after else 0,
            limit + 1,
            [ticket_id for ticket_id, _ in live],
            [at for _, at in live],
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
                """SELECT o.id, o.status, o.total_cents, u.name, u.email, u.locale
                     FROM orders o JOIN users u ON u.id = o.customer_id WHERE o.id = $1""",
                order_id,
            )
            if order is None:
                return None
            tickets = await conn.fetch(
                """SELECT t.id, t.label, t.code, t.status, e.name AS event_name, e.venue,
                          e.starts_at, e.time_zone
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
            locale=order["locale"],
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

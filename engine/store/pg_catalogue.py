"""PostgreSQL repository for events and their on-sale windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from engine.catalogue import (
    Event,
    EventChanges,
    EventQuery,
    NewEvent,
    Removal,
    SaleChanges,
    SaleWindow,
    WaitingRoom,
    set_fields,
)
from engine.errors import InvalidInput
from engine.hydration import Availability
from engine.inventory import StoredTicketType

_EVENT = """e.id, e.partner_id, e.name, e.description, e.venue, e.starts_at, e.ends_at,
    e.cover_image_url, e.status, e.sale_starts_at, e.sale_ends_at, e.hold_seconds,
    e.max_tickets_per_customer, e.waiting_room_enabled, e.admit_per_minute, e.max_active,
    e.waiting_room_paused, e.time_zone"""

# `SaleWindow` / `SaleChanges` field -> column; waiting-room fields are nested one level down
_SALE_COLUMNS = {
    "starts_at": "sale_starts_at",
    "ends_at": "sale_ends_at",
    "hold_seconds": "hold_seconds",
    "max_tickets_per_customer": "max_tickets_per_customer",
}
_WAITING_ROOM_COLUMNS = {
    "enabled": "waiting_room_enabled",
    "admit_per_minute": "admit_per_minute",
    "max_active": "max_active",
    "paused": "waiting_room_paused",
}
# what a broken CHECK means to the client, for writes that raced a concurrent change
_BROKEN_RULES = {
    "events_check": ("ends_at", "ends_at must not be before starts_at"),
    "events_check1": ("ends_at", "the sale's ends_at must be after its starts_at"),
    "events_waiting_room_complete": (
        "waiting_room",
        "an enabled waiting room needs admit_per_minute and max_active",
    ),
}

# anything of the event that PostgreSQL records as sold ($1: the event id)
_STORED_SALES = """(EXISTS (SELECT 1 FROM seats WHERE event_id = $1 AND status = 'sold')
    OR EXISTS (SELECT 1 FROM ticket_types WHERE event_id = $1 AND sold > 0))"""


def _event(row: asyncpg.Record) -> Event:
    sale = None
    if row["sale_starts_at"] is not None:
        sale = SaleWindow(
            starts_at=row["sale_starts_at"],
            ends_at=row["sale_ends_at"],
            hold_seconds=row["hold_seconds"],
            max_tickets_per_customer=row["max_tickets_per_customer"],
            waiting_room=WaitingRoom(
                enabled=row["waiting_room_enabled"],
                admit_per_minute=row["admit_per_minute"],
                max_active=row["max_active"],
                paused=row["waiting_room_paused"],
            ),
        )
    return Event(
        id=row["id"],
        partner_id=row["partner_id"],
        name=row["name"],
        description=row["description"],
        venue=row["venue"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        cover_image_url=row["cover_image_url"],
        status=row["status"],
        sale=sale,
        time_zone=row["time_zone"],
    )


def _sale_columns(sale: SaleWindow | SaleChanges) -> dict[str, Any]:
    fields = set_fields(sale)
    room = fields.pop("waiting_room", None)
    columns = {_SALE_COLUMNS[name]: value for name, value in fields.items()}
    if room is not None:
        columns.update({_WAITING_ROOM_COLUMNS[k]: v for k, v in set_fields(room).items()})
    return columns


def like_pattern(text: str) -> str:
    """`%text%` for ILIKE, with the text's own wildcards matched literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class _Params:
    """Numbered placeholders for a statement whose conditions depend on the request."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _list_statement(
    query: EventQuery, after: tuple[datetime, int] | None, limit: int
) -> tuple[str, list[Any]]:
    # only the filters in use appear, so each shape gets its own plan and the indexes
    # (published by start, partner by start, full text) stay usable
    p = _Params()
    conditions = []
    if query.published_only:
        conditions.append("e.status = 'published'")
    elif query.archived:
        conditions.append("e.status = 'archived'")
    else:
        conditions.append("e.status <> 'archived'")
    if query.partner_id is not None:
        conditions.append(f"e.partner_id = {p(query.partner_id)}")
    if query.starts_from is not None:
        conditions.append(f"e.starts_at >= {p(query.starts_from)}")
    if query.starts_to is not None:
        conditions.append(f"e.starts_at <= {p(query.starts_to)}")
    if query.text is not None:
        conditions.append(
            f"(e.search @@ plainto_tsquery('simple', {p(query.text)})"
            f" OR e.name ILIKE {p(like_pattern(query.text))})"
        )
    if after is not None:
        conditions.append(f"(e.starts_at, e.id) > ({p(after[0])}, {p(after[1])})")
    where = " AND ".join(conditions) or "true"
    sql = f"""SELECT {_EVENT} FROM events e WHERE {where}
               ORDER BY e.starts_at, e.id LIMIT {p(limit)}"""
    return sql, p.values


def _set_clause(columns: dict[str, Any], first_param: int) -> tuple[str, list[Any]]:
    assignments = [f"{name} = ${first_param + i}" for i, name in enumerate(columns)]
    return ", ".join([*assignments, "updated_at = now()"]), list(columns.values())


def _broken_rule(exc: asyncpg.CheckViolationError) -> InvalidInput:
    field, message = _BROKEN_RULES.get(
        exc.constraint_name or "", ("body", f"the change breaks {exc.constraint_name}")
    )
    return InvalidInput(message, field=field)


class PgCatalogueStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert_event(self, partner_id: int, new: NewEvent) -> Event:
        try:
            row = await self._pool.fetchrow(
                f"""INSERT INTO events AS e (partner_id, name, description, venue, starts_at,
                                             ends_at, cover_image_url, time_zone)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_EVENT}""",
                partner_id,
                new.name,
                new.description,
                new.venue,
                new.starts_at,
                new.ends_at,
                new.cover_image_url,
                new.time_zone,
            )
        except asyncpg.CheckViolationError as exc:
            raise _broken_rule(exc) from exc
        return _event(row)

    async def event(self, event_id: int) -> Event | None:
        row = await self._pool.fetchrow(f"SELECT {_EVENT} FROM events e WHERE e.id = $1", event_id)
        return _event(row) if row else None

    async def events_after(
        self, query: EventQuery, after: tuple[datetime, int] | None, limit: int
    ) -> list[Event]:
        sql, values = _list_statement(query, after, limit)
        return [_event(row) for row in await self._pool.fetch(sql, *values)]

    async def update_event(self, event_id: int, changes: EventChanges) -> Event | None:
        # EventChanges' field names are the column names
        return await self._update(event_id, set_fields(changes), "true")

    async def update_sale(self, event_id: int, sale: SaleWindow | SaleChanges) -> Event | None:
        return await self._update(event_id, _sale_columns(sale), "true")

    async def publish(self, event_id: int) -> Event | None:
        return await self._update(
            event_id, {"status": "published"}, "e.status IN ('draft', 'published')"
        )

    async def cancel(self, event_id: int) -> Event | None:
        return await self._update(
            event_id, {"status": "cancelled"}, "e.status IN ('draft', 'published', 'cancelled')"
        )

    async def remove_event(self, event_id: int, has_orders: bool) -> Removal:
        async with self._pool.acquire() as conn, conn.transaction():
            # the row lock orders this against a concurrent removal of the same event
            status = await conn.fetchval(
                "SELECT status FROM events WHERE id = $1 FOR UPDATE", event_id
            )
            if status is None or status == "archived":
                return "gone"
            if await conn.fetchval(f"SELECT {_STORED_SALES}", event_id):
                return "has_sales"
            if has_orders or await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM order_lines WHERE event_id = $1)", event_id
            ):
                await conn.execute(
                    "UPDATE events SET status = 'archived', updated_at = now() WHERE id = $1",
                    event_id,
                )
                return "archived"
            await conn.execute("DELETE FROM events WHERE id = $1", event_id)
            return "deleted"

    async def availability(self, event_ids: list[int]) -> dict[int, Availability]:
        rows = await self._pool.fetch(
            """WITH wanted AS (SELECT unnest($1::bigint[]) AS id),
                    seat_counts AS (
                        SELECT event_id,
                               count(*) FILTER (WHERE status = 'available') AS available,
                               count(*) FILTER (WHERE status = 'sold') AS sold
                          FROM seats WHERE event_id = ANY($1::bigint[]) GROUP BY event_id),
                    type_counts AS (
                        SELECT event_id, sum(quantity - sold) AS available, sum(sold) AS sold
                          FROM ticket_types WHERE event_id = ANY($1::bigint[])
                         GROUP BY event_id)
               SELECT w.id,
                      coalesce(s.available, 0) + coalesce(t.available, 0) AS available,
                      coalesce(s.sold, 0) + coalesce(t.sold, 0) AS sold
                 FROM wanted w
                 LEFT JOIN seat_counts s ON s.event_id = w.id
                 LEFT JOIN type_counts t ON t.event_id = w.id""",
            event_ids,
        )
        return {
            row["id"]: Availability(available=int(row["available"]), held=0, sold=int(row["sold"]))
            for row in rows
        }

    async def ticket_types(self, event_id: int) -> list[StoredTicketType]:
        rows = await self._pool.fetch(
            """SELECT id, event_id, name, price_cents, quantity, sold FROM ticket_types
                WHERE event_id = $1 ORDER BY id""",
            event_id,
        )
        return [
            StoredTicketType(**{key: row[key] for key in StoredTicketType.__struct_fields__})
            for row in rows
        ]

    async def _update(self, event_id: int, columns: dict[str, Any], guard: str) -> Event | None:
        assignments, values = _set_clause(columns, 2)
        try:
            row = await self._pool.fetchrow(
                f"""UPDATE events e SET {assignments} WHERE e.id = $1 AND {guard}
                    RETURNING {_EVENT}""",
                event_id,
                *values,
            )
        except asyncpg.CheckViolationError as exc:
            raise _broken_rule(exc) from exc
        return _event(row) if row else None

"""PostgreSQL repository for seats and ticket types; ownership is read from `events`."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from engine.errors import EventHasSales, NotFound, SeatNotAvailable
from engine.inventory import (
    EventAccess,
    NewSeat,
    NewTicketType,
    Seat,
    SeatChanges,
    SeatStatus,
    StoredTicketType,
    TicketTypeChanges,
)

_SEAT = "s.id, s.event_id, s.label, s.section, s.price_cents, s.status"
_TYPE = "t.id, t.event_id, t.name, t.price_cents, t.quantity, t.sold"
_EVENT = "e.id AS access_event_id, e.partner_id AS access_partner_id, e.status AS access_status"


def _seat(row: asyncpg.Record) -> Seat:
    return Seat(**{key: row[key] for key in Seat.__struct_fields__})


def _ticket_type(row: asyncpg.Record) -> StoredTicketType:
    return StoredTicketType(**{key: row[key] for key in StoredTicketType.__struct_fields__})


def _access(row: asyncpg.Record) -> EventAccess:
    return EventAccess(row["access_event_id"], row["access_partner_id"], row["access_status"])


def _set_clause(changes: msgspec.Struct, first_param: int) -> tuple[str, list[Any]]:
    """`col = $n, ...` for the fields a partial update sets (column names are field names)."""
    fields = {
        name: value
        for name in changes.__struct_fields__
        if (value := getattr(changes, name)) is not msgspec.UNSET
    }
    columns = [f"{name} = ${first_param + i}" for i, name in enumerate(fields)]
    return ", ".join(columns), list(fields.values())


class PgInventoryStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def event_access(self, event_id: int) -> EventAccess | None:
        row = await self._pool.fetchrow(f"SELECT {_EVENT} FROM events e WHERE e.id = $1", event_id)
        return _access(row) if row else None

    async def insert_seats(self, event_id: int, seats: list[NewSeat]) -> list[str]:
        labels = [seat.label for seat in seats]
        async with self._pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                # one statement for the whole batch; ON CONFLICT also settles concurrent batches
                inserted = await conn.fetch(
                    """INSERT INTO seats (event_id, label, price_cents, section)
                       SELECT $1, label, price_cents, section
                         FROM unnest($2::text[], $3::bigint[], $4::text[])
                              AS batch (label, price_cents, section)
                       ON CONFLICT (event_id, label) DO NOTHING
                       RETURNING label""",
                    event_id,
                    labels,
                    [seat.price_cents for seat in seats],
                    [seat.section for seat in seats],
                )
            except asyncpg.ForeignKeyViolationError as exc:
                await transaction.rollback()
                raise NotFound("No such event") from exc
            except BaseException:
                await transaction.rollback()
                raise
            if len(inserted) == len(labels):
                await transaction.commit()
                return []
            await transaction.rollback()
        created = {row["label"] for row in inserted}
        return [label for label in labels if label not in created]

    async def seats_after(
        self, event_id: int, after_id: int, limit: int, status: SeatStatus | None
    ) -> list[Seat]:
        rows = await self._pool.fetch(
            f"""SELECT {_SEAT} FROM seats s
                 WHERE s.event_id = $1 AND s.id > $2 AND ($3::text IS NULL OR s.status = $3)
                 ORDER BY s.id LIMIT $4""",
            event_id,
            after_id,
            status,
            limit,
        )
        return [_seat(row) for row in rows]

    async def seats_by_ids(self, event_id: int, seat_ids: list[int]) -> list[Seat]:
        rows = await self._pool.fetch(
            f"""SELECT {_SEAT} FROM seats s
                 WHERE s.event_id = $1 AND s.id = ANY($2::bigint[]) ORDER BY s.id""",
            event_id,
            seat_ids,
        )
        return [_seat(row) for row in rows]

    async def seat(self, seat_id: int) -> tuple[Seat, EventAccess] | None:
        row = await self._pool.fetchrow(
            f"SELECT {_SEAT}, {_EVENT} FROM seats s JOIN events e ON e.id = s.event_id "
            "WHERE s.id = $1",
            seat_id,
        )
        return (_seat(row), _access(row)) if row else None

    async def update_available_seat(self, seat_id: int, changes: SeatChanges) -> Seat | None:
        assignments, values = _set_clause(changes, 2)
        row = await self._pool.fetchrow(
            f"""UPDATE seats s SET {assignments or "label = label"}
                 WHERE s.id = $1 AND s.status = 'available' RETURNING {_SEAT}""",
            seat_id,
            *values,
        )
        return _seat(row) if row else None

    async def delete_available_seat(self, seat_id: int) -> bool:
        try:
            result = await self._pool.execute(
                "DELETE FROM seats WHERE id = $1 AND status = 'available'", seat_id
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise SeatNotAvailable("Orders refer to this seat; change its price instead") from exc
        return bool(result == "DELETE 1")

    async def insert_ticket_type(self, event_id: int, new: NewTicketType) -> StoredTicketType:
        try:
            row = await self._pool.fetchrow(
                f"""INSERT INTO ticket_types AS t (event_id, name, price_cents, quantity)
                    VALUES ($1, $2, $3, $4) RETURNING {_TYPE}""",
                event_id,
                new.name,
                new.price_cents,
                new.quantity,
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound("No such event") from exc
        return _ticket_type(row)

    async def ticket_types_after(
        self, event_id: int, after_id: int, limit: int
    ) -> list[StoredTicketType]:
        rows = await self._pool.fetch(
            f"""SELECT {_TYPE} FROM ticket_types t WHERE t.event_id = $1 AND t.id > $2
                 ORDER BY t.id LIMIT $3""",
            event_id,
            after_id,
            limit,
        )
        return [_ticket_type(row) for row in rows]

    async def ticket_type(self, type_id: int) -> tuple[StoredTicketType, EventAccess] | None:
        row = await self._pool.fetchrow(
            f"SELECT {_TYPE}, {_EVENT} FROM ticket_types t JOIN events e ON e.id = t.event_id "
            "WHERE t.id = $1",
            type_id,
        )
        return (_ticket_type(row), _access(row)) if row else None

    async def update_ticket_type(
        self, type_id: int, changes: TicketTypeChanges
    ) -> StoredTicketType | None:
        assignments, values = _set_clause(changes, 2)
        # the quantity may not drop below what PostgreSQL has sold, checked in the same row lock
        row = await self._pool.fetchrow(
            f"""UPDATE ticket_types t SET {assignments or "name = name"}
                 WHERE t.id = $1 AND coalesce(${len(values) + 2}::integer, t.quantity) >= t.sold
                 RETURNING {_TYPE}""",
            type_id,
            *values,
            None if changes.quantity is msgspec.UNSET else changes.quantity,
        )
        return _ticket_type(row) if row else None

    async def delete_unsold_ticket_type(self, type_id: int) -> bool:
        try:
            result = await self._pool.execute(
                "DELETE FROM ticket_types WHERE id = $1 AND sold = 0", type_id
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise EventHasSales(
                "Orders refer to this ticket type; set its quantity instead"
            ) from exc
        return bool(result == "DELETE 1")

"""PostgreSQL repository for attractions and event lineups."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from engine.catalogue import LineupEntry, set_fields
from engine.errors import AttractionInUse, DuplicateLineup, NotFound
from engine.inventory import EventAccess
from engine.lineup import Attraction, AttractionChanges, LineupKey, NewAttraction

_ATTRACTION = "a.id, a.partner_id, a.name, a.genre, a.created_at"
_ENTRY = "l.attraction_id, a.name, a.genre, l.performs_at"


def _attraction(row: asyncpg.Record) -> Attraction:
    return Attraction(**{key: row[key] for key in Attraction.__struct_fields__})


def _entry(row: asyncpg.Record) -> LineupEntry:
    return LineupEntry(**{key: row[key] for key in LineupEntry.__struct_fields__})


class PgLineupStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def event_access(self, event_id: int) -> EventAccess | None:
        row = await self._pool.fetchrow(
            "SELECT id, partner_id, status FROM events WHERE id = $1", event_id
        )
        return EventAccess(row["id"], row["partner_id"], row["status"]) if row else None

    # --- attractions ---

    async def insert_attraction(self, partner_id: int, new: NewAttraction) -> Attraction:
        row = await self._pool.fetchrow(
            f"""INSERT INTO attractions AS a (partner_id, name, genre) VALUES ($1, $2, $3)
                RETURNING {_ATTRACTION}""",
            partner_id,
            new.name,
            new.genre,
        )
        return _attraction(row)

    async def attraction(self, attraction_id: int) -> Attraction | None:
        row = await self._pool.fetchrow(
            f"SELECT {_ATTRACTION} FROM attractions a WHERE a.id = $1", attraction_id
        )
        return _attraction(row) if row else None

    async def attractions_after(self, after_id: int, limit: int) -> list[Attraction]:
        rows = await self._pool.fetch(
            f"SELECT {_ATTRACTION} FROM attractions a WHERE a.id > $1 ORDER BY a.id LIMIT $2",
            after_id,
            limit,
        )
        return [_attraction(row) for row in rows]

    async def update_attraction(
        self, attraction_id: int, changes: AttractionChanges
    ) -> Attraction | None:
        # AttractionChanges' field names are the column names
        fields = set_fields(changes)
        if not fields:
            return await self.attraction(attraction_id)
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
        row = await self._pool.fetchrow(
            f"UPDATE attractions a SET {assignments} WHERE a.id = $1 RETURNING {_ATTRACTION}",
            attraction_id,
            *fields.values(),
        )
        return _attraction(row) if row else None

    async def delete_attraction(self, attraction_id: int) -> bool:
        try:
            result = await self._pool.execute(
                "DELETE FROM attractions WHERE id = $1", attraction_id
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise AttractionInUse(
                "This attraction is in an event's lineup; remove it from there first"
            ) from exc
        return bool(result == "DELETE 1")

    # --- lineups ---

    async def lineup_size(self, event_id: int) -> int:
        size: int = await self._pool.fetchval(
            "SELECT count(*) FROM event_lineup WHERE event_id = $1", event_id
        )
        return size

    async def add_to_lineup(
        self, event_id: int, attraction_id: int, performs_at: datetime | None
    ) -> LineupEntry | None:
        try:
            row = await self._pool.fetchrow(
                f"""WITH l AS (
                        INSERT INTO event_lineup (event_id, attraction_id, performs_at)
                        SELECT $1, id, $3 FROM attractions WHERE id = $2
                        RETURNING attraction_id, performs_at)
                    SELECT {_ENTRY} FROM l JOIN attractions a ON a.id = l.attraction_id""",
                event_id,
                attraction_id,
                performs_at,
            )
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateLineup("This attraction is already in the lineup") from exc
        except asyncpg.ForeignKeyViolationError as exc:  # the event was deleted meanwhile
            raise NotFound("No such event") from exc
        return _entry(row) if row else None

    async def lineup_after(
        self, event_id: int, after: LineupKey | None, limit: int | None
    ) -> list[LineupEntry]:
        """In order of performance, unknown times last; `limit` None for the whole lineup."""
        # LIMIT NULL is no limit
        values: list[object] = [event_id, limit]
        position = ""
        if after is not None and after.performs_at is None:
            position = "AND l.performs_at IS NULL AND l.attraction_id > $3"
            values.append(after.attraction_id)
        elif after is not None:
            position = "AND (l.performs_at IS NULL OR (l.performs_at, l.attraction_id) > ($3, $4))"
            values += [after.performs_at, after.attraction_id]
        rows = await self._pool.fetch(
            f"""SELECT {_ENTRY} FROM event_lineup l JOIN attractions a ON a.id = l.attraction_id
                 WHERE l.event_id = $1 {position}
                 ORDER BY l.performs_at NULLS LAST, l.attraction_id LIMIT $2""",
            *values,
        )
        return [_entry(row) for row in rows]

    async def whole_lineup(self, event_id: int) -> list[LineupEntry]:
        return await self.lineup_after(event_id, None, None)

    async def remove_from_lineup(self, event_id: int, attraction_id: int) -> bool:
        result = await self._pool.execute(
            "DELETE FROM event_lineup WHERE event_id = $1 AND attraction_id = $2",
            event_id,
            attraction_id,
        )
        return bool(result == "DELETE 1")

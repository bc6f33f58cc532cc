"""Lineup: attractions partners create, and which of them perform at an event.

Attractions form one public list that anyone may read; only the partner who created an
attraction may book it into its events, rename or delete it (another partner's is 404, as
any foreign resource), and not delete it while a lineup still has it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import msgspec

from engine.catalogue import (
    LineupEntry,
    can_see,
    check_moment,
    cursor_id,
    not_blank,
    partner_scope,
    set_fields,
)
from engine.errors import InvalidCursor, InvalidInput, NotFound
from engine.inventory import EventAccess, after_id, is_owner
from engine.pagination import Page, decode_cursor, page_of
from engine.principal import Principal

# keeps an event's detail, which carries the whole lineup, a bounded size
MAX_LINEUP = 500


class Attraction(msgspec.Struct):
    id: int
    partner_id: int
    name: str
    genre: str | None
    created_at: datetime


class NewAttraction(msgspec.Struct, frozen=True):
    name: str
    genre: str | None = None


class AttractionChanges(msgspec.Struct, frozen=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    genre: str | msgspec.UnsetType | None = msgspec.UNSET


class LineupKey(msgspec.Struct, frozen=True):
    """Position in a lineup: by time of performance (unknown times last), then attraction."""

    performs_at: datetime | None
    attraction_id: int


class LineupStore(Protocol):
    async def event_access(self, event_id: int) -> EventAccess | None: ...

    async def insert_attraction(self, partner_id: int, new: NewAttraction) -> Attraction: ...

    async def attraction(self, attraction_id: int) -> Attraction | None: ...

    async def attractions_after(self, after_id: int, limit: int) -> list[Attraction]: ...

    async def update_attraction(
        self, attraction_id: int, changes: AttractionChanges
    ) -> Attraction | None: ...

    async def delete_attraction(self, attraction_id: int) -> bool:
        """False when gone; AttractionInUse while a lineup has it."""

    async def lineup_size(self, event_id: int) -> int: ...

    async def add_to_lineup(
        self, event_id: int, attraction_id: int, performs_at: datetime | None
    ) -> LineupEntry | None:
        """None when the attraction does not exist; DuplicateLineup when already there."""

    async def lineup_after(
        self, event_id: int, after: LineupKey | None, limit: int | None
    ) -> list[LineupEntry]: ...

    async def remove_from_lineup(self, event_id: int, attraction_id: int) -> bool: ...


def may_edit(attraction: Attraction, partner: Principal) -> bool:
    return partner.role == "partner" and partner.partner_id == attraction.partner_id


def checked_new_attraction(new: NewAttraction) -> NewAttraction:
    return NewAttraction(name=not_blank("name", new.name), genre=blank_as_none(new.genre))


def checked_attraction_changes(changes: AttractionChanges) -> AttractionChanges:
    fields = set_fields(changes)
    if "name" in fields:
        fields["name"] = not_blank("name", fields["name"])
    if "genre" in fields:
        fields["genre"] = blank_as_none(fields["genre"])
    return AttractionChanges(**fields)


def blank_as_none(text: str | None) -> str | None:
    return (text or "").strip() or None


def lineup_key(entry: LineupEntry) -> tuple[str | None, int]:
    at = entry.performs_at.isoformat() if entry.performs_at else None
    return at, entry.attraction_id


def after_lineup_key(cursor: str | None) -> LineupKey | None:
    key = decode_cursor(cursor, 2)
    if key is None:
        return None
    moment, attraction_id = key
    try:
        at = None if moment is None else datetime.fromisoformat(moment)
        if at is not None:
            check_moment("cursor", at)
        return LineupKey(at, cursor_id(attraction_id))
    except (TypeError, ValueError, InvalidInput) as exc:
        raise InvalidCursor() from exc


class Lineup:
    def __init__(self, store: LineupStore) -> None:
        self._store = store

    # --- attractions ---

    async def create_attraction(self, partner: Principal, new: NewAttraction) -> Attraction:
        return await self._store.insert_attraction(
            partner_scope(partner), checked_new_attraction(new)
        )

    async def list_attractions(self, limit: int, cursor: str | None) -> Page[Attraction]:
        rows = await self._store.attractions_after(after_id(cursor), limit + 1)
        return page_of(rows, limit, lambda a: (a.id,))

    async def attraction(self, attraction_id: int) -> Attraction:
        found = await self._store.attraction(attraction_id)
        if found is None:
            raise NotFound("No such attraction")
        return found

    async def update_attraction(
        self, partner: Principal, attraction_id: int, changes: AttractionChanges
    ) -> Attraction:
        await self._editable(partner, attraction_id)
        checked = checked_attraction_changes(changes)
        updated = await self._store.update_attraction(attraction_id, checked)
        if updated is None:
            raise NotFound("No such attraction")
        return updated

    async def delete_attraction(self, partner: Principal, attraction_id: int) -> None:
        await self._editable(partner, attraction_id)
        if not await self._store.delete_attraction(attraction_id):
            raise NotFound("No such attraction")

    # --- an event's lineup ---

    async def add(
        self,
        partner: Principal,
        event_id: int,
        attraction_id: int,
        performs_at: datetime | None,
    ) -> LineupEntry:
        await self._owned_event(partner, event_id)
        await self._editable(partner, attraction_id)
        if performs_at is not None:
            check_moment("performs_at", performs_at)
        if await self._store.lineup_size(event_id) >= MAX_LINEUP:
            raise InvalidInput(
                f"An event's lineup holds at most {MAX_LINEUP} attractions", field="attraction_id"
            )
        entry = await self._store.add_to_lineup(event_id, attraction_id, performs_at)
        if entry is None:
            raise NotFound("No such attraction")
        return entry

    async def entries(
        self, viewer: Principal | None, event_id: int, limit: int, cursor: str | None
    ) -> Page[LineupEntry]:
        event = await self._store.event_access(event_id)
        if event is None or not can_see(event, viewer):
            raise NotFound("No such event")
        rows = await self._store.lineup_after(event_id, after_lineup_key(cursor), limit + 1)
        return page_of(rows, limit, lineup_key)

    async def remove(self, partner: Principal, event_id: int, attraction_id: int) -> None:
        await self._owned_event(partner, event_id)
        if not await self._store.remove_from_lineup(event_id, attraction_id):
            raise NotFound("This attraction is not in the lineup")

    async def _owned_event(self, partner: Principal, event_id: int) -> None:
        event = await self._store.event_access(event_id)
        if event is None or not is_owner(event, partner):
            raise NotFound("No such event")

    async def _editable(self, partner: Principal, attraction_id: int) -> None:
        found = await self._store.attraction(attraction_id)
        if found is None or not may_edit(found, partner):
            raise NotFound("No such attraction")

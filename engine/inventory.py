"""Inventory: an event's reserved seats and general-admission ticket types.

PostgreSQL (`InventoryStore`) keeps the catalogue and what is persisted as sold. While an event
is on sale its live state is in Redis (`LiveInventory`): holds, and sales not yet persisted.
Every status a client sees, and every guard on an edit, goes through one place:
`Inventory._with_live_status` for seats and `Inventory._with_live_counts` for ticket types,
built on the pure `seat_status`, `units_taken` and `ticket_availability` below.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal, Protocol

import msgspec

from engine.errors import (
    DuplicateSeat,
    EventHasSales,
    InvalidCursor,
    InvalidInput,
    NotFound,
    QuantityBelowSold,
    SeatNotAvailable,
)
from engine.hydration import Availability, InventoryCache, SnapshotSource, hydrate
from engine.pagination import Page, decode_cursor, encode_cursor, page_of
from engine.principal import Principal

SeatStatus = Literal["available", "held", "sold"]
EventStatus = Literal["draft", "published", "cancelled", "archived"]

MAX_SEATS_PER_REQUEST = 20_000
MAX_LABEL_LENGTH = 40
MAX_ID = 2**63 - 1
# a filtered listing of a live event reads this many seats per step, and at most
# MAX_SEATS_SCANNED per request; a short page with a next_cursor then says "keep going"
SCAN_STEP = 1000
MAX_SEATS_SCANNED = 20_000
_LIVE_MARKS: dict[str, SeatStatus] = {"a": "available", "h": "held", "s": "sold"}


class Seat(msgspec.Struct):
    id: int
    event_id: int
    label: str
    section: str | None
    price_cents: int
    status: SeatStatus


class TicketType(msgspec.Struct):
    id: int
    event_id: int
    name: str
    price_cents: int
    quantity: int
    available: int


class StoredTicketType(msgspec.Struct, frozen=True):
    """A ticket type as PostgreSQL knows it: `sold` counts persisted sales only."""

    id: int
    event_id: int
    name: str
    price_cents: int
    quantity: int
    sold: int


class NewSeat(msgspec.Struct, frozen=True):
    label: str
    price_cents: int
    section: str | None = None


class SeatRows(msgspec.Struct, frozen=True):
    """`{rows: ["A", "B"], seats_per_row: 20, price_cents}`: seats A1..A20, B1..B20."""

    rows: list[str]
    seats_per_row: int
    price_cents: int
    section: str | None = None


class SeatChanges(msgspec.Struct, frozen=True):
    price_cents: int | msgspec.UnsetType = msgspec.UNSET
    section: str | msgspec.UnsetType | None = msgspec.UNSET


class TicketTypeChanges(msgspec.Struct, frozen=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    price_cents: int | msgspec.UnsetType = msgspec.UNSET
    quantity: int | msgspec.UnsetType = msgspec.UNSET


class NewTicketType(msgspec.Struct, frozen=True):
    name: str
    price_cents: int
    quantity: int


class EventAccess(msgspec.Struct, frozen=True):
    event_id: int
    partner_id: int
    status: EventStatus


class Created(msgspec.Struct):
    created: int


class InventoryStore(Protocol):
    async def event_access(self, event_id: int) -> EventAccess | None: ...

    async def insert_seats(self, event_id: int, seats: list[NewSeat]) -> list[str]:
        """Insert all or none: the labels that already exist, nothing inserted if any."""

    async def seats_after(
        self, event_id: int, after_id: int, limit: int, status: SeatStatus | None
    ) -> list[Seat]:
        """Seats by id after `after_id`, in the status PostgreSQL holds."""

    async def seats_by_ids(self, event_id: int, seat_ids: list[int]) -> list[Seat]:
        """These seats of the event, in id order (ids it does not have are left out)."""

    async def seat(self, seat_id: int) -> tuple[Seat, EventAccess] | None: ...

    async def update_available_seat(self, seat_id: int, changes: SeatChanges) -> Seat | None:
        """None when PostgreSQL no longer has the seat available."""

    async def delete_available_seat(self, seat_id: int) -> bool:
        """False when not available; SeatNotAvailable when orders refer to it."""

    async def insert_ticket_type(self, event_id: int, new: NewTicketType) -> StoredTicketType: ...

    async def ticket_types_after(
        self, event_id: int, after_id: int, limit: int
    ) -> list[StoredTicketType]: ...

    async def ticket_type(self, type_id: int) -> tuple[StoredTicketType, EventAccess] | None: ...

    async def update_ticket_type(
        self, type_id: int, changes: TicketTypeChanges
    ) -> StoredTicketType | None:
        """None when the new quantity is below what PostgreSQL has as sold."""

    async def delete_unsold_ticket_type(self, type_id: int) -> bool:
        """False when some are sold; EventHasSales when orders refer to it."""


class LiveInventory(InventoryCache, Protocol):
    """Redis's view of events on sale (engine/store/redis_inventory.py); empty otherwise."""

    async def counts(self, event_ids: list[int]) -> dict[int, Availability]: ...

    async def seat_states(self, event_id: int, seat_ids: list[int]) -> dict[int, str]: ...

    async def seats_marked(
        self, event_id: int, mark: str, after_id: int, most: int
    ) -> list[int] | None:
        """Ids above `after_id` of the seats whose live mark starts with `mark`, in order;
        None when the event has more than `most` seats (then reading them all costs more
        than scanning)."""

    async def withdraw_seat(self, event_id: int, seat_id: int) -> bool: ...

    async def close_unsold(self, event_id: int) -> bool: ...

    async def pool_counts(self, event_id: int, type_ids: list[int]) -> dict[int, Availability]: ...


def row_labels(rows: list[str], seats_per_row: int) -> list[str]:
    return [f"{row}{number}" for row in rows for number in range(1, seats_per_row + 1)]


def seats_from_rows(batch: SeatRows) -> list[NewSeat]:
    if len(batch.rows) * batch.seats_per_row > MAX_SEATS_PER_REQUEST:
        raise InvalidInput(
            f"rows x seats_per_row must be at most {MAX_SEATS_PER_REQUEST} seats per request",
            field="seats_per_row",
        )
    return [
        NewSeat(label, batch.price_cents, batch.section)
        for label in row_labels(batch.rows, batch.seats_per_row)
    ]


def repeated_labels(labels: list[str]) -> list[str]:
    return [label for label, n in Counter(labels).items() if n > 1]


def check_new_seats(seats: list[NewSeat]) -> None:
    if not 1 <= len(seats) <= MAX_SEATS_PER_REQUEST:
        raise InvalidInput(f"send 1 to {MAX_SEATS_PER_REQUEST} seats per request", field="seats")
    too_long = [s.label for s in seats if not 1 <= len(s.label) <= MAX_LABEL_LENGTH]
    if too_long:
        raise InvalidInput(
            f"seat labels must be 1 to {MAX_LABEL_LENGTH} characters: {name_some(too_long)}",
            field="label",
        )
    repeated = repeated_labels([s.label for s in seats])
    if repeated:
        raise duplicate_seat("repeated in this request", repeated)


def duplicate_seat(why: str, labels: list[str]) -> DuplicateSeat:
    return DuplicateSeat(f"Seat labels {why}: {name_some(labels)}", labels=labels[:100])


def name_some(items: list[str], shown: int = 20) -> str:
    named = ", ".join(items[:shown])
    return f"{named} (and {len(items) - shown} more)" if len(items) > shown else named


def seat_status(stored: SeatStatus, live_mark: str | None) -> SeatStatus:
    """Redis's mark wins while the event is on sale; otherwise PostgreSQL's status stands."""
    return _LIVE_MARKS.get(live_mark[:1], stored) if live_mark else stored


def units_taken(stored: StoredTicketType, live: Availability | None) -> int:
    """Held + sold: Redis's counts while the event is on sale, else PostgreSQL's sold."""
    return stored.sold if live is None else live.held + live.sold


def ticket_availability(quantity: int, taken: int) -> int:
    return max(quantity - taken, 0)


def with_live_counts(
    stored: list[StoredTicketType], live: dict[int, Availability]
) -> list[TicketType]:
    """Ticket types as anyone sees them: PostgreSQL's row, Redis's live count when on sale."""
    return [
        TicketType(
            id=t.id,
            event_id=t.event_id,
            name=t.name,
            price_cents=t.price_cents,
            quantity=t.quantity,
            available=ticket_availability(t.quantity, units_taken(t, live.get(t.id))),
        )
        for t in stored
    ]


def is_owner(event: EventAccess, principal: Principal | None) -> bool:
    """The partner may see and change the event. An archived event has no owner any more: to
    its partner it is deleted (its orders stay their customers')."""
    return (
        event.status != "archived"
        and principal is not None
        and principal.role == "partner"
        and principal.partner_id == event.partner_id
    )


def can_view(event: EventAccess, viewer: Principal | None) -> bool:
    return event.status == "published" or is_owner(event, viewer)


def after_id(cursor: str | None) -> int:
    key = decode_cursor(cursor, 1)
    if key is None:
        return 0
    if type(key[0]) is not int or not 0 <= key[0] <= MAX_ID:
        raise InvalidCursor()
    return key[0]


def _id_key(item: Seat | TicketType) -> tuple[int]:
    return (item.id,)


class Inventory:
    def __init__(
        self, store: InventoryStore, live: LiveInventory, snapshots: SnapshotSource
    ) -> None:
        self._store = store
        self._live = live
        self._snapshots = snapshots

    # --- seats ---

    async def create_seats(
        self, partner: Principal, event_id: int, seats: list[NewSeat]
    ) -> Created:
        check_new_seats(seats)
        await self._owned_event(partner, event_id)
        existing = await self._store.insert_seats(event_id, seats)
        if existing:
            raise duplicate_seat("already in this event", existing)
        await self._refresh_live(event_id)
        return Created(created=len(seats))

    async def list_seats(
        self,
        viewer: Principal | None,
        event_id: int,
        status: SeatStatus | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Seat]:
        await self._visible_event(viewer, event_id)
        start = after_id(cursor)
        if not await self._is_live(event_id):
            return page_of(
                await self._store.seats_after(event_id, start, limit + 1, status), limit, _id_key
            )
        return await self._scan_live_seats(event_id, status, start, limit)

    async def update_seat(self, partner: Principal, seat_id: int, changes: SeatChanges) -> Seat:
        seat = await self._available_owned_seat(partner, seat_id)
        updated = await self._store.update_available_seat(seat_id, changes)
        if updated is None:
            raise SeatNotAvailable(f"Seat {seat.label} is held or sold")
        await self._refresh_live(seat.event_id)
        return updated

    async def delete_seat(self, partner: Principal, seat_id: int) -> None:
        seat = await self._available_owned_seat(partner, seat_id)
        # off sale in Redis first, atomically with claims, so nobody holds a deleted seat
        if await self._is_live(seat.event_id) and not await self._live.withdraw_seat(
            seat.event_id, seat_id
        ):
            raise SeatNotAvailable(f"Seat {seat.label} is held or sold")
        if not await self._store.delete_available_seat(seat_id):
            await self._refresh_live(seat.event_id)  # puts the seat back on sale
            raise SeatNotAvailable(f"Seat {seat.label} is held or sold")
        await self._refresh_live(seat.event_id)

    # --- ticket types ---

    async def create_ticket_type(
        self, partner: Principal, event_id: int, new: NewTicketType
    ) -> TicketType:
        await self._owned_event(partner, event_id)
        stored = await self._store.insert_ticket_type(event_id, new)
        await self._refresh_live(event_id)
        return (await self._with_live_counts(event_id, [stored]))[0]

    async def list_ticket_types(
        self, viewer: Principal | None, event_id: int, limit: int, cursor: str | None
    ) -> Page[TicketType]:
        await self._visible_event(viewer, event_id)
        stored = await self._store.ticket_types_after(event_id, after_id(cursor), limit + 1)
        return page_of(await self._with_live_counts(event_id, stored), limit, _id_key)

    async def update_ticket_type(
        self, partner: Principal, type_id: int, changes: TicketTypeChanges
    ) -> TicketType:
        _, taken = await self._owned_ticket_type(partner, type_id)
        if changes.quantity is not msgspec.UNSET and changes.quantity < taken:
            raise QuantityBelowSold(f"{taken} tickets of this type are held or sold")
        stored = await self._store.update_ticket_type(type_id, changes)
        if stored is None:
            raise QuantityBelowSold("More tickets of this type are sold than that quantity")
        await self._refresh_live(stored.event_id)
        return (await self._with_live_counts(stored.event_id, [stored]))[0]

    async def delete_ticket_type(self, partner: Principal, type_id: int) -> None:
        current, taken = await self._owned_ticket_type(partner, type_id)
        if taken:
            raise EventHasSales(f"{taken} tickets of this type are held or sold")
        if not await self._store.delete_unsold_ticket_type(type_id):
            raise EventHasSales("Tickets of this type are sold")
        await self._refresh_live(current.event_id)

    # --- access ---

    async def _visible_event(self, viewer: Principal | None, event_id: int) -> EventAccess:
        event = await self._store.event_access(event_id)
        if event is None or not can_view(event, viewer):
            raise NotFound("No such event")
        return event

    async def _owned_event(self, partner: Principal, event_id: int) -> EventAccess:
        event = await self._store.event_access(event_id)
        if event is None or not is_owner(event, partner):
            raise NotFound("No such event")
        return event

    async def _available_owned_seat(self, partner: Principal, seat_id: int) -> Seat:
        found = await self._store.seat(seat_id)
        if found is None or not is_owner(found[1], partner):
            raise NotFound("No such seat")
        seat = (await self._with_live_status(found[0].event_id, [found[0]]))[0]
        if seat.status != "available":
            raise SeatNotAvailable(f"Seat {seat.label} is {seat.status}")
        return seat

    async def _owned_ticket_type(
        self, partner: Principal, type_id: int
    ) -> tuple[StoredTicketType, int]:
        """The ticket type and how many of it are held or sold right now."""
        found = await self._store.ticket_type(type_id)
        if found is None or not is_owner(found[1], partner):
            raise NotFound("No such ticket type")
        stored = found[0]
        live = await self._live.pool_counts(stored.event_id, [stored.id])
        return stored, units_taken(stored, live.get(stored.id))

    # --- live state: the one place where Redis's view overlays PostgreSQL's ---

    async def _is_live(self, event_id: int) -> bool:
        return event_id in await self._live.counts([event_id])

    async def _with_live_status(self, event_id: int, seats: list[Seat]) -> list[Seat]:
        marks = await self._live.seat_states(event_id, [seat.id for seat in seats])
        for seat in seats:
            seat.status = seat_status(seat.status, marks.get(seat.id))
        return seats

    async def _with_live_counts(
        self, event_id: int, stored: list[StoredTicketType]
    ) -> list[TicketType]:
        live = await self._live.pool_counts(event_id, [t.id for t in stored])
        return with_live_counts(stored, live)

    async def _scan_live_seats(
        self, event_id: int, status: SeatStatus | None, start: int, limit: int
    ) -> Page[Seat]:
        """Filter by live status: Redis names the seats in that state, when the event is small
        enough to read whole, and PostgreSQL gives just those rows; otherwise seats are read in
        id order until the page is full."""
        if status is not None:
            marked = await self._live.seats_marked(event_id, status[0], start, MAX_SEATS_SCANNED)
            if marked is not None:
                return await self._page_of_marked(event_id, status, marked, limit)
        step = limit + 1 if status is None else max(SCAN_STEP, limit + 1)
        found: list[Seat] = []
        scanned = 0
        while len(found) <= limit:
            if scanned >= MAX_SEATS_SCANNED:
                return Page(items=found, next_cursor=encode_cursor(start))
            chunk = await self._store.seats_after(event_id, start, step, None)
            scanned += len(chunk)
            for seat in await self._with_live_status(event_id, chunk):
                if status is None or seat.status == status:
                    found.append(seat)
            if len(chunk) < step:
                break
            start = chunk[-1].id
        return page_of(found, limit, _id_key)

    async def _page_of_marked(
        self, event_id: int, status: SeatStatus, marked: list[int], limit: int
    ) -> Page[Seat]:
        """A page of the seats Redis marked (one snapshot of their states): their rows, until
        the page is full or the candidates run out (a seat deleted since has no row)."""
        found: list[Seat] = []
        for at in range(0, len(marked), limit + 1):
            found += await self._store.seats_by_ids(event_id, marked[at : at + limit + 1])
            if len(found) > limit:
                break
        for seat in found:
            seat.status = status
        return page_of(found, limit, _id_key)

    async def _refresh_live(self, event_id: int) -> None:
        """Reload an event on sale into Redis after its inventory changed."""
        if await self._is_live(event_id):
            await hydrate(event_id, self._snapshots, self._live)

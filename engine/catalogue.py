"""Catalogue: events, their on-sale windows, and what visitors see of them.

PostgreSQL (`CatalogueStore`) is the system of record. An event with an on-sale window is also
loaded into Redis (engine/hydration.py) so the sale engine can claim from it; every change that
the sale engine reads (status, start, window) re-loads it. The counts a visitor sees come from
one place, `Catalogue.availability`: Redis's live counts for events loaded there, PostgreSQL's
for the others. An event on sale is removed only after `close_unsold` took it off sale in
Redis atomically with claims, and only if PostgreSQL has nothing of it sold. Removing an event
that has orders (in any state) archives it: its orders, refunds and tickets stay readable by
their customers, while the event is gone from every list but its partner's
`?status=archived` and, like a deleted one, answers 404 to any read or change. An event
nobody ordered from is deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from engine.errors import (
    EventHasSales,
    InvalidCursor,
    InvalidInput,
    InvalidState,
    NotFound,
    PermissionDenied,
)
from engine.hydration import Availability, SnapshotSource, hydrate
from engine.inventory import (
    MAX_ID,
    EventAccess,
    EventStatus,
    LiveInventory,
    StoredTicketType,
    TicketType,
    is_owner,
    with_live_counts,
)
from engine.moments import EARLIEST, LATEST, check_moment
from engine.pagination import Page, decode_cursor, page_of
from engine.principal import Principal

__all__ = ["EARLIEST", "LATEST", "Availability", "EventStatus", "check_moment"]

Removal = Literal["deleted", "archived", "has_sales", "gone"]

DEFAULT_HOLD_SECONDS = 900
DEFAULT_MAX_TICKETS_PER_CUSTOMER = 10


class WaitingRoom(msgspec.Struct):
    enabled: bool = False
    admit_per_minute: int | None = None
    max_active: int | None = None
    paused: bool = False


class SaleWindow(msgspec.Struct):
    starts_at: datetime
    ends_at: datetime
    hold_seconds: int = DEFAULT_HOLD_SECONDS
    max_tickets_per_customer: int = DEFAULT_MAX_TICKETS_PER_CUSTOMER
    waiting_room: WaitingRoom = msgspec.field(default_factory=WaitingRoom)


class LineupEntry(msgspec.Struct):
    attraction_id: int
    name: str
    genre: str | None
    performs_at: datetime | None


class Event(msgspec.Struct):
    id: int
    partner_id: int
    name: str
    description: str
    venue: str
    starts_at: datetime
    ends_at: datetime | None
    cover_image_url: str | None
    status: EventStatus
    sale: SaleWindow | None
    # filled by Catalogue.availability before anyone sees the event
    availability: Availability = msgspec.field(default_factory=lambda: Availability(0, 0, 0))
    # IANA zone of the venue, for showing its times (None: the site's TIME_ZONE)
    time_zone: str | None = None

    @property
    def access(self) -> EventAccess:
        return EventAccess(self.id, self.partner_id, self.status)


class EventDetail(Event, kw_only=True):
    ticket_types: list[TicketType]
    lineup: list[LineupEntry]


class NewEvent(msgspec.Struct, frozen=True):
    name: str
    venue: str
    starts_at: datetime
    description: str = ""
    ends_at: datetime | None = None
    cover_image_url: str | None = None
    time_zone: str | None = None


class EventChanges(msgspec.Struct, frozen=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    venue: str | msgspec.UnsetType = msgspec.UNSET
    starts_at: datetime | msgspec.UnsetType = msgspec.UNSET
    ends_at: datetime | msgspec.UnsetType | None = msgspec.UNSET
    cover_image_url: str | msgspec.UnsetType | None = msgspec.UNSET
    time_zone: str | msgspec.UnsetType | None = msgspec.UNSET


class WaitingRoomChanges(msgspec.Struct, frozen=True):
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    admit_per_minute: int | msgspec.UnsetType | None = msgspec.UNSET
    max_active: int | msgspec.UnsetType | None = msgspec.UNSET
    paused: bool | msgspec.UnsetType = msgspec.UNSET


class SaleChanges(msgspec.Struct, frozen=True):
    """A partial change of a window; field names are those of `SaleWindow`."""

    starts_at: datetime | msgspec.UnsetType = msgspec.UNSET
    ends_at: datetime | msgspec.UnsetType = msgspec.UNSET
    hold_seconds: int | msgspec.UnsetType = msgspec.UNSET
    max_tickets_per_customer: int | msgspec.UnsetType = msgspec.UNSET
    waiting_room: WaitingRoomChanges | msgspec.UnsetType = msgspec.UNSET


class EventQuery(msgspec.Struct, frozen=True):
    """Which events a list shows: `text` searched, `starts_from` <= starts_at <= `starts_to`."""

    text: str | None = None
    starts_from: datetime | None = None
    starts_to: datetime | None = None
    partner_id: int | None = None
    published_only: bool = True
    archived: bool = False  # the archived events instead of the others (a partner's own list)


class CatalogueStore(Protocol):
    async def insert_event(self, partner_id: int, new: NewEvent) -> Event: ...

    async def event(self, event_id: int) -> Event | None: ...

    async def events_after(
        self, query: EventQuery, after: tuple[datetime, int] | None, limit: int
    ) -> list[Event]:
        """Events matching `query` in (starts_at, id) order, after that key."""

    async def update_event(self, event_id: int, changes: EventChanges) -> Event | None:
        """Write the fields `changes` sets; InvalidInput when the result breaks a constraint."""

    async def publish(self, event_id: int) -> Event | None:
        """None unless the event exists and is a draft or already published."""

    async def cancel(self, event_id: int) -> Event | None:
        """Mark the event cancelled; None unless it is a draft, published or cancelled."""

    async def update_sale(self, event_id: int, sale: SaleWindow | SaleChanges) -> Event | None:
        """Write the window fields given; InvalidInput when the result breaks a constraint."""

    async def remove_event(self, event_id: int, has_orders: bool) -> Removal:
        """Unless PostgreSQL has anything of it sold ('has_sales'): archive the event if it
        `has_orders` or PostgreSQL has an order line of it, else delete it. 'gone' if it was
        deleted or archived already."""

    async def availability(self, event_ids: list[int]) -> dict[int, Availability]:
        """Counts from what PostgreSQL holds (no holds: those live in Redis), for every id."""

    async def ticket_types(self, event_id: int) -> list[StoredTicketType]: ...


class EventOrders(Protocol):
    async def write_all(self, event_id: int) -> bool:
        """Write to PostgreSQL every order Redis holds of the event, its refused purchases,
        and the changes pending in other events (an order spanning events lives in its first
        one); True if Redis has any order of it (its own, or its part of another event's).
        InvalidState, nothing forgotten, if PostgreSQL refuses an order of it."""


class LineupSource(Protocol):
    async def whole_lineup(self, event_id: int) -> list[LineupEntry]: ...


# --- rules (pure) ---


def can_see(event: EventAccess, viewer: Principal | None) -> bool:
    """Drafts are their owner's alone; a cancelled event stays visible, so buyers learn of it;
    an archived one is nobody's to see (its partner lists it with ?status=archived)."""
    if event.status == "archived":
        return False
    return event.status != "draft" or is_owner(event, viewer)


def partner_scope(principal: Principal) -> int:
    """The partner a new event or attraction belongs to: the partner creating it."""
    if principal.role != "partner" or principal.partner_id is None:
        raise PermissionDenied("This action is for partner accounts")
    return principal.partner_id


def not_blank(field: str, value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise InvalidInput(f"{field} must not be blank", field=field)
    return stripped


def check_event_times(starts_at: datetime, ends_at: datetime | None) -> None:
    check_moment("starts_at", starts_at)
    if ends_at is not None:
        check_moment("ends_at", ends_at)
        if ends_at < starts_at:
            raise InvalidInput("ends_at must not be before starts_at", field="ends_at")


def check_time_zone(zone: str | None) -> None:
    """An IANA zone this machine knows (America/Sao_Paulo), or none."""
    if zone is None:
        return
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            "time_zone must be an IANA time zone such as America/Sao_Paulo", field="time_zone"
        ) from exc


def checked_new_event(new: NewEvent) -> NewEvent:
    check_event_times(new.starts_at, new.ends_at)
    check_time_zone(new.time_zone)
    return msgspec.structs.replace(
        new, name=not_blank("name", new.name), venue=not_blank("venue", new.venue)
    )


def set_fields(changes: msgspec.Struct) -> dict[str, Any]:
    """The fields a partial change sets (those not UNSET)."""
    return {
        name: value
        for name in changes.__struct_fields__
        if (value := getattr(changes, name)) is not msgspec.UNSET
    }


def checked_event_changes(current: Event, changes: EventChanges) -> EventChanges:
    """The changes with names trimmed, if the event they make is valid."""
    fields = set_fields(changes)
    for text in ("name", "venue"):
        if text in fields:
            fields[text] = not_blank(text, fields[text])
    if "time_zone" in fields:
        check_time_zone(fields["time_zone"])
    if "starts_at" in fields or "ends_at" in fields:
        check_event_times(
            fields.get("starts_at", current.starts_at), fields.get("ends_at", current.ends_at)
        )
    return EventChanges(**fields)


def check_sale_window(sale: SaleWindow) -> None:
    check_moment("starts_at", sale.starts_at)
    check_moment("ends_at", sale.ends_at)
    if sale.ends_at <= sale.starts_at:
        raise InvalidInput("ends_at must be after starts_at", field="ends_at")
    room = sale.waiting_room
    if room.enabled:
        for name in ("admit_per_minute", "max_active"):
            if getattr(room, name) is None:
                raise InvalidInput(
                    f"waiting_room.{name} is required when the waiting room is enabled",
                    field=f"waiting_room.{name}",
                )


def merged_sale(current: SaleWindow, changes: SaleChanges) -> SaleWindow:
    fields = set_fields(changes)
    room_changes = fields.pop("waiting_room", None)
    room = current.waiting_room
    if room_changes is not None:
        room = msgspec.structs.replace(room, **set_fields(room_changes))
    return msgspec.structs.replace(current, **fields, waiting_room=room)


def after_start(cursor: str | None) -> tuple[datetime, int] | None:
    """The (starts_at, id) key a list cursor carries; None for the first page."""
    key = decode_cursor(cursor, 2)
    if key is None:
        return None
    moment, last_id = key
    try:
        at = datetime.fromisoformat(moment)
        check_moment("cursor", at)
        return at, cursor_id(last_id)
    except (TypeError, ValueError, InvalidInput) as exc:
        raise InvalidCursor() from exc


def cursor_id(value: object) -> int:
    """An id read back from a cursor; ValueError unless it is one."""
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise ValueError(value)
    return value


def start_key(event: Event) -> tuple[str, int]:
    return event.starts_at.isoformat(), event.id


def checked_query(query: EventQuery) -> EventQuery:
    for field, moment in (("from", query.starts_from), ("to", query.starts_to)):
        if moment is not None:
            check_moment(field, moment)
    if query.starts_from and query.starts_to and query.starts_from > query.starts_to:
        raise InvalidInput("from must not be after to", field="from")
    text = (query.text or "").strip() or None
    return msgspec.structs.replace(query, text=text)


def found(event: Event | None) -> Event:
    if event is None:  # deleted between a read and a write
        raise NotFound("No such event")
    return event


E = TypeVar("E", bound=Event)


class Catalogue:
    def __init__(
        self,
        store: CatalogueStore,
        live: LiveInventory,
        snapshots: SnapshotSource,
        lineup: LineupSource,
        orders: EventOrders,
    ) -> None:
        self._store = store
        self._live = live
        self._snapshots = snapshots
        self._lineup = lineup
        self._orders = orders

    # --- reads ---

    async def list_events(self, query: EventQuery, limit: int, cursor: str | None) -> Page[Event]:
        rows = await self._store.events_after(checked_query(query), after_start(cursor), limit + 1)
        page = page_of(rows, limit, start_key)
        await self.availability(page.items)
        return page

    async def list_own_events(
        self, partner: Principal, query: EventQuery, limit: int, cursor: str | None
    ) -> Page[Event]:
        own = msgspec.structs.replace(query, partner_id=partner.partner_id, published_only=False)
        return await self.list_events(own, limit, cursor)

    async def detail(self, viewer: Principal | None, event_id: int) -> EventDetail:
        event = await self._store.event(event_id)
        if event is None or not can_see(event.access, viewer):
            raise NotFound("No such event")
        await self.availability([event])
        return EventDetail(
            **msgspec.structs.asdict(event),
            ticket_types=await self._ticket_types(event_id),
            lineup=await self._lineup.whole_lineup(event_id),
        )

    async def of_orders(self, event_ids: list[int]) -> dict[int, Event]:
        """The events a customer's orders name (archived ones too: their orders stay the
        customer's), without live counts: what an order page or a ticket prints."""
        found: dict[int, Event] = {}
        for event_id in sorted(set(event_ids)):
            event = await self._store.event(event_id)
            if event is not None:
                found[event_id] = event
        return found

    # --- writes (owner only) ---

    async def create(self, partner: Principal, new: NewEvent) -> Event:
        event = await self._store.insert_event(partner_scope(partner), checked_new_event(new))
        return (await self.availability([event]))[0]

    async def update(self, partner: Principal, event_id: int, changes: EventChanges) -> Event:
        current = await self._owned(partner, event_id)
        checked = checked_event_changes(current, changes)
        event = found(await self._store.update_event(event_id, checked))
        # the sale engine refuses cancellations once the event has started
        if checked.starts_at is not msgspec.UNSET:
            await self._reload_sale(event)
        return (await self.availability([event]))[0]

    async def delete(self, partner: Principal, event_id: int) -> Removal:
        """Delete an event nobody ordered from; archive one with orders in any state. Says
        which ('deleted' or 'archived')."""
        event = await self._owned(partner, event_id)
        # off sale in Redis first, atomically with claims: from here on nothing of it is held
        # or sold, and its orders no longer change
        if not await self._live.close_unsold(event_id):
            await self._reload_sale(event)  # back on sale as it was
            raise EventHasSales("Tickets of this event are held or sold")
        try:
            # what Redis holds of its orders reaches PostgreSQL before its keys are dropped
            has_orders = event.sale is not None and await self._orders.write_all(event_id)
            # the store checks PostgreSQL again, against a sale persisted in between
            removal = await self._store.remove_event(event_id, has_orders)
        except Exception:
            await self._reload_sale(event)
            raise
        if removal == "has_sales":
            await self._reload_sale(event)
            raise EventHasSales("Tickets of this event are held or sold")
        if event.sale is not None:
            await self._live.forget(event_id)
        if removal == "gone":
            raise NotFound("No such event")
        return removal

    async def publish(self, partner: Principal, event_id: int) -> Event:
        current = await self._owned(partner, event_id)
        if current.status == "cancelled":
            raise InvalidState("A cancelled event cannot be published")
        event = await self._store.publish(event_id)
        if event is None:
            raise InvalidState("A cancelled event cannot be published")
        await self._reload_sale(event)
        return (await self.availability([event]))[0]

    async def cancel(self, partner: Principal, event_id: int) -> Event:
        """Call the event off: it stays visible as cancelled (buyers learn of it) and its sale
        stops at once, since claims read the status the reload writes to Redis. Orders
        already placed are left as they are: their customers cancel them for a refund."""
        await self._owned(partner, event_id)
        event = await self._store.cancel(event_id)
        if event is None:
            raise NotFound("No such event")
        await self._reload_sale(event)
        return (await self.availability([event]))[0]

    async def open_sale(self, partner: Principal, event_id: int, sale: SaleWindow) -> Event:
        current = await self._owned(partner, event_id)
        if current.status == "cancelled":
            raise InvalidState("A cancelled event cannot go on sale")
        check_sale_window(sale)
        return await self._save_sale(event_id, sale)

    async def change_sale(self, partner: Principal, event_id: int, changes: SaleChanges) -> Event:
        current = await self._owned(partner, event_id)
        if current.sale is None:
            raise InvalidState("No on-sale window is open yet: PUT /events/{id}/sale first")
        check_sale_window(merged_sale(current.sale, changes))
        return await self._save_sale(event_id, changes)

    # --- the one place for live state ---

    async def availability(self, events: list[E]) -> list[E]:
        """Fill each event's counts: Redis's live ones if it is loaded there, else PostgreSQL's."""
        ids = [event.id for event in events]
        counts = await self._live.counts(ids) if ids else {}
        missing = [event_id for event_id in ids if event_id not in counts]
        if missing:
            counts.update(await self._store.availability(missing))
        for event in events:
            event.availability = counts.get(event.id, Availability(0, 0, 0))
        return events

    async def _ticket_types(self, event_id: int) -> list[TicketType]:
        stored = await self._store.ticket_types(event_id)
        return with_live_counts(
            stored, await self._live.pool_counts(event_id, [t.id for t in stored])
        )

    async def _save_sale(self, event_id: int, sale: SaleWindow | SaleChanges) -> Event:
        event = found(await self._store.update_sale(event_id, sale))
        await self._reload_sale(event)
        return (await self.availability([event]))[0]

    async def _reload_sale(self, event: Event) -> None:
        """Load an event with a window into Redis again, so claims see its new state."""
        if event.sale is not None:
            await hydrate(event.id, self._snapshots, self._live)

    # --- access ---

    async def _owned(self, partner: Principal, event_id: int) -> Event:
        event = await self._store.event(event_id)
        if event is None or not is_owner(event.access, partner):
            raise NotFound("No such event")
        return event

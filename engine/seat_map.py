"""An event's seat map: its seats laid out by section and row, and their live status.

The layout (labels, sections, prices) changes only when a partner edits the inventory, so a
process keeps it for `LAYOUT_TTL_S`. The status (available / held / sold) is what Redis keeps
for the claim path, the event's seat hash, read whole with one HGETALL (with the event's
counts and its ticket types' availability, two small reads); a map page polls it
every two seconds, and every page of an event in one process shares one read a second
(`STATUS_TTL_S`, one read in flight at a time), so a thousand watchers cost Redis what one
does. Lua claims never wait on it: a read is one command among the claims' own.

A label splits into a row and a number: `B12` is seat 12 of row B, `Balcony-3` seat 3 of row
`Balcony`; a label without a trailing number is a row of its own.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

import msgspec

from engine.errors import NotFound
from engine.hydration import Availability
from engine.inventory import MAX_SEATS_PER_REQUEST, EventAccess, Seat, SeatStatus, can_view
from engine.principal import Principal

LAYOUT_TTL_S = 10.0
STATUS_TTL_S = 1.0
READ_STEP = 2000  # seats read from PostgreSQL at a time for a layout
_LABEL = re.compile(r"^(.*?)(\d+)$")
_MARKS: dict[str, SeatStatus] = {"a": "available", "h": "held", "s": "sold"}


class MapSeat(msgspec.Struct, array_like=True):
    """[id, label, number, price_cents]: compact, as a map of thousands of seats is sent."""

    id: int
    label: str
    number: int | None
    price_cents: int


class SeatRow(msgspec.Struct):
    name: str
    seats: list[MapSeat]


class SeatSection(msgspec.Struct):
    name: str | None
    rows: list[SeatRow]


class SeatLayout(msgspec.Struct):
    event_id: int
    sections: list[SeatSection]
    seat_count: int


class SeatStatuses(msgspec.Struct):
    """The seats that are not available, by status (every other seat of the layout is), and
    while the event is on sale the units available in all and per ticket type."""

    event_id: int
    held: list[int]
    sold: list[int]
    live: bool  # from Redis (the event is on sale); else PostgreSQL's record
    available: int | None = None
    ticket_types: dict[int, int] = msgspec.field(default_factory=dict)


class SeatSource(Protocol):
    async def event_access(self, event_id: int) -> EventAccess | None: ...

    async def seats_after(
        self, event_id: int, after_id: int, limit: int, status: SeatStatus | None
    ) -> list[Seat]: ...


class LiveSeatMarks(Protocol):
    async def seat_marks(self, event_id: int) -> dict[str, str]:
        """Seat id -> its mark ("a", "h:<order>", "s:<order>") in a hydrated event; {} else."""

    async def counts(self, event_ids: list[int]) -> dict[int, Availability]:
        """Units available, held and sold of the hydrated events among `event_ids`."""

    async def pool_available(self, event_id: int) -> dict[int, int]:
        """Units available per ticket type of a hydrated event; {} else."""


def split_label(label: str) -> tuple[str, int | None]:
    """A label's row and seat number: `A12` -> ("A", 12), `Balcony-3` -> ("Balcony", 3),
    `7` -> ("", 7), `Box` -> ("Box", None)."""
    match = _LABEL.match(label)
    if match is None:
        return label, None
    return match.group(1).rstrip(" -_"), int(match.group(2))


def lay_out(event_id: int, seats: list[Seat]) -> SeatLayout:
    """Sections in the order their first seat was created, rows likewise, seats by number."""
    sections: dict[str | None, dict[str, list[MapSeat]]] = {}
    for seat in seats:
        row, number = split_label(seat.label)
        rows = sections.setdefault(seat.section, {})
        rows.setdefault(row, []).append(MapSeat(seat.id, seat.label, number, seat.price_cents))
    return SeatLayout(
        event_id=event_id,
        sections=[
            SeatSection(
                name,
                [
                    SeatRow(row, sorted(row_seats, key=lambda s: (s.number or 0, s.id)))
                    for row, row_seats in rows.items()
                ],
            )
            for name, rows in sections.items()
        ],
        seat_count=len(seats),
    )


def statuses_from_marks(event_id: int, marks: dict[str, str]) -> SeatStatuses:
    held, sold = [], []
    for seat, mark in marks.items():
        status = _MARKS.get(mark[:1])
        if status == "held":
            held.append(int(seat))
        elif status == "sold":
            sold.append(int(seat))
    return SeatStatuses(event_id, sorted(held), sorted(sold), live=True)


def statuses_from_seats(event_id: int, seats: list[Seat]) -> SeatStatuses:
    held = [s.id for s in seats if s.status == "held"]
    sold = [s.id for s in seats if s.status == "sold"]
    return SeatStatuses(event_id, held, sold, live=False)


T = TypeVar("T")


class Recent(Generic[T]):
    """Values kept for `ttl_s` per key, with one computation in flight per key: callers
    that come while it runs wait for it instead of starting their own."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._kept: dict[int, tuple[float, T]] = {}
        self._running: dict[int, asyncio.Future[T]] = {}

    async def get(self, key: int, compute: Callable[[], Awaitable[T]]) -> T:
        kept = self._kept.get(key)
        if kept is not None and self._clock() - kept[0] < self._ttl_s:
            return kept[1]
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        else:
            future.set_result(value)
            self._kept[key] = (self._clock(), value)
            return value
        finally:
            del self._running[key]


class SeatMaps:
    def __init__(
        self,
        seats: SeatSource,
        live: LiveSeatMarks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seats = seats
        self._live = live
        self._layouts: Recent[tuple[SeatLayout, SeatStatuses]] = Recent(LAYOUT_TTL_S, clock)
        self._statuses: Recent[SeatStatuses] = Recent(STATUS_TTL_S, clock)
        self._access: Recent[EventAccess | None] = Recent(LAYOUT_TTL_S, clock)

    async def layout(self, viewer: Principal | None, event_id: int) -> SeatLayout:
        await self._visible(viewer, event_id)
        return (await self._layouts.get(event_id, lambda: self._read_layout(event_id)))[0]

    async def statuses(self, viewer: Principal | None, event_id: int) -> SeatStatuses:
        """Which seats are held and sold now: Redis's marks while the event is on sale (at
        most `STATUS_TTL_S` old), else what PostgreSQL recorded."""
        await self._visible(viewer, event_id)
        return await self._statuses.get(event_id, lambda: self._read_statuses(event_id))

    async def _read_statuses(self, event_id: int) -> SeatStatuses:
        counts = (await self._live.counts([event_id])).get(event_id)
        if counts is None:  # not on sale: what PostgreSQL recorded
            return (await self._layouts.get(event_id, lambda: self._read_layout(event_id)))[1]
        statuses = statuses_from_marks(event_id, await self._live.seat_marks(event_id))
        statuses.available = counts.available
        statuses.ticket_types = await self._live.pool_available(event_id)
        return statuses

    async def _read_layout(self, event_id: int) -> tuple[SeatLayout, SeatStatuses]:
        seats: list[Seat] = []
        after = 0
        while len(seats) < MAX_SEATS_PER_REQUEST:
            chunk = await self._seats.seats_after(event_id, after, READ_STEP, None)
            seats += chunk
            if len(chunk) < READ_STEP:
                break
            after = chunk[-1].id
        return lay_out(event_id, seats), statuses_from_seats(event_id, seats)

    async def _visible(self, viewer: Principal | None, event_id: int) -> None:
        """Published, or the viewer's own: kept like the layout, so a poll reads no table."""
        access = await self._access.get(event_id, lambda: self._seats.event_access(event_id))
        if access is None or not can_view(access, viewer):
            raise NotFound("No such event")

"""Ticket states of live events, kept in Redis beside the inventory (DESIGN.md, Check-in).

While an event is hydrated, each of its tickets has a state under the event's hash tag:
valid, used (with the time) or void (with the time). The script that completes an order
writes its tickets (lua/issue_tickets.lua), the script that cancels it voids them in the
step that releases the seats, or refuses when one was used (lua/release.lua), and a gate
scan is one script (lua/scan.lua) that uses a valid ticket and logs the scan. A worker
writes the logged scans to PostgreSQL in batches (`write_scans`); voids reach PostgreSQL
with the order's cancellation.

The Redis states are authoritative only once the event's tickets were loaded from
PostgreSQL (hydration does it; after an upgrade, or for an event hydrated before this code
ran, the first scan or cancel does it, once): until then every script that needs them says
`not_loaded`, and `TicketLoader` loads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

import msgspec

from engine.moments import from_ms, to_ms
from engine.order_document import DocumentLine
from engine.ticket_codes import code_digest, ticket_ref

TicketStatus = Literal["valid", "used", "void"]
LOAD_CHUNK = 5_000  # tickets per load script call: a big event does not block Redis for long


class LiveTicket(msgspec.Struct, frozen=True):
    """A ticket as PostgreSQL has it, for loading into its live event."""

    id: int
    event_id: int
    order_id: str
    ref: str  # hex of ticket_codes.ticket_ref(order_id, line_no)
    label: str
    seat_id: int | None
    ticket_type_id: int | None
    code: str
    status: TicketStatus
    changed_at: datetime | None  # used_at, or when it was voided


class TicketInfo(msgspec.Struct, frozen=True):
    """What Redis keeps of a live ticket besides its state (the `ticket_info` hash)."""

    id: str
    o: str  # order
    l: str  # noqa: E741 label
    s: int | None  # seat
    t: int | None  # ticket type
    d: str  # code_digest of its code


_encode = msgspec.json.Encoder().encode
decode_info = msgspec.json.Decoder(TicketInfo).decode


def info_of(ticket: LiveTicket) -> bytes:
    return _encode(
        TicketInfo(
            str(ticket.id),
            ticket.order_id,
            ticket.label,
            ticket.seat_id,
            ticket.ticket_type_id,
            code_digest(ticket.code),
        )
    )


def state_of(status: TicketStatus, at: datetime | None) -> str:
    """The Redis state: "v", "u:<ms>" or "x:<ms>"."""
    if status == "valid":
        return "v"
    return f"{'u' if status == 'used' else 'x'}:{to_ms(at) if at else 0}"


def parse_state(state: str) -> tuple[TicketStatus, datetime | None]:
    if state == "v":
        return "valid", None
    return ("used" if state[0] == "u" else "void"), from_ms(int(state[2:]))


def order_refs(order_id: str, items: Sequence[DocumentLine], event_id: int) -> list[str]:
    """The refs of an order document's tickets in one event (line numbers are the items'
    positions, as engine/persistence.py numbers the lines)."""
    return [
        ticket_ref(order_id, line_no).hex()
        for line_no, item in enumerate(items)
        if int(item.event_id) == event_id
    ]


class LoggedScan(msgspec.Struct, frozen=True):
    """A scan a live event logged (lua/scan.lua), for the worker to write."""

    stream_id: str
    ticket_id: int | None
    result: str
    partner_id: int
    user_id: int
    gate: str | None
    at: datetime


class TicketSource(Protocol):
    async def event_tickets(self, event_id: int) -> list[LiveTicket]: ...

    async def issued_tickets(self, order_ids: list[str]) -> list[LiveTicket]: ...


class ScanArchive(Protocol):
    async def write_scans(self, event_id: int, scans: list[LoggedScan]) -> None:
        """Idempotently (by stream id): the scan log, and each admitted ticket used."""


class LiveTicketStore(Protocol):
    async def load(self, event_id: int, tickets: list[LiveTicket], complete: bool) -> bool:
        """Merge these states in (Redis keeps what is newer); `complete`: they are all of
        the event's tickets, so its states become authoritative. False if not live."""

    async def logged_scans(self, event_id: int, count: int) -> list[LoggedScan]: ...

    async def forget_scans(self, event_id: int, stream_ids: list[str]) -> None: ...


class TicketLoader:
    """Loads a live event's tickets from PostgreSQL when a script says `not_loaded`: the
    callers that meet while an event's load runs share it (the load is idempotent, so other
    processes loading at the same time change nothing)."""

    def __init__(self, source: TicketSource, live: LiveTicketStore) -> None:
        self._source = source
        self._live = live
        self._running: dict[int, asyncio.Future[bool]] = {}

    async def load(self, event_id: int) -> bool:
        """True once the event's states are authoritative; False if it is not live."""
        running = self._running.get(event_id)
        if running is None:
            running = asyncio.ensure_future(self._load(event_id))
            self._running[event_id] = running
            running.add_done_callback(lambda _: self._running.pop(event_id, None))
        return await asyncio.shield(running)

    async def _load(self, event_id: int) -> bool:
        tickets = await self._source.event_tickets(event_id)
        return await load_event_tickets(event_id, tickets, self._live)


async def load_event_tickets(
    event_id: int, tickets: list[LiveTicket], live: LiveTicketStore
) -> bool:
    """All of an event's tickets, in chunks; the last call makes the states authoritative."""
    for start in range(0, len(tickets), LOAD_CHUNK):
        if not await live.load(event_id, tickets[start : start + LOAD_CHUNK], False):
            return False
    return await live.load(event_id, [], True)


async def write_scans(
    event_id: int, live: LiveTicketStore, archive: ScanArchive, count: int = 1000, rounds: int = 10
) -> int:
    """The worker's step: logged scans into PostgreSQL (a batch per transaction), then out
    of Redis; a replayed batch changes nothing. How many were written."""
    written = 0
    for _ in range(rounds):
        scans = await live.logged_scans(event_id, count)
        if scans:
            await archive.write_scans(event_id, scans)
            await live.forget_scans(event_id, [scan.stream_id for scan in scans])
        written += len(scans)
        if len(scans) < count:
            break
    return written

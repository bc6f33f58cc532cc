"""Check-in: staff (or the partner) scan codes; the first scan of a genuine ticket wins.

Order of checks, cheapest first:
1. the code's signature, against the keys of the scanner's partner kept in memory: a forged
   or mutated code, or one signed for another partner's event, is `invalid` without a
   database read (its scan is logged in batches, off the request path);
2. while the event is live (hydrated in Redis), one script (lua/scan.lua) on the ticket's
   state there (engine/live_tickets.py): the first scan of a valid ticket uses it, later ones
   are `already_used` (with the first scan's time), a cancelled order's are `void`, and the
   scan is logged in the same step for a worker to write to PostgreSQL. A cancellation voids
   its tickets in the script that releases the seats, and is refused when one was used, so
   a scan and a cancel racing end as (admitted, cancel refused) or (cancelled, void);
3. for an event not in Redis, one atomic `UPDATE tickets ... WHERE status = 'valid'
   RETURNING` in PostgreSQL: of any number of gates scanning the same code at once, exactly
   one is admitted; only when that changed nothing, the ticket's status says why.
Offline scanners sync `gate_keys` (public keys) and `revoked` (codes voided since a time).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime
from typing import Literal, Protocol, cast

import msgspec

from engine.errors import NotFound, PermissionDenied
from engine.gate_keys import GateKey, GateKeys
from engine.live_tickets import (
    LiveTicket,
    TicketLoader,
    decode_info,
    parse_state,
)
from engine.moments import check_moment, from_ms
from engine.pagination import Page
from engine.principal import Principal
from engine.ticket_codes import TicketCode, code_digest

log = logging.getLogger(__name__)

ScanResult = Literal["admitted", "already_used", "void", "invalid"]
CODE_FORMAT = (
    "decimal digits of one big-endian integer whose bytes are: version (1 byte, =2) | key_id "
    "(LEB128 varint) | event_id (LEB128 varint) | ticket ref (8 bytes) | server tag (6 bytes, "
    "checked only by the server) | Ed25519 signature (64 bytes) over all bytes before it; no "
    "leading zero. Version 1 codes have no server tag."
)


class ScannedTicket(msgspec.Struct):
    id: int
    event_id: int
    order_id: str
    label: str
    seat_id: int | None
    ticket_type_id: int | None
    status: Literal["valid", "used", "void"]
    used_at: datetime | None


class Scan(msgspec.Struct):
    result: ScanResult
    ticket: ScannedTicket | None = None
    used_at: datetime | None = None


class ScanBy(msgspec.Struct, frozen=True):
    partner_id: int
    user_id: int
    gate: str | None


class ScanEntry(msgspec.Struct, frozen=True):
    """One line of the scan log."""

    ticket_id: int | None
    event_id: int | None
    by: ScanBy
    result: ScanResult
    at: datetime


class RevokedCode(msgspec.Struct):
    ticket_id: int
    code: str
    voided_at: datetime


class PublicGateKey(msgspec.Struct):
    key_id: int
    algorithm: str
    public_key: str  # base64url of the raw 32-byte Ed25519 public key, no padding
    created_at: datetime | None
    signing: bool  # the key new tickets are signed with; the others still verify


class EventGateKeys(msgspec.Struct):
    event_id: int
    code_format: str
    keys: list[PublicGateKey]


class GateStore(Protocol):
    async def event_partner(self, event_id: int) -> int | None: ...

    async def admit(self, code: str, event_id: int, by: ScanBy) -> Scan:
        """Use the ticket if it is valid, atomically; log the scan; say what happened."""

    async def log_scans(self, entries: list[ScanEntry]) -> None: ...

    async def revoked(
        self,
        event_id: int,
        since: datetime | None,
        limit: int,
        cursor: str | None,
        live: list[tuple[int, datetime]],
    ) -> Page[RevokedCode]:
        """`live`: (ticket id, time) voided in Redis, which PostgreSQL may not have yet."""


class LiveGate(Protocol):
    """The ticket states of live events (engine/store/redis_tickets.py)."""

    async def scan(
        self, event_id: int, ref: str, digest: str, partner_id: int, user_id: int, gate: str | None
    ) -> tuple[str, str, str]:
        """(result | 'not_live' | 'not_loaded', ticket info JSON or '', state or '')."""

    async def load(self, event_id: int, tickets: list[LiveTicket], complete: bool) -> bool: ...

    async def voided(self, event_id: int, since_ms: int) -> list[tuple[int, int]]: ...


class RefusedScanLog:
    """Scans of forged codes, written in batches so refusing one needs no database trip."""

    def __init__(self, store: GateStore, delay_s: float = 0.25, max_pending: int = 10_000) -> None:
        self._store = store
        self._delay_s = delay_s
        self._max_pending = max_pending
        self._pending: list[ScanEntry] = []
        self._scheduled = False
        self._writing: set[asyncio.Task[None]] = set()

    def note(self, entry: ScanEntry) -> None:
        if len(self._pending) < self._max_pending:  # a flood beyond this is not worth keeping
            self._pending.append(entry)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(self._delay_s, self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        entries, self._pending = self._pending, []
        task = asyncio.ensure_future(self._write(entries))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _write(self, entries: list[ScanEntry]) -> None:
        try:
            await self._store.log_scans(entries)
        except Exception:
            log.warning("could not log %d refused scans", len(entries), exc_info=True)


def _public(key: GateKey, signing: bool) -> PublicGateKey:
    return PublicGateKey(
        key_id=key.key_id,
        algorithm="Ed25519",
        public_key=base64.urlsafe_b64encode(key.public_key).decode().rstrip("="),
        created_at=key.created_at,
        signing=signing,
    )


def live_scan(event_id: int, result: str, info: str, state: str) -> Scan:
    """The answer of lua/scan.lua as the gate gives it (the same as PostgreSQL's)."""
    if not info:
        return Scan(result="invalid")
    found = decode_info(info)
    status, at = parse_state(state)
    used_at = at if status == "used" else None
    ticket = ScannedTicket(
        int(found.id), event_id, found.o, found.l, found.s, found.t, status, used_at
    )
    if result == "admitted":
        return Scan(result="admitted", ticket=ticket)
    return Scan(result=cast(ScanResult, result), ticket=ticket, used_at=used_at)


class Gate:
    def __init__(
        self,
        store: GateStore,
        keys: GateKeys,
        live: LiveGate | None = None,
        loader: TicketLoader | None = None,
    ) -> None:
        self._store = store
        self._keys = keys
        self._refused = RefusedScanLog(store)
        self._live = live
        self._loader = loader

    @staticmethod
    def _partner_of(principal: Principal) -> int:
        if principal.role not in ("staff", "partner") or principal.partner_id is None:
            raise PermissionDenied("Only a partner's staff or the partner scan tickets")
        return principal.partner_id

    async def validate(self, principal: Principal, code: str, gate: str | None) -> Scan:
        by = ScanBy(self._partner_of(principal), principal.user_id, gate)
        genuine = await self._keys.verify(code, by.partner_id)
        if genuine is None:
            self._refused.note(ScanEntry(None, None, by, "invalid", datetime.now(UTC)))
            return Scan(result="invalid")
        if self._live is None:
            return await self._store.admit(code, genuine.event_id, by)
        scan = await self._scan_live(genuine, code, by)
        if scan is None:  # the event is not in Redis: PostgreSQL decides
            scan = await self._store.admit(code, genuine.event_id, by)
            if scan.result == "admitted" and scan.ticket is not None:
                await self._note_used(genuine, code, scan.ticket)
        return scan

    async def _scan_live(self, genuine: TicketCode, code: str, by: ScanBy) -> Scan | None:
        assert self._live is not None
        ref, digest = genuine.ref.hex(), code_digest(code)
        for _ in range(2):
            result, info, state = await self._live.scan(
                genuine.event_id, ref, digest, by.partner_id, by.user_id, by.gate
            )
            if result == "not_live":
                return None
            if result != "not_loaded":
                return live_scan(genuine.event_id, result, info, state)
            if self._loader is None or not await self._loader.load(genuine.event_id):
                return None
        return None  # lost its data again meanwhile: PostgreSQL decides

    async def _note_used(self, genuine: TicketCode, code: str, ticket: ScannedTicket) -> None:
        """An admission PostgreSQL made while the event was not in Redis: if hydration loaded
        the event's tickets meanwhile (from a snapshot taken before this scan), the state
        there must not stay valid. The window left is the moment between the two."""
        assert self._live is not None
        used = LiveTicket(
            ticket.id,
            ticket.event_id,
            ticket.order_id,
            genuine.ref.hex(),
            ticket.label,
            ticket.seat_id,
            ticket.ticket_type_id,
            code,
            "used",
            ticket.used_at,
        )
        await self._live.load(genuine.event_id, [used], complete=False)

    async def _check_event(self, principal: Principal, event_id: int) -> None:
        if await self._store.event_partner(event_id) != self._partner_of(principal):
            raise NotFound("No such event")

    async def gate_keys(self, principal: Principal, event_id: int) -> EventGateKeys:
        await self._check_event(principal, event_id)
        return self._listing(event_id, await self._keys.keys(event_id))

    async def rotate_keys(self, principal: Principal, event_id: int) -> EventGateKeys:
        if principal.role != "partner":
            raise PermissionDenied("Only the partner rotates its events' keys")
        await self._check_event(principal, event_id)
        await self._keys.keys(event_id)  # the first key, if the event has none yet
        return self._listing(event_id, await self._keys.rotate(event_id))

    @staticmethod
    def _listing(event_id: int, keys: list[GateKey]) -> EventGateKeys:
        newest = max(k.key_id for k in keys)
        return EventGateKeys(
            event_id=event_id,
            code_format=CODE_FORMAT,
            keys=[_public(k, k.key_id == newest) for k in keys],
        )

    async def revoked(
        self,
        principal: Principal,
        event_id: int,
        since: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> Page[RevokedCode]:
        if since is not None:
            check_moment("since", since)
        await self._check_event(principal, event_id)
        live = await self._live.voided(event_id, 0) if self._live is not None else []
        voided = [(ticket_id, from_ms(at)) for ticket_id, at in live]
        return await self._store.revoked(event_id, since, limit, cursor, voided)

"""Check-in: staff (or the partner) scan codes; the first scan of a genuine ticket wins.

Order of checks, cheapest first:
1. the code's signature, against the keys of the scanner's partner kept in memory: a forged
   or mutated code, or one signed for another partner's event, is `invalid` without a
   database read (its scan is logged in batches, off the request path);
2. one atomic `UPDATE tickets ... WHERE status = 'valid' RETURNING`: of any number of gates
   scanning the same code at once, exactly one is admitted;
3. only when that changed nothing, the ticket's status says `already_used` (with the first
   scan's time) or `void`.
Offline scanners sync `gate_keys` (public keys) and `revoked` (codes voided since a time).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime
from typing import Literal, Protocol

import msgspec

from engine.errors import NotFound, PermissionDenied
from engine.gate_keys import GateKey, GateKeys
from engine.moments import check_moment
from engine.pagination import Page
from engine.principal import Principal

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
        self, event_id: int, since: datetime | None, limit: int, cursor: str | None
    ) -> Page[RevokedCode]: ...


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


class Gate:
    def __init__(self, store: GateStore, keys: GateKeys) -> None:
        self._store = store
        self._keys = keys
        self._refused = RefusedScanLog(store)

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
        return await self._store.admit(code, genuine.event_id, by)

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
        return await self._store.revoked(event_id, since, limit, cursor)

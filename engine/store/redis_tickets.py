"""Live ticket states in Redis (engine/live_tickets.py): scans, loads, issues, voids."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec

from engine import keys
from engine.live_tickets import LiveTicket, LoggedScan, info_of, state_of
from engine.moments import from_ms
from engine.store.coalescing import Coalescer
from engine.store.redis_client import SaleRedis
from engine.store.scripts import EventScripts

SCAN_BATCH = 256
SCANS_IN_FLIGHT = 4  # calls per event at once, as claims (engine/store/claim_batcher.py)


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class RedisTickets:
    def __init__(self, redis: SaleRedis, scripts: EventScripts) -> None:
        self._redis = redis
        self._scripts = scripts
        # scans of one event that meet while its call is in flight go in the next call
        self._scans: Coalescer[int, tuple[str, str, int, int, str], tuple[str, str, str]] = (
            Coalescer(self._scan_batch, SCAN_BATCH, SCANS_IN_FLIGHT)
        )

    async def scan(
        self, event_id: int, ref: str, digest: str, partner_id: int, user_id: int, gate: str | None
    ) -> tuple[str, str, str]:
        """lua/scan.lua: (result or 'not_live' / 'not_loaded', ticket info JSON, state)."""
        return await self._scans.submit(event_id, (ref, digest, partner_id, user_id, gate or ""))

    async def _scan_batch(
        self, event_id: int, scans: list[tuple[str, str, int, int, str]]
    ) -> list[tuple[str, str, str]]:
        raw = _text(await self._scripts.scan(event_id, msgspec.json.encode(scans)))
        if raw in ("not_live", "not_loaded"):
            return [(raw, "", "")] * len(scans)
        return [(result, info, state) for result, info, state in msgspec.json.decode(raw)]

    async def load(self, event_id: int, tickets: list[LiveTicket], complete: bool) -> bool:
        rows = [[t.ref, info_of(t).decode(), state_of(t.status, t.changed_at)] for t in tickets]
        reply = await self._scripts.load_tickets(
            event_id, msgspec.json.encode(rows), "1" if complete else "0"
        )
        return _text(reply) == "ok"

    async def issue(self, tickets: list[LiveTicket]) -> None:
        by_event: dict[int, list[str | bytes]] = defaultdict(list)
        for t in tickets:
            by_event[t.event_id].extend([t.order_id, t.ref, info_of(t)])
        for event_id, args in sorted(by_event.items()):
            await self._scripts.issue_tickets(event_id, *args)

    async def states(self, event_id: int, refs: list[str]) -> list[str | None]:
        if not refs:
            return []
        states = await self._redis.hmget(keys.event_key(event_id, "tickets"), list(refs))
        return [None if state is None else _text(state) for state in states]

    async def voided(self, event_id: int, since_ms: int) -> list[tuple[int, int]]:
        """(ticket id, ms voided) of the event's tickets voided since then."""
        raw = await self._redis.zrangebyscore(
            keys.event_key(event_id, "voided"), since_ms, "+inf", withscores=True
        )
        return [(int(ticket_id), int(at)) for ticket_id, at in raw]

    async def logged_scans(self, event_id: int, count: int) -> list[LoggedScan]:
        entries = await self._redis.xrange(keys.event_key(event_id, "scans"), count=count)
        scans = []
        for entry_id, fields in entries:
            # lua/scan.lua: ticket id|result|partner|scanner|ms|gate
            ticket_id, result, partner, user, at, gate = _text(fields[b"s"]).split("|", 5)
            scans.append(
                LoggedScan(
                    stream_id=_text(entry_id),
                    ticket_id=int(ticket_id) if ticket_id else None,
                    result=result,
                    partner_id=int(partner),
                    user_id=int(user),
                    gate=gate or None,
                    at=from_ms(int(at)),
                )
            )
        return scans

    async def forget_scans(self, event_id: int, stream_ids: list[str]) -> None:
        if stream_ids:
            await self._redis.xdel(keys.event_key(event_id, "scans"), *stream_ids)

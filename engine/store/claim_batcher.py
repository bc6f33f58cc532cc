"""Coalesce concurrent claims on one event into one Lua call (engine/store/coalescing.py).

Claims for the same event that meet while its call is in flight are sent together as one
EVALSHA of lua/claim.lua, which runs each claim all-or-nothing on its own. The claims' rate
limits go with the call (the buckets live under the event's hash tag, K_RATE), so they cost
no round trip of their own.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.rate_limits import OFF, Rate
from engine.store.coalescing import Coalescer
from engine.store.lua_json import LuaJsonDecoder
from engine.store.scripts import EventScripts

MAX_BATCH = 128
# calls per event at once: with one, the server and Redis take turns idling (each waits for
# the other's answer); four overlap them
MAX_IN_FLIGHT = 4

ClaimedLine = tuple[str, str, str, int]  # 's' (seat) or 'g' (ticket type), its id, label, price


class ClaimReply(msgspec.Struct):
    """lua/claim.lua's answer to one claim: {ok, e, l, d (home only)} or {err, x}."""

    ok: int = 0
    e: int = 0  # when the hold expires, ms
    l: list[ClaimedLine] = msgspec.field(default_factory=list)  # noqa: E741
    d: str | None = None  # the new order's document, as stored
    err: str | None = None
    x: Any = None  # the refusal's detail


_decode_replies = LuaJsonDecoder(list[ClaimReply]).decode


class ClaimBatcher:
    def __init__(
        self, scripts: EventScripts, per_customer: Rate = OFF, per_address: Rate = OFF
    ) -> None:
        self._scripts = scripts
        self._limits = [
            per_customer.requests,
            per_customer.window_ms,
            per_address.requests,
            per_address.window_ms,
        ]
        self._coalescer: Coalescer[int, dict[str, Any], ClaimReply] = Coalescer(
            self._claim_batch, MAX_BATCH, MAX_IN_FLIGHT
        )

    async def claim(self, event_id: int, claim: dict[str, Any]) -> ClaimReply:
        return await self._coalescer.submit(event_id, claim)

    async def _claim_batch(self, event_id: int, claims: list[dict[str, Any]]) -> list[ClaimReply]:
        raw = await self._scripts.claim(event_id, msgspec.json.encode(claims), *self._limits)
        return _decode_replies(raw)

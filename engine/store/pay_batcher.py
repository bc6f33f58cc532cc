"""Coalesce concurrent payments of orders on one event into one Lua call
(engine/store/coalescing.py), as claims are (engine/store/claim_batcher.py).

Payments of orders whose documents live in the same event that meet while its call is in
flight are sent together as one EVALSHA of lua/pay.lua, which locks, sells, marks paid and
writes the outbox for each on its own: a payment costs one round trip shared with the
others, as a claim does, its rate bucket included.

With `replicas` (REDIS_PAYMENT_REPLICAS), the call is answered only once that many replicas
of the event's master have what it did (EventScript.call_replicated: the script, a write of
the replication mark and WAIT on one connection), so a master's crash cannot take a payment
a buyer was told about; the wait costs one round trip per batch, not per payment.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.rate_limits import OFF, Rate
from engine.store.coalescing import Coalescer
from engine.store.lua_json import LuaJsonDecoder
from engine.store.scripts import EventScripts

MAX_BATCH = 128
MAX_IN_FLIGHT = 4  # as claims: the server and Redis work at the same time


class PayReply(msgspec.Struct):
    """lua/pay.lua's answer to one payment: {ok, d} or {err, x}."""

    ok: int = 0
    d: str | None = None  # the paid order's document, as stored
    err: str | None = None
    x: Any = None  # the refusal's detail


_decode_replies = LuaJsonDecoder(list[PayReply]).decode


class PayBatcher:
    def __init__(
        self,
        scripts: EventScripts,
        per_customer: Rate = OFF,
        replicas: int = 0,
        replica_wait_ms: int = 1000,
    ) -> None:
        self._scripts = scripts
        self._replicas = replicas
        self._replica_wait_ms = replica_wait_ms
        # the payments-per-customer bucket goes with the call (lua/pay.lua), as claims' do
        self._limits = [per_customer.requests, per_customer.window_ms]
        self._coalescer: Coalescer[int, dict[str, str], PayReply] = Coalescer(
            self._pay_batch, MAX_BATCH, MAX_IN_FLIGHT
        )

    async def pay(self, event_id: int, payment: dict[str, str]) -> PayReply:
        return await self._coalescer.submit(event_id, payment)

    async def _pay_batch(self, event_id: int, payments: list[dict[str, str]]) -> list[PayReply]:
        encoded = msgspec.json.encode(payments)
        if not self._replicas:
            return _decode_replies(await self._scripts.pay(event_id, encoded, *self._limits))
        raw, acked = await self._scripts.pay.call_replicated(
            event_id, self._replicas, self._replica_wait_ms, encoded, *self._limits
        )
        replies = _decode_replies(raw)
        paid = [p["o"] for p, reply in zip(payments, replies, strict=True) if reply.ok]
        if paid and acked < self._replicas:
            await self._scripts.await_replicas(
                event_id, paid, self._replicas, self._replica_wait_ms
            )
        return replies

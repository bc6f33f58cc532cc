"""SaleStore on Redis: the engine's claims, payments and releases as Lua scripts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ClusterError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine import errors, keys
from engine.live_tickets import TicketLoader
from engine.order_document import OrderDocument
from engine.order_ids import home_event_of
from engine.orders import (
    PAYMENT_GRACE_MS,
    ClaimOutcome,
    EventClaim,
    OrderLine,
    PayOutcome,
    document_line,
)
from engine.rate_limits import OFF, Rate
from engine.store.claim_batcher import ClaimBatcher, ClaimedLine
from engine.store.lua_json import decode_document, encode
from engine.store.pay_batcher import PayBatcher
from engine.store.redis_client import SaleRedis
from engine.store.scripts import EventScripts

MAX_KNOWN_TYPES = 100_000


def _decode(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _line(event_id: int, claimed: ClaimedLine) -> OrderLine:
    kind, item_id, label, price = claimed
    return OrderLine(
        event_id=event_id,
        seat_id=int(item_id) if kind == "s" else None,
        ticket_type_id=int(item_id) if kind == "g" else None,
        label=label,
        price_cents=price,
    )


# tries of a confirmation whose replicas did not answer, and the pause after a failed one:
# together they outlast a master's failover (node timeout + election, a few seconds)
REPLICATION_TRIES = 6
REPLICATION_PAUSE_S = 0.5


class RedisSaleStore:
    def __init__(
        self,
        redis: SaleRedis,
        scripts: EventScripts,
        batcher: ClaimBatcher,
        tickets: TicketLoader | None = None,
        pay_rate: Rate = OFF,
        payment_replicas: int = 0,
        payment_wait_ms: int = 1000,
    ) -> None:
        self._redis = redis
        self._payment_replicas = payment_replicas
        self._payment_wait_ms = payment_wait_ms
        self._scripts = scripts
        self._batcher = batcher
        self._payments = PayBatcher(scripts, pay_rate, payment_replicas, payment_wait_ms)
        # a ticket type never moves to another event: its event, once found, is kept
        self._event_of_type: dict[int, int] = {}
        self._tickets = tickets

    async def claim(
        self,
        order_id: str,
        customer_id: int,
        claim: EventClaim,
        home: bool,
        requested: str,
        address: str = "",
    ) -> ClaimOutcome:
        payload: dict[str, Any] = {
            "o": order_id,
            "c": str(customer_id),
            "s": [str(seat) for seat in claim.seat_ids],
            "g": [[str(pool), quantity] for pool, quantity in claim.pools.items()],
            "h": 1 if home else 0,
            "r": requested,
        }
        if address:
            payload["a"] = address[: keys.MAX_ADDRESS]
        result = await self._batcher.claim(claim.event_id, payload)
        if result.err is not None:
            return ClaimOutcome(ok=False, code=result.err, detail=result.x)
        return ClaimOutcome(
            ok=True,
            expires_ms=result.e,
            lines=[_line(claim.event_id, line) for line in result.l],
            # the new order's document, which claim.lua hands back as the JSON it stored
            document=None if result.d is None else decode_document(result.d),
        )

    async def add_lines(self, order_id: str, lines: list[OrderLine], expires_ms: int) -> None:
        payload = {
            "items": [document_line(line) for line in lines],
            "events": sorted({str(line.event_id) for line in lines}),
            "expires_at": expires_ms,
        }
        await self._scripts.add_lines(home_event_of(order_id), order_id, encode(payload))

    async def order_document(self, order_id: str) -> OrderDocument | None:
        home = home_event_of(order_id)
        raw = await self._redis.hget(keys.event_key(home, "orders"), order_id)
        return decode_document(raw) if raw else None

    async def restore_document(self, order_id: str, document: OrderDocument) -> str:
        """lua/restore_document.lua in the order's home event: 'ok', 'exists' or 'gone'."""
        encoded = encode(document)
        return _decode(
            await self._scripts.restore_document(home_event_of(order_id), order_id, encoded)
        )

    async def pay(self, order_id: str, customer_id: int, payment_ref: str | None) -> PayOutcome:
        payment = {"o": order_id, "c": str(customer_id), "p": payment_ref or ""}
        reply = await self._payments.pay(home_event_of(order_id), payment)
        if reply.err is not None:
            return PayOutcome(code=reply.err, detail=reply.x)
        return PayOutcome(document=None if reply.d is None else decode_document(reply.d))

    async def pay_begin(self, event_id: int, order_id: str) -> str:
        return _decode(await self._scripts.pay_begin(event_id, order_id, PAYMENT_GRACE_MS))

    async def confirm(self, event_id: int, order_id: str, payment_ref: str) -> str:
        if not self._payment_replicas:
            return _decode(await self._scripts.confirm(event_id, order_id, payment_ref))
        return await self._confirm_replicated(event_id, order_id, payment_ref)

    async def _confirm_replicated(self, event_id: int, order_id: str, payment_ref: str) -> str:
        """confirm.lua, answered only once `payment_replicas` replicas have its effect.

        A try that fails (the master gone, its slots not yet taken over) or that too few
        replicas confirm is made again, up to REPLICATION_TRIES: the script is idempotent,
        and run on a replica just promoted it finds the part sold (the confirmation got
        there) or paying (it did not: it is confirmed now). Then PaymentNotReplicated."""
        failure: Exception | None = None
        for _ in range(REPLICATION_TRIES):
            try:
                result, acked = await self._scripts.confirm.call_replicated(
                    event_id, self._payment_replicas, self._payment_wait_ms, order_id, payment_ref
                )
            except (RedisConnectionError, RedisTimeoutError, ClusterError) as exc:
                failure = exc
                await asyncio.sleep(REPLICATION_PAUSE_S)
                continue
            outcome = _decode(result)
            if outcome != "ok" or acked >= self._payment_replicas:
                return outcome
            failure = None
        reason = f"last try: {failure!r}" if failure else "no replica confirmed it in time"
        raise errors.PaymentNotReplicated(f"order {order_id}, event {event_id}: {reason}")

    async def release(
        self, event_id: int, order_id: str, mode: str, reason: str, refs: Sequence[str] = ()
    ) -> str:
        return _decode(await self._scripts.release(event_id, order_id, mode, reason, *refs))

    async def void_tickets(self, event_id: int, order_id: str, refs: list[str]) -> str:
        return _decode(await self._scripts.void_tickets(event_id, "void", order_id, "", *refs))

    async def restore_tickets(
        self, event_id: int, order_id: str, voided_at: str, refs: list[str]
    ) -> str:
        return _decode(
            await self._scripts.void_tickets(event_id, "restore", order_id, voided_at, *refs)
        )

    async def load_tickets(self, event_id: int) -> bool:
        return self._tickets is not None and await self._tickets.load(event_id)

    async def lease_cancel(self, order_id: str, ms: int) -> bool:
        lease = keys.cancel_lease(home_event_of(order_id), order_id)
        return bool(await self._redis.set(lease, "1", nx=True, px=ms))

    async def end_cancel(self, order_id: str) -> None:
        await self._redis.delete(keys.cancel_lease(home_event_of(order_id), order_id))

    async def record_refusal(
        self, event_id: int, customer_id: int, code: str, requested: str
    ) -> None:
        stream = keys.event_key(event_id, "refusals")
        await self._redis.xadd(
            stream,
            {"c": str(customer_id), "r": code, "i": requested, "t": str(int(time.time() * 1000))},
        )

    async def is_hydrated(self, event_id: int) -> bool:
        return bool(await self._redis.sismember(keys.HYDRATED_EVENTS, str(event_id)))

    async def events_of_ticket_types(self, ticket_type_ids: list[int]) -> dict[int, int]:
        found = {t: self._event_of_type[t] for t in ticket_type_ids if t in self._event_of_type}
        missing = [t for t in dict.fromkeys(ticket_type_ids) if t not in found]
        if missing:
            events = await self._redis.hmget(keys.TICKET_TYPE_EVENTS, [str(t) for t in missing])
            if len(self._event_of_type) > MAX_KNOWN_TYPES:
                self._event_of_type.clear()
            for ticket_type_id, event in zip(missing, events, strict=True):
                if event is not None:
                    found[ticket_type_id] = self._event_of_type[ticket_type_id] = int(event)
        return found

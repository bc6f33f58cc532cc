"""What workers read from and acknowledge in Redis: order documents, change and outbox
indexes, due holds, and refused-purchase streams."""

from __future__ import annotations

from engine import keys
from engine.live_tickets import LiveTicket
from engine.order_document import OrderDocument
from engine.order_ids import home_event_of
from engine.store.lua_json import decode_document
from engine.store.redis_client import SaleRedis
from engine.store.redis_tickets import RedisTickets
from engine.store.scripts import EventScripts


class RedisOrderLog:
    def __init__(self, redis: SaleRedis, scripts: EventScripts) -> None:
        self._redis = redis
        self._scripts = scripts

    async def documents(
        self, order_ids: list[str]
    ) -> list[tuple[OrderDocument | None, str | None]]:
        """Each order's document and the score of its pending change (None if none)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                home = home_event_of(order_id)
                pipe.hget(keys.event_key(home, "orders"), order_id)
                pipe.zscore(keys.event_key(home, "changes"), order_id)
            replies = await pipe.execute()
        result = []
        for i in range(0, len(replies), 2):
            raw, score = replies[i], replies[i + 1]
            result.append(
                (
                    decode_document(raw) if raw else None,
                    None if score is None else str(int(score)),
                )
            )
        return result

    async def issue_tickets(self, tickets: list[LiveTicket]) -> None:
        """Tickets just committed to PostgreSQL, into their live events (before complete)."""
        await RedisTickets(self._redis, self._scripts).issue(tickets)

    async def complete(self, completed: dict[str, int]) -> None:
        """Mark paid orders completed at the given times, one script call per home event."""
        by_event: dict[int, list[str | int]] = {}
        for order_id, at_ms in completed.items():
            by_event.setdefault(home_event_of(order_id), []).extend([order_id, at_ms])
        for event_id, args in by_event.items():
            await self._scripts.complete(event_id, *args)

    async def ack_changes(self, acks: list[tuple[str, str]]) -> None:
        by_event: dict[int, list[str]] = {}
        for order_id, score in acks:
            by_event.setdefault(home_event_of(order_id), []).extend([order_id, score])
        for event_id, args in by_event.items():
            await self._scripts.ack_changes(event_id, *args)

    async def park_changes(self, parked: list[tuple[str, str, int]]) -> None:
        """Put off these (order, change score as read, delay ms) changes: see park_changes.lua."""
        by_event: dict[int, list[str | int]] = {}
        for order_id, score, delay_ms in parked:
            by_event.setdefault(home_event_of(order_id), []).extend([order_id, score, delay_ms])
        for event_id, args in by_event.items():
            await self._scripts.park_changes(event_id, *args)

    async def dead_letter(self, letters: list[tuple[str, str, str | None]]) -> set[str]:
        """Take these (order, reason, change score as read) out of the outbox and changes and
        mark their documents (see dead_letter.lua); returns those not marked before."""
        by_event: dict[int, list[str]] = {}
        for order_id, reason, score in letters:
            by_event.setdefault(home_event_of(order_id), []).extend([order_id, reason, score or ""])
        first: set[str] = set()
        for event_id, args in by_event.items():
            first.update(r.decode() for r in await self._scripts.dead_letter(event_id, *args))
        return first

    async def changed_orders(self, event_id: int, limit: int, depth: int = 2_000) -> list[str]:
        """Orders with a status change to write, oldest first, but not the paid orders in the
        outbox (persisting those is the job of persist_order); looks `depth` changes deep."""
        raw = await self._scripts.changed(event_id, limit, depth)
        return [r.decode() for r in raw]

    async def unpersisted_paid(self, event_id: int, paid_before_ms: int) -> list[str]:
        raw = await self._redis.zrangebyscore(
            keys.event_key(event_id, "outbox"), "-inf", paid_before_ms, start=0, num=500
        )
        return [r.decode() for r in raw]

    async def in_outbox(self, event_id: int, order_ids: list[str]) -> list[bool]:
        scores = await self._redis.zmscore(keys.event_key(event_id, "outbox"), order_ids)
        return [score is not None for score in scores]

    async def outbox_page(self, event_id: int, start: int, count: int) -> list[tuple[str, int]]:
        """Paid orders not yet persisted, oldest payment first, with when each was paid."""
        raw = await self._redis.zrange(
            keys.event_key(event_id, "outbox"), start, start + count - 1, withscores=True
        )
        return [(order_id.decode(), int(score)) for order_id, score in raw]

    async def expire_due_holds(self, event_id: int, now_ms: int) -> list[str]:
        due = await self._redis.zrangebyscore(
            keys.event_key(event_id, "holds"), "-inf", now_ms, start=0, num=500
        )
        if not due:
            return []
        expired = await self._scripts.expire(event_id, *due)
        return [e.decode() for e in expired]

    async def refusals(self, event_id: int, count: int) -> list[tuple[str, dict[str, str]]]:
        entries = await self._redis.xrange(keys.event_key(event_id, "refusals"), count=count)
        return [
            (entry_id.decode(), {k.decode(): v.decode() for k, v in fields.items()})
            for entry_id, fields in entries
        ]

    async def forget_refusals(self, event_id: int, entry_ids: list[str]) -> None:
        if entry_ids:
            await self._redis.xdel(keys.event_key(event_id, "refusals"), *entry_ids)

    async def event_orders(self, event_id: int) -> tuple[list[str], int]:
        """The orders whose home is this event, and how many orders it has a part of."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hkeys(keys.event_key(event_id, "orders"))
            pipe.hlen(keys.event_key(event_id, "parts"))
            own, parts = await pipe.execute()
        return [order_id.decode() for order_id in own], int(parts)

    async def server_time_ms(self) -> int:
        seconds, micros = await self._redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

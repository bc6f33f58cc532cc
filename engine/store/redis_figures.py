"""The live figures of each event in Redis, for /metrics: read from the counters the sale
already keeps (counts, outbox, waiting-room sets), in one pipeline, never by scanning
orders or seats."""

from __future__ import annotations

import msgspec

from engine import keys
from engine.store.redis_client import SaleRedis


class EventFigures(msgspec.Struct, frozen=True):
    available: int
    held: int
    sold: int
    outbox: int  # paid orders not yet written to PostgreSQL
    oldest_paid_ms: int | None  # when the longest-waiting of them was paid
    waiting: int  # in the waiting room's line (before and after the opening)
    admitted: int  # holding an admission or a shopping slot
    active: int  # shopping slots in use


async def live_figures(redis: SaleRedis) -> tuple[int, dict[int, EventFigures]]:
    """(Redis server time in ms, the figures of every event live in Redis). The time is a
    command of its own: it has no key, which a cluster's pipeline could not route."""
    events = sorted(int(e) for e in await redis.smembers(keys.HYDRATED_EVENTS))
    seconds, micros = await redis.time()
    async with redis.pipeline(transaction=False) as pipe:
        for event_id in events:
            # the room's own keys come first; the sale's keys after them are not needed here
            own = keys.waiting_room_keys(event_id)[: len(keys.WAITING_ROOM_KEY_NAMES)]
            room = dict(zip(keys.WAITING_ROOM_KEY_NAMES, own, strict=True))
            pipe.hmget(keys.event_key(event_id, "counts"), "a", "h", "s")
            pipe.zcard(keys.event_key(event_id, "outbox"))
            pipe.zrange(keys.event_key(event_id, "outbox"), 0, 0, withscores=True)
            pipe.zcard(room["wr:pre"])
            pipe.zcard(room["wr:line"])
            pipe.hlen(room["wr:slots"])
            pipe.zcard(room["wr:active"])
        replies = await pipe.execute()
    figures = {}
    for index, event_id in enumerate(events):
        counts, outbox, oldest, pre, line, slots, active = replies[7 * index : 7 * index + 7]
        available, held, sold = (int(c or 0) for c in counts)
        figures[event_id] = EventFigures(
            available=available,
            held=held,
            sold=sold,
            outbox=int(outbox),
            oldest_paid_ms=int(oldest[0][1]) if oldest else None,
            waiting=int(pre) + int(line),
            admitted=int(slots),
            active=int(active),
        )
    return int(seconds) * 1000 + int(micros) // 1000, figures

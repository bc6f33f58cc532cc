"""The dashboard's live figures (engine/dashboard.py) from Redis: one pipeline of O(1) reads
of counters the sale engine keeps anyway."""

from __future__ import annotations

from typing import Any

from engine import keys
from engine.dashboard import LiveFigures
from engine.store.redis_client import SaleRedis

# waiting_room_keys order: cfg, state, pre, line, active, slots, ...
_STATE, _PRE, _LINE, _ACTIVE = 1, 2, 3, 4


def _int(value: Any) -> int:
    return int(value) if value is not None and not isinstance(value, Exception) else 0


def _stream_total(reply: Any) -> int:
    """XINFO STREAM's entries-added (every entry ever added, deleted ones included); 0 when
    the stream does not exist yet (the reply is then an error)."""
    if isinstance(reply, dict):
        return _int(reply.get("entries-added", reply.get(b"entries-added")))
    return 0


class RedisLiveFigures:
    def __init__(self, redis: SaleRedis) -> None:
        self._redis = redis

    async def figures(self, event_id: int) -> LiveFigures:
        room = keys.waiting_room_keys(event_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.hmget(keys.event_key(event_id, "counts"), ["a", "h", "s"])
            pipe.zcard(keys.event_key(event_id, "holds"))
            pipe.hlen(keys.event_key(event_id, "orders"))
            pipe.xinfo_stream(keys.event_key(event_id, "refusals"))
            pipe.xinfo_stream(keys.event_key(event_id, "scans"))
            pipe.zcard(room[_PRE])
            pipe.zcard(room[_LINE])
            pipe.zcard(room[_ACTIVE])
            pipe.hmget(room[_STATE], ["arrivals", "seq", "n0"])
            replies = await pipe.execute(raise_on_error=False)
        clock, counts, holds, orders, refusals, scans, pre, line, active, state = replies
        seconds, micros = clock
        available, held, sold = counts
        return LiveFigures(
            at_ms=int(seconds) * 1000 + int(micros) // 1000,
            live=available is not None,
            available=_int(available),
            held=_int(held),
            sold=_int(sold),
            holding_orders=_int(holds),
            orders_placed=_int(orders),
            refusals_total=_stream_total(refusals),
            scans_total=_stream_total(scans),
            waiting=_int(pre) + _int(line),
            shopping=_int(active),
            joined=_int(state[0]) + _int(state[1]),
            admitted_recent=_int(state[2]),
        )

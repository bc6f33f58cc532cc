"""Token buckets of requests that are not an event's claims or queue visits: one small
script call each (lua/rate_limit.lua)."""

from __future__ import annotations

from engine import keys
from engine.rate_limits import Rate
from engine.store.redis_client import SaleRedis
from engine.store.scripts import load_script


class RedisRateLimiter:
    def __init__(self, redis: SaleRedis) -> None:
        self._take = load_script(redis, "rate_limit")

    async def take(self, scope: str, who: str, rate: Rate) -> int:
        bucket = keys.rate_bucket(scope, who)
        return int(await self._take(keys=[bucket], args=[rate.requests, rate.window_ms]))

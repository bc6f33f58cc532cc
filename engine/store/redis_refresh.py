"""Refresh-token sign-ins in Redis (engine/refresh_tokens.py `RefreshStore`)."""

from __future__ import annotations

from engine import keys
from engine.refresh_tokens import Rotation
from engine.store.redis_client import SaleRedis
from engine.store.scripts import load_script


class RedisRefreshStore:
    def __init__(self, redis: SaleRedis) -> None:
        self._redis = redis
        self._rotate = load_script(redis, "refresh_rotate", ())

    async def start(self, family_id: str, user_id: int, digest: str, ttl_ms: int) -> None:
        family = keys.refresh_family(family_id)
        # on one connection, in order, without MULTI (a Redis Cluster client sends none): a
        # crash between the two leaves a family without expiry until its next rotation
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(family, mapping={"user": str(user_id), "current": digest})
            pipe.pexpire(family, ttl_ms)
            await pipe.execute()

    async def rotate(self, family_id: str, presented: str, successor: str, ttl_ms: int) -> Rotation:
        reply = await self._rotate(
            keys=[keys.refresh_family(family_id)], args=["rotate", presented, successor, ttl_ms]
        )
        result = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if result == "ok":
            return "ok", int(reply[1])
        return ("reused" if result == "reused" else "unknown"), None

    async def revoke(self, family_id: str) -> None:
        await self._rotate(keys=[keys.refresh_family(family_id)], args=["revoke"])

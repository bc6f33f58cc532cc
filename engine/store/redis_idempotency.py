"""Idempotency keys in Redis: a placeholder while running, then the stored response."""

from __future__ import annotations

import msgspec
from redis.asyncio import Redis

from engine import keys
from engine.idempotency import StoredResponse

_RUNNING = b"running"


class RedisIdempotencyStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def reserve(self, user_id: int, key: str, ttl: int) -> bool:
        return bool(
            await self._redis.set(keys.idempotency(user_id, key), _RUNNING, nx=True, ex=ttl)
        )

    async def stored(self, user_id: int, key: str) -> StoredResponse | None:
        raw = await self._redis.get(keys.idempotency(user_id, key))
        if raw is None or raw == _RUNNING:
            return None
        return msgspec.msgpack.decode(raw, type=StoredResponse)

    async def save(self, user_id: int, key: str, response: StoredResponse, ttl: int) -> None:
        await self._redis.set(
            keys.idempotency(user_id, key), msgspec.msgpack.encode(response), ex=ttl
        )

    async def drop(self, user_id: int, key: str) -> None:
        await self._redis.delete(keys.idempotency(user_id, key))

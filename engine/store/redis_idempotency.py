"""Idempotency keys in Redis: the key's record (engine.idempotency.IdempotencyRecord) as
msgpack, without a response while the first request runs, then with it."""

from __future__ import annotations

import msgspec

from engine import keys
from engine.idempotency import IdempotencyRecord
from engine.store.redis_client import SaleRedis

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(IdempotencyRecord).decode


class RedisIdempotencyStore:
    def __init__(self, redis: SaleRedis) -> None:
        self._redis = redis

    async def reserve(self, user_id: int, key: str, record: IdempotencyRecord, ttl: int) -> bool:
        name = keys.idempotency(user_id, key)
        return bool(await self._redis.set(name, _encode(record), nx=True, ex=ttl))

    async def stored(self, user_id: int, key: str) -> IdempotencyRecord | None:
        raw = await self._redis.get(keys.idempotency(user_id, key))
        return None if raw is None else _decode(raw)

    async def save(self, user_id: int, key: str, record: IdempotencyRecord, ttl: int) -> None:
        await self._redis.set(keys.idempotency(user_id, key), _encode(record), ex=ttl)

    async def drop(self, user_id: int, key: str) -> None:
        await self._redis.delete(keys.idempotency(user_id, key))

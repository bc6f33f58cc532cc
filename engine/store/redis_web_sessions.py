"""Browser sessions in Redis (engine/web_sessions.py): one msgpack string each, expiring
with the session."""

from __future__ import annotations

import msgspec

from engine import keys
from engine.store.redis_client import SaleRedis
from engine.web_sessions import WebSession

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(WebSession).decode


class RedisWebSessionStore:
    def __init__(self, redis: SaleRedis) -> None:
        self._redis = redis

    async def put(self, session_id: str, session: WebSession, ttl_seconds: int) -> None:
        await self._redis.set(keys.web_session(session_id), _encode(session), ex=ttl_seconds)

    async def get(self, session_id: str) -> WebSession | None:
        raw: bytes | None = await self._redis.get(keys.web_session(session_id))
        if raw is None:
            return None
        try:
            return _decode(raw)
        except msgspec.DecodeError:  # written by another version: as if signed out
            return None

    async def delete(self, session_id: str) -> None:
        await self._redis.delete(keys.web_session(session_id))

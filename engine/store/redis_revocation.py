"""The shared copy of revoked user ids in Redis (engine/revocation.py): one hash, user id ->
"1", and field "v", a fresh random version written with every change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from redis.asyncio import Redis

from engine import keys

_VERSION = "v"


class RedisRevocationCopy:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def version(self) -> str | None:
        raw = await self._redis.hget(keys.REVOKED_USERS, _VERSION)
        return raw.decode() if raw is not None else None

    async def revoked(self) -> tuple[str | None, frozenset[int]]:
        fields = await self._redis.hgetall(keys.REVOKED_USERS)
        version = fields.pop(_VERSION.encode(), None)
        return (
            version.decode() if version is not None else None,
            frozenset(int(user_id) for user_id in fields),
        )

    async def rebuild(self, user_ids: Iterable[int]) -> None:
        """Only adds, and sets a version only if there is none: a change published meanwhile
        (its own version, its own ids) is kept."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for user_id in user_ids:
                pipe.hset(keys.REVOKED_USERS, str(user_id), "1")
            pipe.hsetnx(keys.REVOKED_USERS, _VERSION, uuid.uuid4().hex)
            await pipe.execute()

    async def revoke(self, user_ids: Iterable[int]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for user_id in user_ids:
                pipe.hset(keys.REVOKED_USERS, str(user_id), "1")
            pipe.hset(keys.REVOKED_USERS, _VERSION, uuid.uuid4().hex)
            await pipe.execute()

    async def restore(self, user_ids: Iterable[int]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for user_id in user_ids:
                pipe.hdel(keys.REVOKED_USERS, str(user_id))
            pipe.hset(keys.REVOKED_USERS, _VERSION, uuid.uuid4().hex)
            await pipe.execute()

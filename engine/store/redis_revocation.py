"""The shared copy of revoked user ids in Redis (engine/revocation.py): one hash, user id ->
"1", and field "v", a fresh random version written with every change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from engine import keys
from engine.store.redis_client import SaleRedis

_VERSION = "v"


class RedisRevocationCopy:
    def __init__(self, redis: SaleRedis) -> None:
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

    # Each change is one HSET of the ids and a fresh version, or an HDEL of the ids followed by
    # one: the version is written last, so a reader that sees a new version sees the ids that
    # came with it. No MULTI, which Redis Cluster clients do not send.

    async def rebuild(self, user_ids: Iterable[int]) -> None:
        """Only adds, and sets a version only if there is none: a change published meanwhile
        (its own version, its own ids) is kept."""
        ids = {str(user_id): "1" for user_id in user_ids}
        if ids:
            await self._redis.hset(keys.REVOKED_USERS, mapping=ids)
        await self._redis.hsetnx(keys.REVOKED_USERS, _VERSION, uuid.uuid4().hex)

    async def revoke(self, user_ids: Iterable[int]) -> None:
        fields = {str(user_id): "1" for user_id in user_ids}
        fields[_VERSION] = uuid.uuid4().hex
        await self._redis.hset(keys.REVOKED_USERS, mapping=fields)

    async def restore(self, user_ids: Iterable[int]) -> None:
        ids = [str(user_id) for user_id in user_ids]
        if ids:
            await self._redis.hdel(keys.REVOKED_USERS, *ids)
        await self._redis.hset(keys.REVOKED_USERS, _VERSION, uuid.uuid4().hex)

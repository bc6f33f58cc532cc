"""Failed-login counters in Redis: fixed windows per e-mail and per client address."""

from __future__ import annotations

from redis.asyncio import Redis

from engine import keys


class RedisLoginThrottle:
    def __init__(self, redis: Redis, per_email: int, per_address: int, window_seconds: int):
        self._redis = redis
        self._per_email = per_email
        self._per_address = per_address
        self._window = window_seconds

    async def retry_after(self, email: str, address: str) -> int:
        by_email, by_address = (
            keys.login_failures_by_email(email),
            keys.login_failures_by_address(address),
        )
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in (by_email, by_address):
                pipe.get(key)
                pipe.ttl(key)
            email_count, email_ttl, address_count, address_ttl = await pipe.execute()
        waits = []
        if email_count is not None and int(email_count) >= self._per_email:
            waits.append(max(int(email_ttl), 1))
        if address_count is not None and int(address_count) >= self._per_address:
            waits.append(max(int(address_ttl), 1))
        return max(waits, default=0)

    async def record_failure(self, email: str, address: str) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in (
                keys.login_failures_by_email(email),
                keys.login_failures_by_address(address),
            ):
                pipe.incr(key)
                pipe.expire(key, self._window, nx=True)
            await pipe.execute()

    async def clear(self, email: str) -> None:
        await self._redis.delete(keys.login_failures_by_email(email))

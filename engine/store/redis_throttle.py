"""Failed-login counters in Redis (engine/accounts.py `LoginThrottle`): fixed windows per
(e-mail, address) pair, per e-mail and per client address, counted by one script before the
password is checked (lua/login_attempt.lua), so parallel attempts cannot outrun them."""

from __future__ import annotations

from engine import keys
from engine.store.redis_client import SaleRedis
from engine.store.scripts import load_script

KNOWN_PAIR_MS = 30 * 86_400_000  # a pair that logged in stays known for 30 days


def _keys(email: str, address: str) -> list[str]:
    return [
        keys.login_failures_by_pair(email, address),
        keys.login_failures_by_email(email),
        keys.login_failures_by_address(address),
        keys.login_known_pair(email, address),
    ]


class RedisLoginThrottle:
    def __init__(
        self,
        redis: SaleRedis,
        per_pair: int,
        per_email: int,
        per_address: int,
        window_seconds: int,
    ) -> None:
        self._limits = [per_pair, per_email, per_address, window_seconds]
        self._attempt = load_script(redis, "login_attempt")
        self._passed = load_script(redis, "login_passed")

    async def attempt(self, email: str, address: str) -> int:
        return int(await self._attempt(keys=_keys(email, address), args=self._limits))

    async def passed(self, email: str, address: str) -> None:
        await self._passed(keys=_keys(email, address), args=[KNOWN_PAIR_MS])

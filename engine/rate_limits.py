"""Request-rate limits: token buckets kept in Redis, one per customer or client address.

A `Rate` of "40/20" lets 40 requests through at once and refills the bucket at 40 per 20 s
(2 a second); "0" switches the limit off. The buckets of claims live in the event's Redis
hash tag and are checked by lua/claim.lua in the call that claims, so they cost no extra
round trip; the others are one small script call (lua/rate_limit.lua). A refused request
is 429 `rate_limited` with Retry-After.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from engine.errors import TooManyAttempts


@dataclass(frozen=True, slots=True)
class Rate:
    requests: int  # the bucket's size: this many at once ...
    seconds: int  # ... refilled over this many seconds

    @property
    def on(self) -> bool:
        return self.requests > 0 and self.seconds > 0

    @property
    def window_ms(self) -> int:
        return self.seconds * 1000

    @classmethod
    def parse(cls, spec: str) -> Rate:
        """ "40/20" (40 at once, 40 per 20 s), or "0" (off)."""
        if spec.strip() == "0":
            return OFF
        requests, _, seconds = spec.partition("/")
        rate = cls(int(requests), int(seconds))
        if rate.requests <= 0 or rate.seconds <= 0:
            raise ValueError(f"a rate is 'REQUESTS/SECONDS' with both above 0, or '0': {spec!r}")
        return rate


OFF = Rate(0, 0)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per process, from the settings (engine/settings.py, RATE_LIMIT_*)."""

    register_per_address: Rate = OFF
    login_per_address: Rate = OFF
    pay_per_customer: Rate = OFF
    claims_per_customer: Rate = OFF  # per event: checked in lua/claim.lua
    claims_per_address: Rate = OFF  # per event: checked in lua/claim.lua
    queue_per_customer: Rate = OFF  # joins and polls per event: lua/waiting_room_visit.lua


class RateLimiter(Protocol):
    async def take(self, scope: str, who: str, rate: Rate) -> int:
        """Take a token from `who`'s bucket of `scope`: 0, or ms until one is there."""


def retry_after_seconds(wait_ms: int) -> int:
    return max(1, math.ceil(wait_ms / 1000))


async def enforce(limiter: RateLimiter, scope: str, who: str, rate: Rate) -> None:
    """Raise TooManyAttempts (429 rate_limited) when `who` has no token left for `scope`."""
    if not rate.on:
        return
    wait_ms = await limiter.take(scope, who, rate)
    if wait_ms:
        raise TooManyAttempts(retry_after_seconds(wait_ms), "Too many requests; try again later")

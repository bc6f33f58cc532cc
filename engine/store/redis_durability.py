"""Whether the Redis holding the sale can lose a payment it has already confirmed.

A paid order lives only in Redis (sold, and in the outbox) until a worker writes it to
PostgreSQL, so Redis's own persistence decides what a crash can take: nothing with
`appendonly yes` + `appendfsync always` (each round of commands is on disk before Redis
replies), the last second of confirmations with `everysec` if the machine goes down, and
everything since the last snapshot with no AOF at all. The embedded Valkey runs `always`;
an external Redis is the operator's to configure, so the API says at start-up when it is not.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import RedisCluster
from redis.exceptions import ResponseError

from engine.store.redis_client import SaleRedis


async def durability_gaps(redis: SaleRedis) -> list[str]:
    """What in this Redis's persistence settings (each master's, in a cluster) can lose
    confirmed payments; empty if none."""
    try:
        if isinstance(redis, RedisCluster):
            by_node = await redis.config_get("append*", target_nodes=RedisCluster.PRIMARIES)
            gaps: list[str] = []
            for node, config in sorted(by_node.items()):
                gaps.extend(f"{node}: {gap}" for gap in _gaps(config))
            return gaps
        return _gaps(await redis.config_get("append*"))
    except ResponseError as exc:  # managed services often rename or forbid CONFIG
        return [f"cannot read Redis persistence settings ({exc}); check appendonly/appendfsync"]


def _gaps(config: dict[str, Any]) -> list[str]:
    if config.get("appendonly") != "yes":
        return [
            "Redis appendonly is off: a Redis restart loses holds and every confirmed payment "
            "not yet persisted to PostgreSQL (set appendonly yes, appendfsync always)"
        ]
    fsync = config.get("appendfsync")
    if fsync != "always":
        return [
            f"Redis appendfsync is {fsync}: a crash of the machine can lose the last confirmed "
            "payments not yet persisted to PostgreSQL (set appendfsync always)"
        ]
    return []

"""The client of the Redis that holds the sale: one server, or a Redis Cluster.

`REDIS_CLUSTER=1` makes `REDIS_URL` name any node of a cluster; redis-py's asyncio
`RedisCluster` then discovers the others, sends each command to the master of its key's slot
and follows MOVED/ASK redirections. Every Lua script runs on the keys of one event, all under
that event's hash tag (engine/keys.py), so each script call lands on one slot, and a cluster
spreads events over its masters. ARQ's job queue is not on this client: it stays on a
standalone Redis (`QUEUE_REDIS_URL`), as ARQ does not speak Cluster.
"""

from __future__ import annotations

from typing import TypeAlias

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ClusterDownError, SlotNotCoveredError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

# Either client: both speak the same commands (redis.commands), and the code that uses them
# sends only single-key commands, scripts on one event's keys, and pipelines without MULTI.
SaleRedis: TypeAlias = Redis | RedisCluster


class SaleCluster(RedisCluster):
    """redis-py's cluster client, except that a command whose connection broke or timed out
    is not sent again: it may have run, and a claim run twice would hold twice. The caller
    sees the error (503 store_unavailable; a payment tries again itself, its confirmation
    being idempotent); the client re-reads the slot map after it, so the next command finds
    a promoted replica. Pipelines keep redis-py's retries: the ones sent here are reads,
    idempotent writes and the confirmation."""

    ERRORS_ALLOW_RETRY = (ClusterDownError, SlotNotCoveredError)  # type: ignore[assignment]


def connect_sale_redis(url: str, *, cluster: bool, max_connections: int = 512) -> SaleRedis:
    """A client of the sale's Redis at `url`: a cluster client when `cluster` is set (the
    URL names any one node; its path, the logical database, must be 0 or absent)."""
    if not cluster:
        # no command sent again after a broken connection or a timeout, as SaleCluster: it
        # may have run (redis-py 5 retries nothing by default; 6 would retry three times)
        single: Redis = Redis.from_url(
            url, max_connections=max_connections, retry=AsyncRetry(NoBackoff(), 0)
        )
        return single
    cluster_client: RedisCluster = SaleCluster.from_url(
        url,
        max_connections=max_connections,
        # refusals that say the command did not run (CLUSTERDOWN while a replica is being
        # promoted, a slot not yet served) are tried again after a fresh slot map
        cluster_error_retry_attempts=3,
        # connecting is retried (nothing was sent yet), with backoff
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return cluster_client


def is_cluster(redis: SaleRedis) -> bool:
    return isinstance(redis, RedisCluster)

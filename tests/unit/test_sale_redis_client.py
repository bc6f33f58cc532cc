"""The sale's Redis clients never send a command again after a broken connection or a
timeout: the command may have run, and a claim or payment run twice would do its work twice
(lua/claim.lua also refuses an order id it already holds, but a client should not rely on
that). Only refusals that say the command did not run are tried again, by the cluster."""

from __future__ import annotations

from redis.asyncio import RedisCluster
from redis.exceptions import ClusterDownError, ConnectionError, TimeoutError

from engine.store.redis_client import SaleCluster, connect_sale_redis


def test_the_standalone_client_resends_nothing() -> None:
    client = connect_sale_redis("redis://127.0.0.1:6379/0", cluster=False)
    pool = client.connection_pool
    connection = pool.connection_class(**pool.connection_kwargs)
    assert connection.retry._retries == 0
    assert not connection.retry_on_timeout


def test_the_cluster_client_retries_only_what_did_not_run() -> None:
    allowed = SaleCluster.ERRORS_ALLOW_RETRY
    assert ClusterDownError in allowed
    assert not any(issubclass(error, allowed) for error in (ConnectionError, TimeoutError))
    assert set(RedisCluster.ERRORS_ALLOW_RETRY) - set(allowed)  # redis-py's own would resend

"""The one loader of the Lua scripts in lua/, and the scripts run on one event's keys.

`load_script` is the only place that reads lua/: it prepends the shared helpers (lua/_lib.lua
and lua/_bucket.lua unless told otherwise) and registers the result once per process.
redis-py's Script sends EVALSHA and falls back to loading the script when the server
answers NOSCRIPT. `EventScripts` binds each per-event script to an attribute of its name.
"""

from __future__ import annotations

import asyncio
from functools import cache
from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import ClusterError, NoScriptError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine import errors, keys
from engine.store.redis_client import SaleRedis

LUA_DIR = Path(__file__).resolve().parents[2] / "lua"
HELPERS = ("_lib", "_bucket")


@cache
def script_source(name: str, helpers: tuple[str, ...] = HELPERS) -> str:
    """lua/<name>.lua (name may hold a subfolder) after the given helpers."""
    parts = [*helpers, name]
    return "\n".join((LUA_DIR / f"{part}.lua").read_text() for part in parts)


def load_script(redis: SaleRedis, name: str, helpers: tuple[str, ...] = HELPERS) -> AsyncScript:
    # a script calls only EVALSHA and SCRIPT LOAD on its client, which RedisCluster routes by
    # the script's keys (and loads on every master); redis-py types the client as Redis
    return AsyncScript(cast(Redis, redis), script_source(name, helpers))


class EventScript:
    """One script of lua/ run with the KEYS of one event (engine.keys.event_keys)."""

    def __init__(self, redis: SaleRedis, name: str) -> None:
        self._redis = redis
        self._script = load_script(redis, name)

    async def __call__(self, event_id: int, *args: Any) -> Any:
        return await self._script(keys=keys.event_keys(event_id), args=list(args))

    async def call_replicated(
        self, event_id: int, replicas: int, timeout_ms: int, *args: Any
    ) -> tuple[Any, int]:
        """The script's result, and how many replicas of the event's master have what it did.

        One connection carries the script, a write of the event's replication mark and
        `WAIT replicas timeout_ms`: WAIT counts the replicas that have this connection's
        writes, and the mark makes that include the script's even when the script wrote
        nothing itself (a confirmation run again). A master replicates in order, so the
        replicas counted have every write it made before. Raises what the script or the
        connection raised; a WAIT that failed counts 0 replicas."""
        event_keys = keys.event_keys(event_id)
        mark = keys.replication_mark(event_id)
        for attempt in (1, 2):
            async with self._redis.pipeline(transaction=False) as pipe:
                # a cluster pipeline refuses pipe.evalsha, not the command itself (routed
                # by its keys like any other)
                pipe.execute_command(
                    "EVALSHA", self._script.sha, len(event_keys), *event_keys, *args
                )
                pipe.set(mark, "1", px=60_000)
                if isinstance(self._redis, RedisCluster):
                    node = self._redis.get_node_from_key(mark)
                    pipe.execute_command("WAIT", replicas, timeout_ms, target_nodes=node)
                else:
                    pipe.execute_command("WAIT", replicas, timeout_ms)
                try:
                    result, _, acked = await pipe.execute(raise_on_error=False)
                except AttributeError as exc:
                    # redis-py 5.3's cluster pipeline reads its default node while the client,
                    # after a lost connection, has forgotten the cluster's nodes: the same
                    # failover as a ClusterError, and the caller tries again as for one
                    raise ClusterError(f"cluster client re-initialising: {exc}") from exc
            if isinstance(result, NoScriptError) and attempt == 1:
                await self._redis.script_load(self._script.script)
                continue
            if isinstance(result, Exception):
                raise result
            return result, 0 if isinstance(acked, Exception) else int(acked)
        raise AssertionError("unreachable: the second attempt returns or raises")


REPLICA_TRIES = 6  # of a wait that too few replicas answered, or that failed
REPLICA_PAUSE_S = 0.5  # after a failed one: together they outlast a failover's few seconds

PAID_STATUSES = (b'"status":"paid"', b'"status":"completed"')


async def await_replicas(
    redis: SaleRedis, event_id: int, order_ids: list[str], replicas: int, timeout_ms: int
) -> None:
    """Wait until `replicas` replicas of the event's master have these orders paid, after a
    payment script whose own WAIT fell short; else raise PaymentNotReplicated.

    Each try reads the orders' documents, writes the replication mark and WAITs, on one
    connection: the replicas counted have what that master had when it answered the read.
    After a failover the read is the promoted replica's: an order it does not have paid was
    lost with the old master, and is not acknowledged."""
    documents = keys.event_key(event_id, "orders")
    mark = keys.replication_mark(event_id)
    failure: Exception | None = None
    for _ in range(REPLICA_TRIES):
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.hmget(documents, order_ids)
                pipe.set(mark, "1", px=60_000)
                if isinstance(redis, RedisCluster):
                    node = redis.get_node_from_key(mark)
                    pipe.execute_command("WAIT", replicas, timeout_ms, target_nodes=node)
                else:
                    pipe.execute_command("WAIT", replicas, timeout_ms)
                found, _, acked = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError, ClusterError, AttributeError) as exc:
            # (AttributeError: redis-py 5.3's cluster pipeline while it re-reads the nodes)
            failure = exc
            await asyncio.sleep(REPLICA_PAUSE_S)
            continue
        lost = [
            order_id
            for order_id, doc in zip(order_ids, found, strict=True)
            if doc is None or not any(status in doc for status in PAID_STATUSES)
        ]
        if lost:
            raise errors.PaymentNotReplicated(f"event {event_id}: lost in a failover: {lost}")
        if int(acked) >= replicas:
            return
        failure = None
    reason = f"last try: {failure!r}" if failure else "no replica confirmed it in time"
    raise errors.PaymentNotReplicated(f"event {event_id}: {reason}")


class EventScripts:
    """The scripts on one event's keys, each called by its name: `scripts.claim(event_id, ...)`."""

    def __init__(self, redis: SaleRedis) -> None:
        self._redis = redis
        self.ack_changes = EventScript(redis, "ack_changes")
        self.add_lines = EventScript(redis, "add_lines")
        self.changed = EventScript(redis, "changed")
        self.claim = EventScript(redis, "claim")
        self.close_unsold = EventScript(redis, "close_unsold")
        self.complete = EventScript(redis, "complete")
        self.confirm = EventScript(redis, "confirm")
        self.dead_letter = EventScript(redis, "dead_letter")
        self.expire = EventScript(redis, "expire")
        self.hydrate = EventScript(redis, "hydrate")
        self.issue_tickets = EventScript(redis, "issue_tickets")
        self.load_tickets = EventScript(redis, "load_tickets")
        self.park_changes = EventScript(redis, "park_changes")
        self.pay = EventScript(redis, "pay")
        self.pay_begin = EventScript(redis, "pay_begin")
        self.release = EventScript(redis, "release")
        self.restore_document = EventScript(redis, "restore_document")
        self.scan = EventScript(redis, "scan")
        self.void_tickets = EventScript(redis, "void_tickets")
        self.withdraw = EventScript(redis, "withdraw")

    async def await_replicas(
        self, event_id: int, order_ids: list[str], replicas: int, timeout_ms: int
    ) -> None:
        await await_replicas(self._redis, event_id, order_ids, replicas, timeout_ms)

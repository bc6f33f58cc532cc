"""The one loader of the Lua scripts in lua/, and the scripts run on one event's keys.

`load_script` is the only place that reads lua/: it prepends the shared helpers (lua/_lib.lua
and lua/_bucket.lua unless told otherwise) and registers the result once per process.
redis-py's Script sends EVALSHA and falls back to loading the script when the server
answers NOSCRIPT. `EventScripts` binds each per-event script to an attribute of its name.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from engine import keys
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
        self._script = load_script(redis, name)

    async def __call__(self, event_id: int, *args: Any) -> Any:
        return await self._script(keys=keys.event_keys(event_id), args=list(args))


class EventScripts:
    """The scripts on one event's keys, each called by its name: `scripts.claim(event_id, ...)`."""

    def __init__(self, redis: SaleRedis) -> None:
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
        self.pay_begin = EventScript(redis, "pay_begin")
        self.release = EventScript(redis, "release")
        self.restore_document = EventScript(redis, "restore_document")
        self.scan = EventScript(redis, "scan")
        self.void_tickets = EventScript(redis, "void_tickets")
        self.withdraw = EventScript(redis, "withdraw")

"""The Lua scripts have one loader (engine/store/scripts.load_script): every script in lua/ is
registered by exactly one adapter, through it, and no other module reads lua/ or registers a
script of its own."""

from __future__ import annotations

import re
from collections import Counter

from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from engine.store.redis_rate_limit import RedisRateLimiter
from engine.store.redis_refresh import RedisRefreshStore
from engine.store.redis_throttle import RedisLoginThrottle
from engine.store.redis_waiting_room import RedisWaitingRoomStore
from engine.store.scripts import LUA_DIR, EventScript, EventScripts
from workers.job_leases import JobLeases
from workers.job_queue import ArqJobQueue

ROOT = LUA_DIR.parent
SOURCE_DIRS = ("engine", "api", "workers", "ops", "loadtests")


def scripts_of(owner: object) -> list[AsyncScript]:
    found: list[AsyncScript] = []
    for value in vars(owner).values():
        if isinstance(value, EventScript):
            found += scripts_of(value)
        elif isinstance(value, AsyncScript):
            found.append(value)
    return found


def test_every_lua_script_is_registered_once_and_every_registration_is_a_lua_script() -> None:
    redis = Redis()  # registering sends nothing: the scripts load on their first call
    owners = [
        EventScripts(redis),
        RedisWaitingRoomStore(redis),
        RedisRateLimiter(redis),
        RedisRefreshStore(redis),
        RedisLoginThrottle(redis, 1, 1, 1, 60),
        JobLeases(redis, 60_000, 10_000),
        ArqJobQueue(ArqRedis()),
    ]
    sources = [str(s.script) for owner in owners for s in scripts_of(owner)]
    files = {
        str(path.relative_to(LUA_DIR)): path.read_text()
        for path in LUA_DIR.rglob("*.lua")
        if not path.name.startswith("_")
    }
    # a script is its file after the helpers the loader prepends
    used = Counter(
        name for source in sources for name, text in files.items() if source.endswith(text)
    )
    assert used == Counter(dict.fromkeys(files, 1))
    assert len(sources) == len(files)


def test_no_module_but_the_loader_reads_lua_or_registers_a_script() -> None:
    loader = ROOT / "engine" / "store" / "scripts.py"
    offenders = [
        str(path.relative_to(ROOT))
        for folder in SOURCE_DIRS
        for path in (ROOT / folder).rglob("*.py")
        if path != loader and re.search(r"register_script\(|\.lua\"|/ \"lua\"", path.read_text())
    ]
    assert offenders == []

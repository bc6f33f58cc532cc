"""The Lua scripts of lua/, loaded once per process, run against one event's keys.

Every script gets the shared helpers of lua/_lib.lua and lua/_bucket.lua prepended.
redis-py's Script sends EVALSHA and falls back to loading the script when the server
answers NOSCRIPT.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from engine import keys

LUA_DIR = Path(__file__).resolve().parents[2] / "lua"
SCRIPT_NAMES = tuple(sorted(p.stem for p in LUA_DIR.glob("*.lua") if not p.stem.startswith("_")))


HELPERS = ("_lib", "_bucket")


@cache
def script_source(name: str, helpers: tuple[str, ...] = HELPERS) -> str:
    parts = [*helpers, name]
    return "\n".join((LUA_DIR / f"{part}.lua").read_text() for part in parts)


class EventScripts:
    """Runs a named script on the keys of one event."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(script_source(name)) for name in SCRIPT_NAMES
        }

    async def run(self, name: str, event_id: int, *args: Any) -> Any:
        return await self._scripts[name](keys=keys.event_keys(event_id), args=list(args))

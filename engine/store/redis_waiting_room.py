"""The waiting room's storage: the queue and its settings in Redis (lua/waiting_room_*.lua). The
settings are written by hydration (engine/store/redis_inventory.py), never read from PostgreSQL
here.

The queue scripts take the keys of engine/keys.py `waiting_room_keys`, not the sale engine's 12
per-event keys, so they are registered here rather than run through `EventScripts`.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from functools import lru_cache
from typing import Any, cast

import msgspec

from engine import keys
from engine.store.coalescing import Coalescer
from engine.store.redis_client import SaleRedis
from engine.store.scripts import load_script
from engine.waiting_room import RoomPolicy, RoomSettings, Visit, VisitMode, WaitingRoom

VISIT_HELPERS = ("_bucket",)  # the visit charges a rate bucket; the others need no helper
OPENING_LOCK_MS = 60_000
STAGING_CHUNK = 5_000

MAX_POLL_BATCH = 256
MAX_ADDRESS = 64
_STATES = {b"a": "admitted", b"w": "waiting", b"s": "sold_out", b"x": "absent"}


def visits_of(reply: list[Any], customers: int) -> list[Visit]:
    """lua/waiting_room_visit.lua's flat reply, one Visit per customer."""
    kind = reply[0].decode()
    if kind == "limited":
        return [Visit(st=kind, retry=int(reply[1]))] * customers
    if kind == "r":
        return [Visit(st="rate_limited", retry=int(reply[1]))] * customers
    if kind != "ok":
        return [Visit(st=kind)] * customers
    opens, rate, opening = int(reply[1]), int(reply[2]) / 1000, int(reply[3])
    return [
        Visit(st="rate_limited", retry=int(reply[i + 1]))
        if reply[i] == b"r"
        else Visit(
            st=_STATES[reply[i]],
            ahead=int(reply[i + 1]),
            exp=int(reply[i + 2]),
            opens=opens,
            rate=rate,
            opening=opening,
        )
        for i in range(4, len(reply), 3)
    ]


@lru_cache(maxsize=4096)
def join_keys(event_id: int) -> tuple[str, ...]:
    """KEYS of a join: the room's, and the joins-per-address counter."""
    return (*keys.waiting_room_keys(event_id), keys.waiting_room_joins(event_id))


@lru_cache(maxsize=4096)
def _keys_with_buckets(event_id: int) -> tuple[str, ...]:
    return (*join_keys(event_id), keys.waiting_room_rate(event_id))


def visit_keys(event_id: int, mode: VisitMode, policy: RoomPolicy) -> tuple[str, ...]:
    """KEYS of a visit: a poll's are the room's; a join's add the joins-per-address counter,
    and both add the visits-per-customer buckets when that limit is on. Built once per event."""
    if policy.visits_per_customer.on:
        return _keys_with_buckets(event_id)
    return join_keys(event_id) if mode == "join" else keys.waiting_room_keys(event_id)


def visit_args(
    mode: VisitMode, customer_ids: list[int], policy: RoomPolicy, address: str
) -> list[str | int]:
    """ARGV of lua/waiting_room_visit.lua."""
    return [
        mode,
        ",".join(map(str, customer_ids)),
        policy.admission_seconds * 1000,
        policy.joins_per_address,
        policy.address_window_seconds * 1000,
        address,
        policy.visits_per_customer.requests,
        policy.visits_per_customer.window_ms,
    ]


async def _done(result: Awaitable[Any] | Any) -> Any:
    # redis-py types its asyncio commands as `Awaitable[T] | T`
    return await cast(Awaitable[Any], result)


class RedisWaitingRoomStore:
    def __init__(self, redis: SaleRedis) -> None:
        self._redis = redis
        self._visit = load_script(redis, "waiting_room_visit", VISIT_HELPERS)
        self._slot = load_script(redis, "waiting_room_slot", ())
        self._open = load_script(redis, "waiting_room_open", ())
        # polls of one event go to Redis together: one script call, one round trip and one
        # admission step serve them all (about 26 polls a call at 5,000 a second)
        self._polls: Coalescer[tuple[int, RoomPolicy], int, Visit] = Coalescer(
            self._polls_of_room, MAX_POLL_BATCH
        )

    async def visit(
        self,
        event_id: int,
        customer_id: int,
        mode: VisitMode,
        address: str,
        policy: RoomPolicy,
    ) -> Visit:
        if mode == "status":
            return await self._polls.submit((event_id, policy), customer_id)
        answers = await self._run_visit(
            visit_keys(event_id, mode, policy), mode, [customer_id], policy, address[:MAX_ADDRESS]
        )
        return answers[0]

    async def _polls_of_room(
        self, room: tuple[int, RoomPolicy], customer_ids: list[int]
    ) -> list[Visit]:
        event_id, policy = room
        return await self._run_visit(
            visit_keys(event_id, "status", policy), "status", customer_ids, policy, ""
        )

    async def _run_visit(
        self,
        room_keys: tuple[str, ...],
        mode: VisitMode,
        customer_ids: list[int],
        policy: RoomPolicy,
        address: str,
    ) -> list[Visit]:
        args = visit_args(mode, customer_ids, policy, address)
        raw = await self._visit(keys=room_keys, args=args)
        return visits_of(raw, len(customer_ids))

    async def room_settings(self, event_id: int) -> RoomSettings | None:
        raw = await _done(self._redis.get(keys.waiting_room_settings(event_id)))
        return None if raw is None else msgspec.json.decode(raw, type=RoomSettings)

    async def take_pre_queue(self, event_id: int) -> list[str] | None:
        lock = keys.waiting_room_opening_lock(event_id)
        taken = self._redis.set(lock, secrets.token_hex(8), px=OPENING_LOCK_MS, nx=True)
        if not await _done(taken):
            return None
        own = keys.waiting_room_keys(event_id)
        if await _done(self._redis.hget(own[1], "opened")) == b"1":  # opened while we asked
            await _done(self._redis.delete(lock))
            return None
        members = await _done(self._redis.zrange(own[2], 0, -1))
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    async def open_queue(self, event_id: int, order: list[str]) -> None:
        """Write the shuffled pre-queue as places 1..n, then let lua/waiting_room_open.lua
        swap it in."""
        own = keys.waiting_room_keys(event_id)
        staging = keys.waiting_room_shuffle(event_id)
        await _done(self._redis.delete(staging))
        for start in range(0, len(order), STAGING_CHUNK):
            chunk = order[start : start + STAGING_CHUNK]
            places = {member: start + offset + 1 for offset, member in enumerate(chunk)}
            await _done(self._redis.zadd(staging, places))
        await self._open(keys=[own[1], own[2], own[3], staging], args=[])
        await _done(self._redis.delete(keys.waiting_room_opening_lock(event_id)))

    async def may_shop(self, event_id: int, customer_id: int) -> bool:
        return await self._run_slot(event_id, "check", customer_id, "", 0)

    async def order_placed(
        self, event_id: int, customer_id: int, order_id: str, expires_ms: int
    ) -> bool:
        return await self._run_slot(event_id, "attach", customer_id, order_id, expires_ms)

    async def _run_slot(
        self, event_id: int, mode: str, customer_id: int, order_id: str, expires_ms: int
    ) -> bool:
        args: list[str | int] = [mode, str(customer_id), order_id, expires_ms]
        return bool(await self._slot(keys=keys.waiting_room_keys(event_id), args=args))


def waiting_room(redis: SaleRedis, secret: str, policy: RoomPolicy | None = None) -> WaitingRoom:
    return WaitingRoom(RedisWaitingRoomStore(redis), secret, policy)

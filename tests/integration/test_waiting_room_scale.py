"""The waiting room at 100,000 queued customers in one event, on the real Redis.

Join and status must cost O(1) or O(log n) Redis work and the queue must fit in 25 MB. The
work is shown by the commands the scripts run (MONITOR lists each command a Lua script
calls): a join and a poll run the same commands with 1,000 and with 100,000 in line, and
each of them is O(1) or O(log n), ranges bounded. Memory is MEMORY USAGE of every key the
room keeps (the per-address join counters included) and the change of INFO's dataset size.
The throughput figures (status polls against a trivial endpoint) are `make bench`'s.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from engine import keys
from engine.principal import Principal
from engine.settings import get_settings
from engine.store.redis_waiting_room import VISIT_HELPERS, join_keys, visit_args
from engine.store.resources import Resources
from engine.store.scripts import load_script, script_source
from engine.waiting_room import RoomPolicy
from tests.concurrency.engine_client import create_customers
from tests.conftest import Actor
from tests.integration.test_waiting_room import (
    buyer,
    engine_room,
    gated_orders,
    join_all,
    place,
    room_sale,
    wait_admitted,
)

QUEUED = 100_000
MEMORY_LIMIT = 25 * 1024 * 1024
FIRST_ID = 70_000_000  # queue members need no account: ids far from the suite's customers
CHUNK = 5_000

# what one visit may ask of Redis: O(1) or O(log n) each, ranges with a bounded length
CONSTANT_OR_LOG = {
    "TIME", "GET", "SET", "HGET", "HMGET", "HSET", "HDEL", "HEXISTS", "HINCRBY", "PTTL",
    "PEXPIRE", "PEXPIREAT", "ZSCORE", "ZRANK", "ZADD", "ZREM", "ZCARD",
}  # fmt: skip
BOUNDED_RANGES = {"ZRANGEBYSCORE", "ZRANGE", "ZPOPMIN"}
VISIT_SCRIPTS = ("waiting_room_visit", "waiting_room_slot")


def address(n: int) -> str:
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def range_length(command: list[str]) -> int:
    """How many members a range command may return."""
    name = command[0].upper()
    if name == "ZRANGEBYSCORE":
        assert command[-3].upper() == "LIMIT", command
        return int(command[-1])
    if name == "ZRANGE":
        return int(command[3]) - int(command[2]) + 1
    return int(command[2])  # ZPOPMIN key count


def test_visit_scripts_call_no_command_that_walks_a_whole_key() -> None:
    for name in VISIT_SCRIPTS:
        source = script_source(name, ())
        called = set(re.findall(r"redis\.call\('([A-Z]+)'", source))
        assert called, name
        assert called <= CONSTANT_OR_LOG | BOUNDED_RANGES, (name, called - CONSTANT_OR_LOG)
        assert "ZRANGE', K_LINE" not in source and "ZRANGE', K_PRE" not in source


async def fill(redis: Redis, event_id: int, policy: RoomPolicy, first: int, last: int) -> None:
    """Joins of customers first..last-1 (each from an address of its own), pipelined: the
    same script call with the same KEYS and ARGV the store sends for a join."""
    script = load_script(redis, "waiting_room_visit", VISIT_HELPERS)
    await redis.script_load(script.script)
    for start in range(first, last, CHUNK):
        room_keys = join_keys(event_id)
        async with redis.pipeline(transaction=False) as pipe:
            for n in range(start, min(last, start + CHUNK)):
                args = visit_args("join", [FIRST_ID + n], policy, address(n))
                pipe.evalsha(script.sha, len(room_keys), *room_keys, *args)
            replies = await pipe.execute()
        assert all(reply[0] == b"ok" for reply in replies), replies[0]


async def commands_of(redis: Redis, event_id: int, visit: Callable[[], Awaitable[Any]]) -> list:
    """The commands the scripts ran on this event's keys during `visit()`, as MONITOR saw them
    (other clients' commands, and TIME, which names no key, left out)."""
    tag = keys.event_tag(event_id)
    marker = f"end-of-visit-{time.monotonic_ns()}"
    watcher = Redis.from_url(get_settings().redis_url)
    try:
        async with watcher.monitor() as monitor:
            await visit()
            await redis.echo(marker)
            seen: list[list[str]] = []
            while True:
                entry = await monitor.next_command()
                if marker in entry["command"]:
                    return seen
                if entry["client_type"] == "lua" and tag in entry["command"]:
                    seen.append(entry["command"].split(" "))
    finally:
        await watcher.aclose()


def shape(commands: list[list[str]]) -> list[tuple[str, str]]:
    """Command and key of each, leaving out the rate-window writes (once per 30 s bucket) and
    the number of the join counter's window."""
    return [
        (c[0].upper(), re.sub(r"wr:joins:\d+", "wr:joins", c[1]))
        for c in commands
        if not (c[0].upper() == "HSET" and "wr:state" in c[1])
    ]


def check_bounded(commands: list[list[str]]) -> None:
    for command in commands:
        name = command[0].upper()
        assert name in CONSTANT_OR_LOG | BOUNDED_RANGES, command
        if name in BOUNDED_RANGES:
            assert range_length(command) <= 500, command


async def room_memory(redis: Redis, event_id: int) -> tuple[int, dict[str, int]]:
    """Bytes of every key this event's waiting room keeps, per key."""
    sizes: dict[str, int] = {}
    async for key in redis.scan_iter(match=f"{keys.event_tag(event_id)}:wr:*", count=1000):
        sizes[key.decode()] = int(await redis.memory_usage(key, samples=0) or 0)
    return sum(sizes.values()), sizes


async def dataset_bytes(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory_dataset"])


async def test_a_hundred_thousand_in_line(resources: Resources, partner: Actor) -> None:
    # admission flows (the first visit admits one, then 1 a minute): every step of a visit runs
    sale = await room_sale(resources, partner.id, pools=(10_000,), rate=1, max_active=1_000_000)
    redis, event_id = resources.redis, sale.event_id
    room = engine_room(resources)
    policy = room.policy
    before = await dataset_bytes(redis)

    async def join(n: int) -> None:
        await room.join(Principal(FIRST_ID + n, "customer"), event_id, address(n))

    async def poll(n: int) -> None:
        await room.status(Principal(FIRST_ID + n, "customer"), event_id)

    await fill(redis, event_id, policy, 0, 1_000)
    small = {
        "join": await commands_of(redis, event_id, lambda: join(1_000)),
        "status": await commands_of(redis, event_id, lambda: poll(500)),
    }
    await fill(redis, event_id, policy, 1_001, QUEUED + 1)
    large = {
        "join": await commands_of(redis, event_id, lambda: join(QUEUED + 1)),
        "status": await commands_of(redis, event_id, lambda: poll(QUEUED // 2)),
    }
    for visit in ("join", "status"):
        check_bounded(small[visit])
        check_bounded(large[visit])
        assert shape(large[visit]) == shape(small[visit]), visit
    assert any(c[0].upper() == "ZADD" and "wr:line" in c[1] for c in large["join"])

    last = await room.status(Principal(FIRST_ID + QUEUED + 1, "customer"), event_id)
    assert (last.state, last.ahead) == ("waiting", QUEUED)  # everyone ahead, one admitted
    assert await redis.zcard(keys.waiting_room_keys(event_id)[3]) == QUEUED + 1

    total, sizes = await room_memory(redis, event_id)
    grown = await dataset_bytes(redis) - before
    try:
        assert total < MEMORY_LIMIT, sizes
        assert grown < MEMORY_LIMIT, grown
    finally:
        await redis.delete(*sizes)


async def test_at_the_cap_each_visit_checks_a_bounded_batch_and_finds_the_paid_order(
    resources: Resources, partner: Actor
) -> None:
    """With more customers shopping than one visit looks at, the slots are checked a batch per
    visit, and a paid order's slot is still found and given to the next customer."""
    shoppers = 250  # two and a half of the batches lua/waiting_room_visit.lua checks per visit
    sale = await room_sale(resources, partner.id, pools=(1000,), max_active=shoppers)
    room = engine_room(resources)
    orders = gated_orders(resources, room)
    customers = await create_customers(resources.pool, shoppers + 1)
    await join_all(room, sale.event_id, customers)
    admissions = await asyncio.gather(
        *(wait_admitted(room, sale.event_id, c) for c in customers[:shoppers])
    )
    placed = await asyncio.gather(
        *(
            place(orders, c, sale, status.admission_token)
            for c, status in zip(customers, admissions, strict=False)
        )
    )
    next_one = customers[-1]
    active, slots = keys.waiting_room_keys(sale.event_id)[4:6]
    assert await resources.redis.zcard(active) == shoppers

    # the slot looked at last in a pass: its order is paid, the others stay held
    (last,) = await resources.redis.zrange(active, -1, -1)
    payer = int(last)
    await orders.pay(buyer(payer), placed[customers.index(payer)], "tok_visa")
    visits = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen = await commands_of(
            resources.redis, sale.event_id, lambda: room.status(buyer(next_one), sale.event_id)
        )
        visits.append(seen)
        if await resources.redis.hexists(slots, str(next_one)):
            break
    assert await resources.redis.hexists(slots, str(next_one)), len(visits)
    assert not await resources.redis.hexists(slots, str(payer))
    assert await resources.redis.zcard(active) == shoppers
    for seen in visits:
        check_bounded(seen)
        looked_at = sum(1 for c in seen if c[0].upper() == "HGET" and c[1].endswith("wr:slots"))
        assert looked_at <= 100 + 1, looked_at  # a batch, and the customer polling

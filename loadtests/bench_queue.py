"""Waiting room at scale: `python -m loadtests.bench_queue [--customers 100000]`.

On a private stack (embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set),
one event with its waiting room on gets `--customers` queued customers, and this prints:
- Redis memory for them: MEMORY USAGE of each queue key, and the change in INFO memory
  (which also counts the per-address join counters, kept for one window only)
- join and status cost in Redis: microseconds of server time per script call (INFO
  commandstats) with 1,000 and with all customers queued, so O(1)/O(log n) shows as flat
- engine joins and status checks per second from one Python process
- the opening of a pre-queue of the same size (cryptographic shuffle written to Redis)
- status polling throughput: GET /events/{id}/queue against GET /health on the same server
  (one uvicorn worker) with the same load tool (loadtests/http_load.py, its own process),
  alternating runs of each, medians compared; and, since a shared machine makes throughput
  noisy, the CPU each request costs the API process (and Redis, for a poll)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvloop

from engine import keys
from engine.hydration import hydrate
from engine.principal import Principal
from engine.settings import get_settings
from engine.store.redis_waiting_room import RedisWaitingRoomStore
from engine.store.resources import Resources, open_resources
from engine.tokens import issue_access_token
from engine.waiting_room import RoomPolicy, WaitingRoom
from loadtests.bench_stack import BenchStack, http_load
from loadtests.setup_data import create_partner, open_sale

CONCURRENCY = 64
SAMPLE = 1000


def address(n: int) -> str:
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


async def room_event(resources: Resources, partner: int, opens_later: bool = False) -> int:
    from datetime import timedelta

    sale = await open_sale(
        resources,
        partner,
        pools=(10_000_000,),
        limit=1000,
        sale_opens_in=timedelta(hours=1) if opens_later else timedelta(0),
    )
    await resources.pool.execute(
        """UPDATE events SET waiting_room_enabled = true, admit_per_minute = 600,
                             max_active = 100 WHERE id = $1""",
        sale.event_id,
    )
    await hydrate(sale.event_id, resources.sale_reads, resources.inventory)  # as the PATCH does
    return sale.event_id


def bench_room(resources: Resources) -> WaitingRoom:
    """The waiting room as the API builds it, allowing this bench's joins per address."""
    return WaitingRoom(
        RedisWaitingRoomStore(resources.redis),
        resources.settings.jwt_secret,
        RoomPolicy(joins_per_address=10),
    )


def poll_requests(event_id: int, customers: Sequence[int], secret: str) -> list[dict[str, Any]]:
    """GET /events/{id}/queue, one per customer, each with that customer's token."""
    tokens = (issue_access_token(Principal(c, "customer"), secret, 86400) for c in customers)
    return [
        {"path": f"/events/{event_id}/queue", "headers": {"Authorization": f"Bearer {token}"}}
        for token in tokens
    ]


async def queued_polls(resources: Resources, partner: int, customers: int) -> list[dict[str, Any]]:
    """An event with its waiting room on and `customers` queued in it; one poll for each."""
    room = bench_room(resources)
    event_id = await room_event(resources, partner)
    ids = range(1_000_000, 1_000_000 + customers)
    await run_parallel(
        customers, lambda i: room.join(Principal(ids[i], "customer"), event_id, address(i))
    )
    return poll_requests(event_id, ids, resources.settings.jwt_secret)


async def script_usec(resources: Resources) -> tuple[int, float]:
    """Calls and server microseconds of the scripts run since the last reset."""
    stats = await resources.redis.info("commandstats")
    calls, usec = 0, 0.0
    for name in ("cmdstat_evalsha", "cmdstat_eval"):
        if name in stats:
            calls += int(stats[name]["calls"])
            usec += float(stats[name]["usec"])
    return calls, usec


async def server_cost(resources: Resources, operations: int, run: Any) -> float:
    """Redis microseconds per operation (one join or one poll) over the calls `run()` makes;
    polls arriving together share one script call, so this is not per call."""
    await resources.redis.config_resetstat()
    await run()
    _, usec = await script_usec(resources)
    return usec / operations


async def run_parallel(count: int, one: Any) -> float:
    """Run one(i) for i in range(count) with CONCURRENCY at a time; calls per second."""
    started = time.perf_counter()
    position = 0

    async def worker() -> None:
        nonlocal position
        while position < count:
            index = position
            position += 1
            await one(index)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - started)


def process_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def redis_cpu(resources: Resources) -> float:
    info = await resources.redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def memory_used(resources: Resources) -> int:
    return int((await resources.redis.info("memory"))["used_memory"])


async def key_sizes(resources: Resources, event_id: int) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for name, key in zip(
        keys.WAITING_ROOM_KEY_NAMES, keys.waiting_room_keys(event_id), strict=False
    ):
        sizes[name] = int(await resources.redis.memory_usage(key, samples=0) or 0)
    return sizes


async def measure(stack: BenchStack, customers: int, seconds: float, rounds: int) -> dict[str, Any]:
    settings = get_settings()
    resources = await open_resources(settings, pool_size=4)
    room = bench_room(resources)
    figures: dict[str, Any] = {"customers": customers}
    try:
        partner = await create_partner(resources.pool)
        event_id = await room_event(resources, partner)
        ids = list(range(1_000_000, 1_000_000 + customers))

        async def join(index: int) -> None:
            await room.join(Principal(ids[index], "customer"), event_id, address(index))

        async def status(index: int) -> None:
            await room.status(Principal(ids[index], "customer"), event_id)

        await join(0)  # settings cached, queue opened
        before = await memory_used(resources)
        figures["redis_usec_per_join_first_1000"] = await server_cost(
            resources, SAMPLE, lambda: run_parallel(SAMPLE, lambda i: join(i + 1))
        )
        figures["redis_usec_per_status_1000_queued"] = await server_cost(
            resources, SAMPLE, lambda: run_parallel(SAMPLE, lambda i: status(i + 1))
        )
        rest = range(SAMPLE + 1, customers - SAMPLE)
        figures["engine_joins_per_s"] = await run_parallel(len(rest), lambda i: join(rest[i]))
        figures["redis_usec_per_join_last_1000"] = await server_cost(
            resources, SAMPLE, lambda: run_parallel(SAMPLE, lambda i: join(customers - SAMPLE + i))
        )
        figures["redis_used_memory_delta_bytes"] = await memory_used(resources) - before
        sizes = await key_sizes(resources, event_id)
        figures["queue_key_bytes"] = sizes
        figures["queue_bytes_total"] = sum(sizes.values())
        figures["queue_bytes_per_customer"] = round(sum(sizes.values()) / customers, 1)
        picks = [random.randrange(customers) for _ in range(SAMPLE)]
        figures["redis_usec_per_status_full_queue"] = await server_cost(
            resources, SAMPLE, lambda: run_parallel(SAMPLE, lambda i: status(picks[i]))
        )
        figures["engine_status_per_s"] = await run_parallel(
            20_000, lambda i: status(random.randrange(customers))
        )
        print(json.dumps(figures), flush=True)

        figures.update(await opening(resources, room, partner, customers))
        print(json.dumps(figures), flush=True)

        stack.start_api()
        polls = poll_requests(event_id, ids[:: max(1, customers // 10_000)], settings.jwt_secret)
        api_pid = stack.children[-1].pid

        async def load(requests: list[dict[str, Any]]) -> dict[str, Any]:
            """One load run, with the CPU the API process and Redis spent per request."""
            api_before, redis_before = process_cpu(api_pid), await redis_cpu(resources)
            calls_before, _ = await script_usec(resources)
            run = await asyncio.to_thread(http_load, stack.port, requests, seconds, True)
            run["api_cpu_us"] = (process_cpu(api_pid) - api_before) / run["requests"] * 1e6
            run["redis_cpu_us"] = (
                (await redis_cpu(resources) - redis_before) / run["requests"] * 1e6
            )
            calls = (await script_usec(resources))[0] - calls_before
            run["requests_per_script_call"] = run["requests"] / max(calls, 1)
            return run

        # warm up: every token verified once, as it is after a poller's first request
        await asyncio.to_thread(http_load, stack.port, polls, 2, True)
        # alternate the two, so both meet the same background load
        health_runs, queue_runs = [], []
        for _ in range(rounds):
            health_runs.append(await load([{"path": "/health"}]))
            queue_runs.append(await load(polls))
            print("health", json.dumps(health_runs[-1]), flush=True)
            print("queue ", json.dumps(queue_runs[-1]), flush=True)
        stack.stop_children()
        for run in queue_runs:
            assert set(run["statuses"]) == {"200"}, run["statuses"]

        def median(runs: list[dict[str, Any]], name: str) -> float:
            return round(float(statistics.median(run[name] for run in runs)), 1)

        figures["http_health_rps"] = median(health_runs, "rps")
        figures["http_queue_status_rps"] = median(queue_runs, "rps")
        figures["http_queue_status_p99_ms"] = median(queue_runs, "p99_ms")
        figures["status_to_health_rps_ratio"] = round(
            figures["http_queue_status_rps"] / figures["http_health_rps"], 3
        )
        figures["api_cpu_us_per_health"] = median(health_runs, "api_cpu_us")
        figures["api_cpu_us_per_status"] = median(queue_runs, "api_cpu_us")
        figures["redis_cpu_us_per_status"] = median(queue_runs, "redis_cpu_us")
        figures["polls_per_script_call"] = median(queue_runs, "requests_per_script_call")
        # on an otherwise idle machine throughput follows the CPU each request costs
        figures["status_to_health_cpu_ratio"] = round(
            figures["api_cpu_us_per_health"]
            / (figures["api_cpu_us_per_status"] + figures["redis_cpu_us_per_status"]),
            3,
        )
    finally:
        await resources.close()
    return figures


async def opening(
    resources: Resources, room: WaitingRoom, partner: int, customers: int
) -> dict[str, Any]:
    """A pre-queue of `customers`, then the sale opens: how long the shuffle takes."""
    event_id = await room_event(resources, partner, opens_later=True)
    ids = range(5_000_000, 5_000_000 + customers)
    await run_parallel(
        customers,
        lambda i: room.join(Principal(ids[i], "customer"), event_id, address(i)),
    )
    pre_queue = int(
        await resources.redis.memory_usage(keys.waiting_room_keys(event_id)[2], samples=0)
    )
    await resources.pool.execute(
        "UPDATE events SET sale_starts_at = now() - interval '1 second' WHERE id = $1", event_id
    )
    await hydrate(event_id, resources.sale_reads, resources.inventory)
    started = time.perf_counter()
    first = await room.status(Principal(ids[0], "customer"), event_id)
    took = time.perf_counter() - started
    assert first.position is not None or first.state == "admitted", first
    return {"pre_queue_bytes": pre_queue, "opening_seconds": round(took, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per load run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating /health and poll runs")
    args = parser.parse_args()
    uvloop.install()
    stack = BenchStack("bench_queue", unmet_rate_limits=True)
    stack.start()
    try:
        figures = asyncio.run(measure(stack, args.customers, args.seconds, args.rounds))
    finally:
        stack.stop()
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()

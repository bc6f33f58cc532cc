"""`make bench`: measure side by side, in one run on this machine, and write
reports/bench.json and reports/bench.md.

Figures:
- redis_raw_claim_per_s: lua/claim.lua called raw by redis-benchmark (EVALSHA, 50 clients)
- engine_claim_per_s: the engine's claim (Orders.place) from one Python process
- http_trivial_rps, http_claim_seat_rps, http_claim_ga_rps: GET /health and POST /orders on
  the same server (one uvicorn worker) with the same load generator (loadtests/http_load.py,
  its own process)
- worker_orders_per_s: paid orders driven to `completed` by two worker processes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import time
from typing import Any

import uvloop

from engine import keys
from engine.orders import EventClaim, Orders
from engine.principal import Principal
from engine.settings import get_settings
from engine.store.resources import Resources, open_resources
from engine.store.scripts import script_source
from engine.tokens import issue_access_token
from loadtests.bench_stack import BenchStack, NoQueue, http_load, results_dir
from loadtests.setup_data import create_customers, create_partner, open_sale
from workers.queue import ArqPersistQueue


async def redis_raw_claim(
    resources: Resources, event_id: int, pool_id: int, requests: int
) -> float:
    """lua/claim.lua through redis-benchmark: one claim of one unit per call."""
    binary = shutil.which("redis-benchmark") or shutil.which("valkey-benchmark")
    if binary is None:
        raise SystemExit("redis-benchmark not found: apt-get install redis-tools")
    host, port = resources.settings.redis_url.split("//")[1].split("/")[0].split(":")
    claim = json.dumps(
        [
            {
                "o": f"{event_id}-__rand_int__",
                "c": "__rand_int__",
                "s": [],
                "g": [[str(pool_id), 1]],
                "h": 1,
                "r": "",
            }
        ]
    )
    sha = await resources.redis.script_load(script_source("claim"))
    command = [
        binary,
        "-h",
        host,
        "-p",
        port,
        "-n",
        str(requests),
        "-c",
        "50",
        "-r",
        "100000000",
        "-q",
        "EVALSHA",
        sha,
        str(len(keys.EVENT_KEY_NAMES)),
        *keys.event_keys(event_id),
        claim,
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output = (await process.communicate())[0].decode()
    if process.returncode != 0 or "requests per second" not in output:
        raise RuntimeError(f"redis-benchmark failed: {output[-800:]}")
    # "EVALSHA ...: 41234.56 requests per second, p50=..."
    line = output.strip().splitlines()[-1]
    return float(line.rsplit(" requests per second", 1)[0].rsplit(" ", 1)[-1])


async def engine_claims(
    orders: Orders,
    customers: list[int],
    event_id: int,
    pool_id: int,
    seconds: float,
    concurrency: int = 256,
) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def buyer(index: int) -> None:
        nonlocal done
        customer = Principal(customers[index % len(customers)], "customer")
        claim = [EventClaim(event_id, pools={pool_id: 1})]
        while time.perf_counter() < deadline:
            await orders.place(customer, claim, "")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(buyer(i) for i in range(concurrency)))
    return done / (time.perf_counter() - started)


def order_requests(tokens: list[str], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "method": "POST",
            "path": "/orders",
            "headers": {"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
            "body": {"items": [item]},
        }
        for i, item in enumerate(items)
    ]


async def paid_backlog(
    resources: Resources, customers: list[int], event_id: int, pool_id: int, count: int
) -> list[str]:
    queue = await ArqPersistQueue.connect(resources.settings.queue_redis_url)
    orders = Orders(resources.sale_store, resources.sale_reads, resources.order_store, queue)
    ids: list[str] = []
    tickets = iter(range(count))

    async def buy(index: int) -> None:
        customer = Principal(customers[index % len(customers)], "customer")
        while next(tickets, None) is not None:
            order = await orders.place(customer, [EventClaim(event_id, pools={pool_id: 1})], "")
            ids.append(order.id)
            await orders.pay(customer, order.id, "tok_bench")

    await asyncio.gather(*(buy(i) for i in range(128)))
    await queue.close()
    return ids


async def wait_completed(resources: Resources, ids: list[str]) -> float:
    started = time.perf_counter()
    while True:
        done = await resources.pool.fetchval(
            "SELECT count(*) FROM orders WHERE id = ANY($1) AND status = 'completed'", ids
        )
        if done >= len(ids):
            return time.perf_counter() - started
        await asyncio.sleep(0.05)


def table(figures: dict[str, float], notes: dict[str, str]) -> str:
    rows = ["| figure | value | how |", "|---|---:|---|"]
    rows += [f"| `{k}` | {v:,.0f} | {notes.get(k, '')} |" for k, v in figures.items()]
    ratios = [
        ("engine_claim_per_s", "redis_raw_claim_per_s"),
        ("http_claim_seat_rps", "http_trivial_rps"),
        ("http_claim_ga_rps", "http_trivial_rps"),
    ]
    rows += ["", "| ratio | value |", "|---|---:|"]
    rows += [
        f"| {a} / {b} | {figures[a] / figures[b]:.2f} |"
        for a, b in ratios
        if a in figures and b in figures
    ]
    return "\n".join(rows) + "\n"


async def measure(stack: BenchStack, seconds: float, backlog: int) -> dict[str, float]:
    settings = get_settings()
    resources = await open_resources(settings, pool_size=8)
    figures: dict[str, float] = {}
    try:
        partner = await create_partner(resources.pool)
        customers = await create_customers(resources.pool, 2000)
        ga = await open_sale(resources, partner, pools=(10_000_000,), limit=1000)
        seated = await open_sale(resources, partner, seats=100_000, limit=1000)
        backlog_sale = await open_sale(resources, partner, pools=(backlog,), limit=1000)
        print("setup done", flush=True)

        figures["redis_raw_claim_per_s"] = await redis_raw_claim(
            resources, ga.event_id, ga.pool_ids[0], 200_000
        )
        orders = Orders(
            resources.sale_store, resources.sale_reads, resources.order_store, NoQueue()
        )
        figures["engine_claim_per_s"] = await engine_claims(
            orders, customers, ga.event_id, ga.pool_ids[0], seconds
        )
        print(json.dumps(figures), flush=True)

        stack.start_api()
        tokens = [
            issue_access_token(Principal(c, "customer"), settings.jwt_secret, 86400)
            for c in customers
        ]
        trivial = http_load(stack.port, [{"path": "/health"}], seconds, repeat=True)
        seat = http_load(
            stack.port,
            order_requests(
                tokens, [{"event_id": seated.event_id, "seat_ids": [s]} for s in seated.seat_ids]
            ),
            seconds,
            repeat=False,
        )
        pool = http_load(
            stack.port,
            order_requests(
                tokens, [{"ticket_type_id": ga.pool_ids[0], "quantity": 1}] * len(tokens)
            ),
            seconds,
            repeat=True,
        )
        for name, result in (("trivial", trivial), ("seat", seat), ("ga", pool)):
            print(name, json.dumps(result), flush=True)
        figures["http_trivial_rps"] = trivial["rps"]
        figures["http_claim_seat_rps"] = seat["rps"]
        figures["http_claim_ga_rps"] = pool["rps"]
        stack.stop_children()

        ids = await paid_backlog(
            resources, customers, backlog_sale.event_id, backlog_sale.pool_ids[0], backlog
        )
        stack.start_worker()
        stack.start_worker()
        figures["worker_orders_per_s"] = len(ids) / await wait_completed(resources, ids)
        stack.stop_children()
    finally:
        await resources.close()
    return figures


NOTES = {
    "redis_raw_claim_per_s": "redis-benchmark EVALSHA claim.lua, 50 clients",
    "engine_claim_per_s": "Orders.place, 1 process, 256 concurrent buyers",
    "http_trivial_rps": "GET /health, 64 connections",
    "http_claim_seat_rps": "POST /orders one seat each, 64 connections",
    "http_claim_ga_rps": "POST /orders one GA ticket each, 64 connections",
    "worker_orders_per_s": "paid backlog to completed, 2 worker processes",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--backlog", type=int, default=10_000)
    args = parser.parse_args()
    uvloop.install()
    stack = BenchStack("bench")
    stack.start()
    try:
        figures = asyncio.run(measure(stack, args.seconds, args.backlog))
    finally:
        stack.stop()
    out = results_dir()
    existing = json.loads((out / "bench.json").read_text()) if (out / "bench.json").exists() else {}
    existing.update({k: round(v, 1) for k, v in figures.items()})
    (out / "bench.json").write_text(json.dumps(existing, indent=2) + "\n")
    (out / "bench.md").write_text(
        f"# Benchmarks\n\nMeasured by `make bench` on {os.uname().nodename} "
        f"({os.cpu_count()} cores), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n"
        + table(existing, NOTES)
    )
    print(table(existing, NOTES))


if __name__ == "__main__":
    main()

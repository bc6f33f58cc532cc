"""`make bench`'s scale-out figures: claims on a Redis Cluster beside the same claims on one
Redis, and HTTP claims served by one API process beside two.

- cluster_claim_per_s: the engine's claims (Orders.place, one Python process, 256 concurrent
  buyers, as engine_claim_per_s) spread over EVENTS events on a 3-master Redis Cluster
  started for the figure (no replicas: a claim waits for none)
- single_claim_many_events_per_s: the same claims over EVENTS events on the bench's one Redis,
  each round right after the cluster's
- http_claim_ga_1p_rps, http_claim_ga_2p_rps: POST /orders of one GA ticket each, on an API of
  one uvicorn process and on one of two (WEB_CONCURRENCY=2), runs taken in turn

One client process drives each figure, as in the other figures, on a machine of few cores:
what they show is what one more master or one more API process gives from here, not the
ceiling of either (README: Scaling out).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from engine.orders import EventClaim, Orders
from engine.principal import Principal
from engine.store.resources import Resources, open_resources
from loadtests.bench_stack import BenchStack, NoJobQueue, http_load
from loadtests.setup_data import OnSale, create_partner, open_sale
from ops.embedded import EmbeddedRedisCluster

EVENTS = 12
BUYERS = 256


async def spread_claims(
    orders: Orders, customers: list[int], sales: list[OnSale], seconds: float
) -> float:
    """Claims of one GA unit each for `seconds`, buyer i on event i mod len(sales), each claim
    for the next of the customers, so none meets the per-customer limit however fast it goes."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def buyer(index: int) -> None:
        nonlocal done
        sale = sales[index % len(sales)]
        claim = [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 1})]
        turn = index
        while time.perf_counter() < deadline:
            customer = Principal(customers[turn % len(customers)], "customer")
            await orders.place(customer, claim, "")
            turn += BUYERS
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(buyer(i) for i in range(BUYERS)))
    return done / (time.perf_counter() - started)


def _orders(resources: Resources) -> Orders:
    return Orders(resources.sale_store, resources.sale_reads, resources.order_store, NoJobQueue())


async def cluster_claims(
    stack: BenchStack, single: Resources, customers: list[int], seconds: float, rounds: int
) -> dict[str, dict[str, Any]]:
    """Both claim figures as bench.py's HTTP runs are kept: `done_per_s` over the rounds and
    `round_rps`, each round's rate, to show the spread."""
    appendfsync = (await single.redis.config_get("appendfsync")).get("appendfsync", "always")
    cluster = EmbeddedRedisCluster(
        stack.data / "redis-cluster", masters=3, replicas=0, appendfsync=appendfsync
    )
    url = await asyncio.to_thread(cluster.start)
    settings = dataclasses.replace(single.settings, redis_url=url, redis_cluster=True)
    clustered = await open_resources(settings, pool_size=4)
    try:
        partner = await create_partner(single.pool)
        big: dict[str, Any] = {"pools": (10_000_000,), "limit": 1000}
        on_cluster = [await open_sale(clustered, partner, **big) for _ in range(EVENTS)]
        on_single = [await open_sale(single, partner, **big) for _ in range(EVENTS)]
        masters = {cluster.master_of(f"{{ev:{s.event_id}}}").port for s in on_cluster}
        print(f"{EVENTS} events on {len(masters)} of the cluster's masters", flush=True)
        rates: dict[str, list[float]] = {
            "cluster_claim_per_s": [],
            "single_claim_many_events_per_s": [],
        }
        for turn in range(rounds + 1):  # a warm-up round first, not counted
            length = 1.0 if turn == 0 else seconds / rounds
            one = await spread_claims(_orders(single), customers, on_single, length)
            many = await spread_claims(_orders(clustered), customers, on_cluster, length)
            print(f"claims on one Redis {one:,.0f}/s, on the cluster {many:,.0f}/s", flush=True)
            if turn:
                rates["single_claim_many_events_per_s"].append(one)
                rates["cluster_claim_per_s"].append(many)
        # rounds of equal length: the rate over all of them is the mean of theirs
        return {
            name: {"done_per_s": sum(values) / len(values), "round_rps": values, "statuses": {}}
            for name, values in rates.items()
        }
    finally:
        await clustered.close()
        cluster.stop()


def api_processes(
    stack: BenchStack, requests: list[dict[str, Any]], seconds: float, rounds: int
) -> dict[str, dict[str, Any]]:
    """The same claims against an API of one process and one of two, in turn."""
    stack.start_api(workers=1)
    ports = {"http_claim_ga_1p_rps": stack.port}
    stack.start_api(workers=2)
    ports["http_claim_ga_2p_rps"] = stack.port
    results: dict[str, dict[str, Any]] = {}
    try:
        for turn in range(rounds + 1):
            for name, port in ports.items():
                length = 1.0 if turn == 0 else seconds / rounds
                result = http_load(port, requests, length, True)
                print(name, turn or "warm-up", result, flush=True)
                if not turn:
                    continue
                total = results.setdefault(
                    name, {"requests": 0, "seconds": 0.0, "statuses": {}, "round_rps": []}
                )
                for status, count in result["statuses"].items():
                    total["statuses"][status] = total["statuses"].get(status, 0) + count
                total["requests"] += result["requests"]
                total["seconds"] += result["seconds"]
                total["round_rps"].append(result["statuses"].get("201", 0) / result["seconds"])
                total["done_per_s"] = total["statuses"].get("201", 0) / total["seconds"]
    finally:
        stack.stop_children()
    return results

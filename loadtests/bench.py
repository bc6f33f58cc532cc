"""`make bench`: measure side by side, in one run on this machine, and write
reports/bench.json (these figures only) and reports/bench.md (with their ratios).

Figures:
- redis_raw_claim_per_s: lua/claim.lua called raw by redis-benchmark (EVALSHA, 50 clients)
- engine_claim_per_s: the engine's claim (Orders.place) from one Python process
- http_trivial_rps, http_claim_seat_rps, http_claim_ga_rps, queue_poll_rps,
  gate_validate_rps: GET /health, POST /orders, waiting-room polls (loadtests/bench_queue.py's
  set-up) and first scans at the gate (loadtests/bench_gate.py's) on the same server (one
  uvicorn worker) with the same load generator (loadtests/http_load.py, its own process)
- pg_lock_claim_seat_rps, pg_lock_claim_ga_rps: the same claims made with PostgreSQL row locks
  (loadtests/pg_lock_baseline.py) by a second API process, same load settings, each run
  right after its Redis counterpart
- worker_orders_per_s: paid orders driven to `completed` by two worker processes
- cluster_claim_per_s, single_claim_many_events_per_s, http_claim_ga_1p_rps,
  http_claim_ga_2p_rps: scale-out figures (loadtests/bench_cluster.py)
- soldout_* (32 buyers) and soldout_512_* (512 buyers): the sell-out race
  (loadtests/bench_soldout.py), a fresh 1,000-unit GA pool each round, buyers looping claim
  then pay until it is sold out: the seconds it took, orders paid per second, the claims' and
  payments' p50/p95, and units sold beyond the pool (must be 0); medians over the rounds
- cpu_us_per_request: for each HTTP figure, the CPU microseconds the API process and Redis
  spent per request (from /proc), median over the rounds: a figure a busy machine moves less
  than requests per second
- app_us_per_request: the app's own CPU per request for /health, a poll, a claim and a scan,
  its ASGI entry called in-process with no HTTP (loadtests/bench_app_cost.py): the steadiest
  figure, the one to compare when a change to a hot path is in question
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import time
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

import asyncpg
import uvloop
from redis.exceptions import ResponseError

from engine import keys
from engine.orders import EventClaim, Orders
from engine.principal import Principal
from engine.settings import get_settings
from engine.store.resources import Resources, open_resources
from engine.store.scripts import script_source
from engine.tokens import issue_access_token
from loadtests import bench_app_cost
from loadtests.bench_cluster import api_processes, cluster_claims
from loadtests.bench_gate import staff_and_codes, validations
from loadtests.bench_login import Argon2Cost, argon2_cost, login_requests
from loadtests.bench_queue import queued_polls
from loadtests.bench_soldout import SoldoutRun, oversold, soldout_race, soldout_runs
from loadtests.bench_stack import (
    UNMET_RATE_LIMITS,
    BenchStack,
    NoJobQueue,
    http_load,
    results_dir,
)
from loadtests.cpu_sampler import cpu_seconds, role_of_pid
from loadtests.pg_lock_baseline import (
    GA_PATH,
    SEAT_PATH,
    add_baseline_pool,
    add_baseline_seats,
    create_baseline_tables,
)
from loadtests.setup_data import OnSale, create_customers, create_partner, open_sale
from workers.job_queue import ArqJobQueue


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
        claim = [EventClaim(event_id, pools={pool_id: 1})]
        # each buyer goes through the customers in turn: a fast machine makes more claims
        # in a round than one customer's limit allows
        turn = index
        while time.perf_counter() < deadline:
            customer = Principal(customers[turn % len(customers)], "customer")
            await orders.place(customer, claim, "")
            done += 1
            turn += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(buyer(i) for i in range(concurrency)))
    return done / (time.perf_counter() - started)


def order_requests(
    tokens: list[str], items: list[dict[str, Any]], path: str = "/orders"
) -> list[dict[str, Any]]:
    """One POST /orders body (or the same body to `path`) per item, buyers taken in turn."""
    return [
        {
            "method": "POST",
            "path": path,
            "headers": {"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
            "body": {"items": [item]},
        }
        for i, item in enumerate(items)
    ]


async def paid_backlog(
    resources: Resources, customers: list[int], event_id: int, pool_id: int, count: int
) -> list[str]:
    queue = await ArqJobQueue.connect(resources.settings.job_queue_redis_url)
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


async def completed_orders(resources: Resources) -> int:
    return int(
        await resources.pool.fetchval("SELECT count(*) FROM orders WHERE status = 'completed'")
    )


@dataclass
class HttpRun:
    """One load run: its figure's name, the requests, and the status that counts as done."""

    name: str
    requests: list[dict[str, Any]]
    repeat: bool
    done: str = "200"
    warm_up: float = 1.0  # seconds in the warm-up round
    server: str = "api"  # or "pg_lock": the baseline's process
    connections: int = 64


@dataclass
class Sales:
    customers: list[int]
    ga: OnSale  # the raw script's and the engine's claims
    ga_http: OnSale  # POST /orders for GA tickets: an event of its own, as the seats have
    seated: OnSale
    backlog: OnSale
    runs: list[HttpRun] = field(default_factory=list)
    races: list[SoldoutRun] = field(default_factory=list)


HEALTH = [{"path": "/health"}]


RACE_SIZES = (32, 512)  # buyers in the sell-out race
# requests a second that the runs which never send one twice (seat claims, payments, first
# scans) are sized for: above what a fast 2-core machine serves, so no round runs dry
# (run_all stops the bench if one does)
BUDGET_PER_S = 20_000
APP_COST_REQUESTS = 10_000  # of each kind a round, for the app's CPU without HTTP


async def set_up(
    resources: Resources, seconds: float, backlog: int, queued: int, rounds: int
) -> Sales:
    partner = await create_partner(resources.pool)
    seats = 20_000 + int(seconds * BUDGET_PER_S)
    customers = await create_customers(resources.pool, 2000)
    sales = Sales(
        customers,
        ga=await open_sale(resources, partner, pools=(10_000_000,), limit=1000),
        ga_http=await open_sale(resources, partner, pools=(10_000_000,), limit=1000),
        seated=await open_sale(resources, partner, seats=seats, limit=1000),
        backlog=await open_sale(resources, partner, pools=(backlog,), limit=1000),
    )
    secret = resources.settings.jwt_secret
    tokens = [issue_access_token(Principal(c, "customer"), secret, 86400) for c in customers]
    product = await product_runs(resources, partner, sales, tokens, seconds, queued)
    baseline = await baseline_runs(resources.pool, sales, tokens, seconds)
    # each baseline run right after its Redis counterpart: whatever else loads the machine
    # then weighs on both alike
    sales.runs = [run for pair in zip_longest(product, baseline) for run in pair if run is not None]
    sales.races = await soldout_runs(resources, partner, tokens, rounds, RACE_SIZES)
    return sales


async def product_runs(
    resources: Resources,
    partner: int,
    sales: Sales,
    tokens: list[str],
    seconds: float,
    queued: int,
) -> list[HttpRun]:
    """The product's API: GET /health, claims, waiting-room polls and gate scans."""
    polls = await queued_polls(resources, partner, queued)
    # a genuine code admits once: enough of them for the run at a generous rate
    gate_token, codes = await staff_and_codes(resources, 20_000 + int(seconds * BUDGET_PER_S))
    print(f"{len(polls)} customers queued, {len(codes)} tickets issued", flush=True)
    seats = [{"event_id": sales.seated.event_id, "seat_ids": [s]} for s in sales.seated.seat_ids]
    # Not the claim rounds' event: they leave ~400,000 orders in it, and in the round where
    # its tables (orders, parts, holds, changes: one entry each per claim, so they grow in
    # step) outgrow 2^19 entries Redis rehashes them all at once and each claim's Lua takes
    # about twice as long (README: measured figures). A sale's own claims pay its rehashing
    # as it grows, as the seat run's do.
    ga = [{"ticket_type_id": sales.ga_http.pool_ids[0], "quantity": 1}] * len(tokens)
    return [
        HttpRun("http_trivial_rps", HEALTH, True),
        HttpRun("http_claim_seat_rps", order_requests(tokens, seats), False, "201"),
        HttpRun("http_claim_ga_rps", order_requests(tokens, ga), True, "201"),
        HttpRun("http_pay_rps", await payments(resources, partner, sales, seconds), False, "202"),
        # each poller's token is verified once, on its first request, as in a real queue
        HttpRun("queue_poll_rps", polls, True, warm_up=2),
        HttpRun("gate_validate_rps", validations(gate_token, codes), False),
        # a login takes a verify's CPU (tens of ms): 8 in flight a core keep every verify
        # thread busy without a long queue to drain at the end of each round
        HttpRun(
            "login_per_s",
            await login_requests(resources, sales.customers),
            True,
            connections=8 * (os.cpu_count() or 1),
        ),
    ]


async def payments(
    resources: Resources, partner: int, sales: Sales, seconds: float
) -> list[dict[str, Any]]:
    """One `POST /orders/{id}/pay` for each of enough GA orders claimed now (by the engine, in
    an event of their own), by the customer who claimed it: payments alone, measured like
    the claims so the two compare."""
    sale = await open_sale(resources, partner, pools=(10_000_000,), limit=1000, hold_seconds=7200)
    orders = Orders(resources.sale_store, resources.sale_reads, resources.order_store, NoJobQueue())
    secret = resources.settings.jwt_secret
    wanted = 10_000 + int(seconds * BUDGET_PER_S)
    requests: list[dict[str, Any]] = []

    async def claimer(index: int) -> None:
        customer = Principal(sales.customers[index], "customer")
        token = issue_access_token(customer, secret, 86400)
        claim = [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 1})]
        while len(requests) < wanted:
            order = await orders.place(customer, claim, "")
            requests.append(
                {
                    "method": "POST",
                    "path": f"/orders/{order.id}/pay",
                    "headers": {"Authorization": f"Bearer {token}"},
                    "body": {"payment_token": "tok_bench"},
                }
            )

    await asyncio.gather(*(claimer(i) for i in range(256)))
    return requests


async def baseline_runs(
    pool: asyncpg.Pool, sales: Sales, tokens: list[str], seconds: float
) -> list[HttpRun]:
    """The row-lock baseline's API: the same claims, on its own tables, sized as the Redis
    ones (as many seats) or for the run (GA units)."""
    await create_baseline_tables(pool)
    seat_ids = await add_baseline_seats(pool, sales.seated.event_id, len(sales.seated.seat_ids))
    units = max(1_000_000, int(seconds * 50_000))
    pool_id = await add_baseline_pool(pool, sales.ga_http.event_id, units)
    seats = [{"event_id": sales.seated.event_id, "seat_ids": [s]} for s in seat_ids]
    ga = [{"ticket_type_id": pool_id, "quantity": 1}] * len(tokens)
    return [
        HttpRun("pg_lock_server_trivial_rps", HEALTH, True, server="pg_lock"),
        HttpRun(
            "pg_lock_claim_seat_rps",
            order_requests(tokens, seats, SEAT_PATH),
            False,
            "201",
            server="pg_lock",
        ),
        HttpRun(
            "pg_lock_claim_ga_rps",
            order_requests(tokens, ga, GA_PATH),
            True,
            "201",
            server="pg_lock",
        ),
    ]


@dataclass
class Processes:
    """The pids whose CPU time each request is charged: each API process's, and Redis' (None
    when Redis is not a process of this machine)."""

    servers: dict[str, int]
    redis: int | None

    def cpu(self, server: str) -> tuple[float, float]:
        redis = cpu_seconds(self.redis) if self.redis else 0.0
        return cpu_seconds(self.servers[server]), redis


def run_all(
    ports: dict[str, int],
    processes: Processes,
    runs: list[HttpRun],
    races: list[SoldoutRun],
    seconds: float,
    rounds: int,
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """A warm-up round (every run in turn, `warm_up` seconds each, and a race of each size, not
    counted), then every run `rounds` times in turn, seconds / rounds each time, each turn
    ending with a race of each size on a fresh pool. A shared machine's speed drifts over
    seconds (other tenants), so each figure is measured across the whole span instead of in
    one window of its own; and every process runs slower in its first seconds after start-up,
    hence the warm-up. A figure's totals are summed over its rounds; `round_rps` keeps each
    round's rate and `round_cpu_us` each round's CPU per request (API process, Redis) to show
    the spread. The races' rounds are kept as they are."""
    results: dict[str, dict[str, Any]] = {}
    raced: dict[str, list[dict[str, Any]]] = {race.name: [] for race in races}
    used = {run.name: 0 for run in runs}  # requests consumed, for runs that never repeat one
    for turn in range(rounds + 1):
        for run in runs:
            requests = run.requests if run.repeat else run.requests[used[run.name] :]
            length = run.warm_up if turn == 0 else seconds / rounds
            before = processes.cpu(run.server)
            result = http_load(ports[run.server], requests, length, run.repeat, run.connections)
            after = processes.cpu(run.server)
            result["cpu_s"] = [b - a for a, b in zip(before, after, strict=True)]
            used[run.name] += result["requests"]
            if not run.repeat and used[run.name] >= len(run.requests):
                raise SystemExit(f"{run.name} ran out of requests: raise BUDGET_PER_S")
            print(run.name, turn or "warm-up", json.dumps(result), flush=True)
            if turn:
                results[run.name] = _add_round(results.get(run.name), result, run.done)
        for race in races:
            before = processes.cpu("api")
            result = soldout_race(ports["api"], race.sales[turn], race.tokens)
            after = processes.cpu("api")
            requests = sum(result["claims"].values()) + sum(result["pays"].values())
            result["cpu_us"] = [
                (b - a) * 1e6 / requests for a, b in zip(before, after, strict=True)
            ]
            print(race.name, turn or "warm-up", json.dumps(result), flush=True)
            if turn:
                raced[race.name].append(result | {"sale": race.sales[turn]})
    return results, raced


def _add_round(total: dict[str, Any] | None, result: dict[str, Any], done: str) -> dict[str, Any]:
    if total is None:
        total = {"requests": 0, "seconds": 0.0, "statuses": {}, "round_rps": [], "round_cpu_us": []}
    requests = max(result["requests"], 1)
    total["round_cpu_us"].append([used * 1e6 / requests for used in result["cpu_s"]])
    statuses: dict[str, int] = total["statuses"]
    for status, count in result["statuses"].items():
        statuses[status] = statuses.get(status, 0) + count
    total["requests"] += result["requests"]
    total["seconds"] += result["seconds"]
    total["round_rps"].append(result["statuses"].get(done, 0) / result["seconds"])
    total["done_per_s"] = statuses.get(done, 0) / total["seconds"]
    return total


async def claim_rounds(
    resources: Resources, sales: Sales, seconds: float, rounds: int
) -> dict[str, float]:
    """The raw script and the engine, taken in turn `rounds` times (as the HTTP runs are):
    redis-benchmark sends a fixed number of calls, sized to take about as long as a round."""
    orders = Orders(resources.sale_store, resources.sale_reads, resources.order_store, NoJobQueue())
    event_id, pool_id = sales.ga.event_id, sales.ga.pool_ids[0]
    raw_calls = raw_seconds = engine_claims_done = engine_seconds = 0.0
    per_round = int(40_000 * seconds / 10)
    for _ in range(rounds):
        raw_rate = await redis_raw_claim(resources, event_id, pool_id, per_round)
        raw_calls += per_round
        raw_seconds += per_round / raw_rate
        rate = await engine_claims(orders, sales.customers, event_id, pool_id, seconds / rounds)
        engine_claims_done += rate * seconds / rounds
        engine_seconds += seconds / rounds
        print(f"raw {raw_rate:,.0f}/s, engine {rate:,.0f}/s", flush=True)
    return {
        "redis_raw_claim_per_s": raw_calls / raw_seconds,
        "engine_claim_per_s": engine_claims_done / engine_seconds,
    }


async def settle(resources: Resources) -> None:
    """Let what the set-up (or a run) left behind finish before the next figures: the
    autovacuum of tables just filled, the checkpoint of their writes, Redis compacting its
    append-only file: while those run beside them, the first rounds run slower."""
    started = time.perf_counter()
    await resources.pool.execute("VACUUM ANALYZE")
    # without the privilege, the server's own checkpoints come when they come
    with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
        await resources.pool.execute("CHECKPOINT")
    if (await resources.redis.info("persistence")).get("aof_enabled"):
        # Redis may have started a rewrite of its own (auto-aof-rewrite): then wait for that one
        with contextlib.suppress(ResponseError):
            await resources.redis.bgrewriteaof()  # type: ignore[no-untyped-call]
        for _ in range(600):  # Redis says when a rewrite ends only when asked
            if not (await resources.redis.info("persistence")).get("aof_rewrite_in_progress"):
                break
            await asyncio.sleep(0.2)
    os.sync()
    await asyncio.sleep(2)
    print(f"settled in {time.perf_counter() - started:.0f} s", flush=True)


async def measure(
    stack: BenchStack, seconds: float, backlog: int, queued: int, rounds: int
) -> tuple[dict[str, float], dict[str, dict[str, Any]], str, Argon2Cost]:
    settings = get_settings()
    resources = await open_resources(settings, pool_size=8)
    figures: dict[str, float] = {}
    try:
        redis = await redis_persistence(resources)
        started = time.perf_counter()
        sales = await set_up(resources, seconds, backlog, queued, rounds)
        print(f"setup done in {time.perf_counter() - started:.0f} s", flush=True)
        await settle(resources)

        figures |= await claim_rounds(resources, sales, seconds, rounds)
        print(json.dumps(figures), flush=True)
        await settle(resources)

        # two API processes, up together, loaded one at a time
        stack.start_api()
        ports, pids = {"api": stack.port}, {"api": stack.children[-1].pid}
        stack.start_api(app=BASELINE_APP)
        ports["pg_lock"], pids["pg_lock"] = stack.port, stack.children[-1].pid
        processes = Processes(pids, await redis_pid(resources))
        argon2 = argon2_cost(settings)  # one verify's time, right before the logins are run
        runs, raced = run_all(ports, processes, sales.runs, sales.races, seconds, rounds)
        stack.stop_children()
        figures |= {name: run["done_per_s"] for name, run in runs.items() if name in FIGURES}
        for name, races in raced.items():
            figures |= await race_figures(resources, name, races)

        ids = await paid_backlog(
            resources, sales.customers, sales.backlog.event_id, sales.backlog.pool_ids[0], backlog
        )
        # every paid order waiting is the workers' to complete, the HTTP payments' included:
        # the figure counts all that were completed until the backlog was
        before = await completed_orders(resources)
        stack.start_worker()
        stack.start_worker()
        seconds_taken = await wait_completed(resources, ids)
        figures["worker_orders_per_s"] = (
            await completed_orders(resources) - before
        ) / seconds_taken
        stack.stop_children()

        await settle(resources)
        scale_out = await cluster_claims(stack, resources, sales.customers, seconds, rounds)
        scale_out |= api_processes(stack, await scale_out_claims(resources, sales), seconds, rounds)
        runs |= scale_out
        figures |= {name: run["done_per_s"] for name, run in scale_out.items()}
    finally:
        await resources.close()
    figures["login_verify_ms"] = argon2.verify_ms
    figures["login_verify_wall_ms"] = argon2.verify_wall_ms
    figures["login_goal_per_s"] = argon2.goal_per_s
    race_runs = {name: {"races": rounds_run} for name, rounds_run in raced.items()}
    return figures, runs | race_runs, redis, argon2


async def redis_pid(resources: Resources) -> int | None:
    """Redis' process id, if it is a Redis or Valkey process of this machine."""
    pid = int((await resources.redis.info("server")).get("process_id", 0))
    return pid if role_of_pid(pid) == "redis" else None


RACE_FIGURES = (
    "seconds",
    "orders_per_s",
    "claim_p50_ms",
    "claim_p95_ms",
    "pay_p50_ms",
    "pay_p95_ms",
)


def race_prefix(name: str) -> str:
    """soldout_32 -> soldout_ (the race the goal is set for), soldout_512 -> soldout_512_."""
    return "soldout_" if name == f"soldout_{RACE_SIZES[0]}" else f"{name}_"


async def race_figures(
    resources: Resources, name: str, races: list[dict[str, Any]]
) -> dict[str, float]:
    """The medians of a race size's rounds, and the units its rounds sold beyond their pools."""
    prefix = race_prefix(name)
    figures = {prefix + f: statistics.median(r[f] for r in races) for f in RACE_FIGURES}
    over = [await oversold(resources, r["sale"], r["paid"]) for r in races]
    figures[prefix + "oversold"] = float(sum(over))
    return figures


async def scale_out_claims(resources: Resources, sales: Sales) -> list[dict[str, Any]]:
    """POST /orders of one GA ticket each, on an event of their own."""
    partner = await create_partner(resources.pool)
    sale = await open_sale(resources, partner, pools=(10_000_000,), limit=1000)
    secret = resources.settings.jwt_secret
    tokens = [issue_access_token(Principal(c, "customer"), secret, 86400) for c in sales.customers]
    ga = [{"ticket_type_id": sale.pool_ids[0], "quantity": 1}] * len(tokens)
    return order_requests(tokens, ga)


async def redis_persistence(resources: Resources) -> str:
    """The Redis under test and how it persists: what every claim and payment pays for."""
    server = await resources.redis.info("server")
    config = await resources.redis.config_get("append*")
    name = "Valkey" if "valkey_version" in server else "Redis"
    version = server.get("valkey_version") or server.get("redis_version")
    if config.get("appendonly") != "yes":
        return f"{name} {version}, no append-only file"
    return f"{name} {version}, append-only file with appendfsync {config.get('appendfsync')}"


BASELINE_APP = "loadtests.pg_lock_baseline:create_app"

NOTES = {
    "redis_raw_claim_per_s": "redis-benchmark EVALSHA claim.lua, 50 clients, one claim a "
    "call; rounds in turn with the engine's",
    "engine_claim_per_s": "Orders.place, 1 process, 256 concurrent buyers",
    "http_trivial_rps": "GET /health",
    "http_claim_seat_rps": "POST /orders, one distinct seat each (Redis Lua claim)",
    "http_claim_ga_rps": "POST /orders, one GA ticket each (Redis Lua claim), an event of its own",
    "http_pay_rps": "POST /orders/{id}/pay, orders of one GA ticket claimed in the set-up, "
    "each paid once by its customer (lua/pay.lua, then the persist job queued)",
    "pg_lock_claim_seat_rps": "same body, one distinct seat each: PostgreSQL "
    "`UPDATE ... WHERE status = 'available'` + order row, separate API process",
    "pg_lock_claim_ga_rps": "same body, one GA ticket each: PostgreSQL "
    "`FOR UPDATE SKIP LOCKED` + UPDATE + order row, separate API process",
    "worker_orders_per_s": "paid orders to completed, 2 worker processes: the backlog and the "
    "HTTP payments' orders, all completed until the backlog was",
    "queue_poll_rps": "GET /events/{id}/queue, polls of customers waiting in the queue",
    "gate_validate_rps": "POST /tickets/validate, first scans of genuine codes (200 admitted)",
    "login_per_s": "POST /auth/login, 500 customers with real argon2id hashes (see below)",
    "pg_lock_server_trivial_rps": "GET /health on the baseline's API process (a check, "
    "not in bench.json)",
    "cluster_claim_per_s": "Orders.place, 1 process, 256 concurrent buyers over 12 events on a "
    "3-master Redis Cluster (no replicas); rounds in turn with the next",
    "single_claim_many_events_per_s": "the same over 12 events on the one Redis",
    "http_claim_ga_1p_rps": "POST /orders, one GA ticket each, API of 1 uvicorn process",
    "http_claim_ga_2p_rps": "the same, API of 2 uvicorn processes (WEB_CONCURRENCY=2); "
    "rounds in turn with the 1-process API",
}

FIGURES = (
    "redis_raw_claim_per_s",
    "engine_claim_per_s",
    "http_trivial_rps",
    "http_claim_seat_rps",
    "http_claim_ga_rps",
    "http_pay_rps",
    "pg_lock_claim_seat_rps",
    "pg_lock_claim_ga_rps",
    "worker_orders_per_s",
    "queue_poll_rps",
    "gate_validate_rps",
    "cluster_claim_per_s",
    "single_claim_many_events_per_s",
    "http_claim_ga_1p_rps",
    "http_claim_ga_2p_rps",
    "login_per_s",
    "login_verify_ms",
    "login_verify_wall_ms",
    "login_goal_per_s",
    *(
        race_prefix(f"soldout_{size}") + name
        for size in RACE_SIZES
        for name in (*RACE_FIGURES, "oversold")
    ),
)

RATIOS = (
    ("engine_claim_per_s", "redis_raw_claim_per_s"),
    ("http_claim_seat_rps", "http_trivial_rps"),
    ("http_claim_ga_rps", "http_trivial_rps"),
    ("http_pay_rps", "http_trivial_rps"),
    ("http_pay_rps", "http_claim_ga_rps"),
    ("pg_lock_claim_seat_rps", "http_trivial_rps"),
    ("pg_lock_claim_ga_rps", "http_trivial_rps"),
    # against GET /health on the baseline's own process: steadier when the machine is shared
    ("pg_lock_claim_seat_rps", "pg_lock_server_trivial_rps"),
    ("pg_lock_claim_ga_rps", "pg_lock_server_trivial_rps"),
    ("http_claim_seat_rps", "pg_lock_claim_seat_rps"),
    ("http_claim_ga_rps", "pg_lock_claim_ga_rps"),
    ("queue_poll_rps", "http_trivial_rps"),
    ("gate_validate_rps", "http_trivial_rps"),
    ("pg_lock_server_trivial_rps", "http_trivial_rps"),
    ("cluster_claim_per_s", "single_claim_many_events_per_s"),
    ("cluster_claim_per_s", "engine_claim_per_s"),
    ("http_claim_ga_2p_rps", "http_claim_ga_1p_rps"),
)


def report(
    figures: dict[str, float],
    runs: dict[str, dict[str, Any]],
    seconds: float,
    rounds: int,
    redis: str,
    argon2: Argon2Cost,
) -> str:
    http = {name: run for name, run in runs.items() if "done_per_s" in run}
    values = {k: v for k, v in figures.items() if not k.startswith("soldout_")}
    values |= {name: run["done_per_s"] for name, run in http.items()}
    rows = [
        f"# Benchmarks\n\nMeasured by `make bench` on {os.uname().nodename} "
        f"({os.cpu_count()} cores), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"all figures side by side in this one run. Redis: {redis}.\n",
        "HTTP figures: one uvicorn worker (uvloop, httptools) per API process, loaded by "
        "`loadtests/http_load.py` (asyncio + uvloop, in its own process), 64 keep-alive "
        f"connections (8 a core for logins), {seconds:g} s per figure taken as {rounds} rounds of "
        f"{seconds / rounds:g} s: every HTTP run in turn, then again, so a slow spell of this "
        "shared machine weighs on all of them alike, after a warm-up round that is not "
        "counted (1 s each; 2 s for the polls). A figure counts its successful responses "
        "(200, or 201 for claims) per second over its rounds, and all the statuses are listed; "
        "`rounds` gives the median round, then the lowest and highest. The `pg_lock_*` "
        "baseline is `loadtests/pg_lock_baseline.py`: the same app with two extra POST "
        "handlers that claim with PostgreSQL row locks on tables of the bench's own database, "
        "served by a second API process (idle while the first is loaded, and the other way "
        "round), each of its runs right after its Redis counterpart.\n",
        "| figure | per second | rounds | how | statuses |",
        "|---|---:|---:|---|---|",
    ]
    for name, value in values.items():
        run = http.get(name, {})
        statuses = ", ".join(f"{status}: {n:,}" for status, n in run.get("statuses", {}).items())
        spread = _median_spread(run.get("round_rps", []), "{:,.0f}")
        rows.append(f"| `{name}` | {value:,.0f} | {spread} | {NOTES.get(name, '')} | {statuses} |")
    rows += ["", "| ratio | value | rounds |", "|---|---:|---:|"]
    for a, b in RATIOS:
        if values.get(a) and values.get(b):
            rates = (http.get(a, {}).get("round_rps", []), http.get(b, {}).get("round_rps", []))
            per_round = [x / y for x, y in zip(*rates, strict=False) if y]
            rows.append(
                f"| {a} / {b} | {values[a] / values[b]:.2f} | {_spread(per_round, '{:.2f}')} |"
            )
    login = values.get("login_per_s", 0.0)
    login_cpu_us = cpu_us_per_request(runs).get("login_per_s", {}).get("api", 0.0)
    rows += [
        "",
        f"Logins ({8 * argon2.cores} connections): {argon2.describe()}; measured "
        f"`login_per_s` {login:,.0f}/s, {login / argon2.goal_per_s:.2f} of the goal. "
        f"CPU per login in the API process {login_cpu_us / 1000:.1f} ms (median round): "
        f"all {argon2.cores} cores busy with logins alone would serve "
        f"{argon2.cores * 1e6 / login_cpu_us if login_cpu_us else 0:,.0f}/s.",
    ]
    rows += race_rows(figures, runs, rounds)
    rows += cpu_rows(runs)
    return "\n".join(rows) + "\n"


def race_rows(figures: dict[str, float], runs: dict[str, dict[str, Any]], rounds: int) -> list[str]:
    rows = [
        "",
        "## The sell-out race\n",
        "A fresh pool of 1,000 GA units each round, on the API process above (one uvicorn "
        "worker); `loadtests/soldout_load.py` in its own process opens one keep-alive "
        "connection per buyer, each with its own customer's token, then starts the clock: each "
        "buyer claims one unit (`POST /orders`) and pays it (`POST /orders/{id}/pay`), again "
        "and again, until a claim is refused `sold_out`; the race ends when the last buyer "
        f"saw that. {rounds} rounds of each size, one per turn of the HTTP runs above (after a "
        "warm-up race not counted): the median round, then the lowest and highest. `oversold`: "
        "units sold beyond the pool over all rounds, by the API's 202s or by Redis' count "
        "(must be 0).\n",
        "| buyers | sold out in (s) | orders paid per s | claim p50 / p95 (ms) "
        "| pay p50 / p95 (ms) | oversold | claims, payments |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, run in runs.items():
        races = run.get("races")
        if not races:
            continue
        statuses = "; ".join(
            f"{kind} " + ", ".join(f"{status}: {n:,}" for status, n in _summed(races, kind).items())
            for kind in ("claims", "pays")
        )
        over = figures[race_prefix(name) + "oversold"]
        rows.append(
            f"| {name.removeprefix('soldout_')} "
            f"| {_median_spread([r['seconds'] for r in races], '{:.2f}')} "
            f"| {_median_spread([r['orders_per_s'] for r in races], '{:,.0f}')} "
            f"| {_median([r['claim_p50_ms'] for r in races]):.1f} / "
            f"{_median([r['claim_p95_ms'] for r in races]):.1f} "
            f"| {_median([r['pay_p50_ms'] for r in races]):.1f} / "
            f"{_median([r['pay_p95_ms'] for r in races]):.1f} "
            f"| {over:.0f} | {statuses} |"
        )
    return rows


def cpu_rows(runs: dict[str, dict[str, Any]]) -> list[str]:
    """CPU microseconds per request, API process and Redis: median round (lowest, highest)."""
    rows = [
        "",
        "## CPU per request\n",
        "CPU time (user + system, from /proc) the serving API process and Redis used during "
        "each round, divided by the requests answered in it: the median round, then the "
        "lowest and highest. Unlike requests per second, this hardly moves when other work "
        "on the machine takes cores away. The `pg_lock_*` rows charge the baseline's API "
        "process (PostgreSQL's CPU is not counted); the races count claims and payments "
        "alike.\n",
        "| figure | API µs/request | Redis µs/request |",
        "|---|---:|---:|",
    ]
    for name, rounds in _cpu_rounds(runs).items():
        api = [cpu[0] for cpu in rounds]
        redis = [cpu[1] for cpu in rounds]
        rows.append(
            f"| `{name}` | {_median_spread(api, '{:,.0f}')} | {_median_spread(redis, '{:,.0f}')} |"
        )
    medians = cpu_us_per_request(runs)
    health = medians.get("http_trivial_rps")
    if health and health["api"]:
        rows += ["", "| CPU ratio, per request | value |", "|---|---:|"]
        names = (
            "http_claim_seat_rps",
            "http_claim_ga_rps",
            "http_pay_rps",
            "soldout_32",
            "soldout_512",
        )
        for name in names:
            claim = medians.get(name)
            if claim:
                ratio = claim["api"] / health["api"]
                rows.append(f"| {name} (API process) / http_trivial_rps | {ratio:.2f} |")
                both = (claim["api"] + claim["redis"]) / health["api"]
                rows.append(f"| {name} (API + Redis) / http_trivial_rps | {both:.2f} |")
    pay, claim_ga = medians.get("http_pay_rps"), medians.get("http_claim_ga_rps")
    if pay and claim_ga and claim_ga["api"] and claim_ga["redis"]:
        for part, label in (("api", "API process"), ("redis", "Redis")):
            ratio = pay[part] / claim_ga[part]
            rows.append(f"| http_pay_rps / http_claim_ga_rps ({label}) | {ratio:.2f} |")
    return rows


def _cpu_rounds(runs: dict[str, dict[str, Any]]) -> dict[str, list[list[float]]]:
    """Each HTTP run's and race's CPU µs per request in each round: [API process, Redis]."""
    found: dict[str, list[list[float]]] = {}
    for name, run in runs.items():
        if run.get("round_cpu_us"):
            found[name] = run["round_cpu_us"]
        elif run.get("races"):
            found[name] = [race["cpu_us"] for race in run["races"]]
    return found


def cpu_us_per_request(runs: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Each HTTP figure's median CPU µs per request, of the API process and of Redis."""
    return {
        name: {
            "api": round(_median([cpu[0] for cpu in rounds]), 1),
            "redis": round(_median([cpu[1] for cpu in rounds]), 1),
        }
        for name, rounds in _cpu_rounds(runs).items()
    }


def _summed(races: list[dict[str, Any]], kind: str) -> dict[str, int]:
    total: dict[str, int] = {}
    for race in races:
        for status, n in race[kind].items():
            total[status] = total.get(status, 0) + n
    return total


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _median_spread(values: list[float], form: str) -> str:
    if not values:
        return ""
    return f"{form.format(_median(values))} ({_spread(values, form)})"


def _spread(values: list[float], form: str) -> str:
    if not values:
        return ""
    return f"{form.format(min(values))} to {form.format(max(values))}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per figure")
    parser.add_argument("--backlog", type=int, default=10_000, help="paid orders for workers")
    parser.add_argument("--queued", type=int, default=10_000, help="customers in the queue")
    parser.add_argument(
        "--rounds", type=int, default=5, help="HTTP runs taken in turn, this many times"
    )
    parser.add_argument(
        "--rate-limits",
        choices=("unmet", "off"),
        default="unmet",
        help="the request-rate buckets checked but never met (default), or not checked at all: "
        "a run of each shows what checking them costs",
    )
    args = parser.parse_args()
    uvloop.install()
    stack = BenchStack("bench", unmet_rate_limits=True)
    if args.rate_limits == "off":
        os.environ.update(dict.fromkeys(UNMET_RATE_LIMITS, "0"))  # before start() reads them
    stack.start()
    try:
        figures, runs, redis, argon2 = asyncio.run(
            measure(stack, args.seconds, args.backlog, args.queued, args.rounds)
        )
        print("the app's CPU per request, without HTTP", flush=True)
        app_cost = asyncio.run(bench_app_cost.measure(APP_COST_REQUESTS, args.rounds))
    finally:
        stack.stop()
    if set(figures) != set(FIGURES):
        raise SystemExit(f"figures missing: {sorted(set(FIGURES) - set(figures))}")
    out = results_dir()
    bench: dict[str, Any] = {name: round(figures[name], 1) for name in FIGURES}
    bench["cores"] = argon2.cores
    bench["argon2"] = {
        "time_cost": argon2.time_cost,
        "memory_kib": argon2.memory_kib,
        "parallelism": 1,
        "verify_threads": argon2.threads,
    }
    bench["cpu_us_per_request"] = cpu_us_per_request(runs)
    bench["app_us_per_request"] = {
        kind: app_cost[f"app_us_per_{kind}"] for kind in bench_app_cost.KINDS
    }
    (out / "bench.json").write_text(json.dumps(bench, indent=2) + "\n")
    values = {name: figures[name] for name in FIGURES}
    text = report(values, runs, args.seconds, args.rounds, redis, argon2)
    text += "\n".join(bench_app_cost.report_rows(app_cost)) + "\n"
    (out / "bench.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

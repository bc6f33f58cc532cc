"""The API's own CPU per request, without HTTP: `python -m loadtests.bench_app_cost`.

Requests per second over HTTP (loadtests/bench.py) move by 10-20% from run to run on a
shared machine: uvicorn's parsing and socket writes and the load generator share the cores
with the app. This calls the app's ASGI entry directly instead: the app `make run` serves
(hot paths, response headers, access log, metrics, Litestar for the rest), entered through
its lifespan, 64 requests in flight from one process. Each figure is the process's CPU time
(user + system) divided by the requests answered, the median of alternating rounds, so the
kinds meet the same background load. It moves by a few per cent, enough to tell what a
change costs a hot path from noise. It counts the Redis client's work, not Redis's own.

Kinds: GET /health (Litestar's whole path), a waiting-room poll, a claim of one GA ticket,
a gate scan of a genuine code. Each request must get its kind's success status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from typing import Any

import uvloop

from api.app import create_app
from engine.principal import Principal
from engine.settings import get_settings
from engine.store.resources import Resources, open_resources
from engine.tokens import issue_access_token
from loadtests.bench_gate import staff_and_codes, validations
from loadtests.bench_queue import queued_polls
from loadtests.bench_stack import BenchStack
from loadtests.setup_data import create_customers, create_partner, open_sale

IN_FLIGHT = 64
KINDS = ("health", "poll", "claim", "scan")
Scope = dict[str, Any]


@dataclass
class Kind:
    """One kind of request: its figure's name, the requests and the status that counts."""

    name: str
    requests: list[dict[str, Any]]
    status: int
    repeat: bool  # a request may be sent again (a claim or a scan may not)


def asgi_request(request: dict[str, Any]) -> tuple[Scope, bytes]:
    """The scope and body uvicorn would hand the app for one of http_load's request lines."""
    body = request.get("body")
    payload = b"" if body is None else json.dumps(body).encode()
    headers = [(b"host", b"127.0.0.1:8000"), (b"connection", b"keep-alive")]
    headers += [(k.lower().encode(), v.encode()) for k, v in request.get("headers", {}).items()]
    if body is not None:
        headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(payload)).encode()))
    path = request["path"]
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": request.get("method", "GET"),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
    }
    return scope, payload


async def run_kind(app: Any, kind: Kind, count: int, offset: int) -> tuple[float, dict[int, int]]:
    """`count` requests of `kind` from its list at `offset`, IN_FLIGHT at a time: CPU µs per
    request, and the statuses answered."""
    prepared = [asgi_request(r) for r in kind.requests]
    statuses: dict[int, int] = {}
    position = 0

    async def one(scope: Scope, payload: bytes) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": payload, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                statuses[status] = statuses.get(status, 0) + 1

        await app(dict(scope), receive, send)

    async def client() -> None:
        nonlocal position
        while position < count:
            index = offset + position
            position += 1
            scope, payload = prepared[index % len(prepared)]
            await one(scope, payload)

    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(IN_FLIGHT)))
    return (time.process_time() - started) / count * 1e6, statuses


async def kinds_of(resources: Resources, requests: int, rounds: int) -> list[Kind]:
    partner = await create_partner(resources.pool)
    secret = resources.settings.jwt_secret
    customers = await create_customers(resources.pool, 2000)
    tokens = [issue_access_token(Principal(c, "customer"), secret, 86400) for c in customers]
    ga = await open_sale(resources, partner, pools=(10_000_000,), limit=1000)
    claim = {"items": [{"ticket_type_id": ga.pool_ids[0], "quantity": 1}]}
    claims = [
        {
            "method": "POST",
            "path": "/orders",
            "headers": {"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
            "body": claim,
        }
        for i in range(requests * (rounds + 1))
    ]
    gate_token, codes = await staff_and_codes(resources, requests * (rounds + 1))
    return [
        Kind("health", [{"path": "/health"}], 200, True),
        Kind("poll", await queued_polls(resources, partner, 5_000), 200, True),
        Kind("claim", claims, 201, False),
        Kind("scan", validations(gate_token, codes), 200, False),
    ]


async def measure(requests: int, rounds: int) -> dict[str, Any]:
    resources = await open_resources(get_settings(), pool_size=4)
    try:
        kinds = await kinds_of(resources, requests, rounds)
    finally:
        await resources.close()
    app = create_app()
    costs: dict[str, list[float]] = {kind.name: [] for kind in kinds}
    async with app.lifespan():
        for index in range(rounds + 1):  # the first round warms up (tokens verified once)
            for kind in kinds:
                offset = index * requests if not kind.repeat else 0
                cost, statuses = await run_kind(app, kind, requests, offset)
                check(kind, statuses)
                if index:
                    costs[kind.name].append(cost)
                    print(f"round {index} {kind.name}: {cost:.1f} µs", flush=True)
    return summary(costs, requests, rounds)


def check(kind: Kind, statuses: dict[int, int]) -> None:
    """Stop unless every request got its kind's success status: a figure of refusals would
    measure the wrong path."""
    if set(statuses) != {kind.status}:
        raise SystemExit(f"{kind.name}: answered {statuses}, not {kind.status}")


def summary(costs: dict[str, list[float]], requests: int, rounds: int) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "requests_per_round": requests,
        "rounds": rounds,
        "in_flight": IN_FLIGHT,
    }
    for name, values in costs.items():
        figures[f"app_us_per_{name}"] = round(float(statistics.median(values)), 2)
        figures[f"app_us_per_{name}_rounds"] = [round(v, 2) for v in values]
    return figures


def report_rows(figures: dict[str, Any]) -> list[str]:
    """The figures as a section of reports/bench.md."""
    rows = [
        "",
        "## The app's CPU per request, without HTTP\n",
        "`loadtests/bench_app_cost.py`: the app's ASGI entry called directly in one process "
        f"({figures['in_flight']} requests in flight, {figures['requests_per_round']:,} of each "
        f"kind a round, {figures['rounds']} rounds taken in turn after a warm-up round), its CPU "
        "time divided by the requests: no uvicorn, no load generator, no Redis server time. "
        "It moves by a few per cent where the HTTP figures above move by 10-20%, so it is the "
        "figure to compare when a change to a hot path is in question.\n",
        "| kind | µs/request | rounds |",
        "|---|---:|---:|",
    ]
    for kind in KINDS:
        spread = figures[f"app_us_per_{kind}_rounds"]
        rows.append(
            f"| {kind} | {figures[f'app_us_per_{kind}']:.1f} | "
            f"{min(spread):.1f} to {max(spread):.1f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="of each kind a round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    uvloop.install()
    stack = BenchStack("bench_app_cost", unmet_rate_limits=True)
    stack.start()
    try:
        figures = asyncio.run(measure(args.requests, args.rounds))
    finally:
        stack.stop()
    for name, value in figures.items():
        print(f"{name:<28} {value}")


if __name__ == "__main__":
    main()

"""Gate validations through HTTP beside a trivial endpoint: `python -m loadtests.bench_gate`.

On a private stack (loadtests/bench_stack.py: its own database, one uvicorn worker) and with
the same load generator (loadtests/http_load.py, its own process, 64 connections):
- GET /health, the trivial endpoint;
- POST /tickets/validate with a distinct genuine code each time (200 admitted: the signature
  and one guarded UPDATE);
- the same with codes already used (409 already_used: the UPDATE, then the read of why);
- forged codes (404 invalid: refused on the signature, no database read).
Prints each figure and its ratio to the trivial endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import uvloop

from engine.orders import EventClaim, Orders
from engine.persistence import Persister
from engine.principal import Principal
from engine.settings import get_settings
from engine.store.redis_order_log import RedisOrderLog
from engine.store.resources import Resources, open_resources
from engine.tokens import issue_access_token
from loadtests.bench_stack import BenchStack, NoJobQueue, http_load
from loadtests.setup_data import create_customers, create_partner, open_sale

PER_ORDER = 10


async def issue(resources: Resources, partner_id: int, tickets: int) -> list[str]:
    """`tickets` genuine codes of one event, completed as the worker would."""
    sale = await open_sale(resources, partner_id, pools=(tickets,), limit=1000)
    customers = await create_customers(resources.pool, max(50, tickets // 500))
    orders = Orders(resources.sale_store, resources.sale_reads, resources.order_store, NoJobQueue())
    remaining = iter(range(tickets // PER_ORDER))
    ids: list[str] = []

    async def buyer(index: int) -> None:
        customer = Principal(customers[index], "customer")
        while next(remaining, None) is not None:
            claim = [EventClaim(sale.event_id, pools={sale.pool_ids[0]: PER_ORDER})]
            order = await orders.place(customer, claim, "")
            await orders.pay(customer, order.id, "tok_bench")
            ids.append(order.id)

    await asyncio.gather(*(buyer(i) for i in range(len(customers))))
    keys = resources.gate_keys()
    persister = Persister(
        RedisOrderLog(resources.redis, resources.scripts), resources.order_store, keys
    )
    for start in range(0, len(ids), 500):
        await persister.persist(ids[start : start + 500])
    rows = await resources.pool.fetch(
        "SELECT code FROM tickets WHERE event_id = $1 ORDER BY id", sale.event_id
    )
    return [row["code"] for row in rows]


def validations(token: str, codes: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "method": "POST",
            "path": "/tickets/validate",
            "headers": {"Authorization": f"Bearer {token}"},
            "body": {"code": code, "gate": "bench"},
        }
        for code in codes
    ]


def forge(code: str, n: int) -> str:
    at = 20 + n % 150
    return code[:at] + str((int(code[at]) + 1 + n % 9) % 10) + code[at + 1 :]


async def staff_and_codes(resources: Resources, tickets: int) -> tuple[str, list[str]]:
    """A gate scanner's access token and `tickets` genuine codes of its partner's event."""
    partner = await create_partner(resources.pool)
    staff = await resources.pool.fetchval(
        """INSERT INTO users (role, name, email, password_hash, partner_id)
           VALUES ('staff', 'Gate', 'gate-' || gen_random_uuid() || '@example.com', 'x', $1)
           RETURNING id""",
        partner,
    )
    codes = await issue(resources, partner, tickets)
    secret = resources.settings.jwt_secret
    return issue_access_token(Principal(staff, "staff", partner), secret, 86400), codes


async def setup(tickets: int) -> tuple[str, list[str]]:
    resources = await open_resources(get_settings(), pool_size=8)
    try:
        return await staff_and_codes(resources, tickets)
    finally:
        await resources.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--tickets", type=int, default=20_000)
    args = parser.parse_args()
    uvloop.install()
    stack = BenchStack("bench-gate", unmet_rate_limits=True)
    stack.start()
    try:
        token, codes = asyncio.run(setup(args.tickets))
        print(f"{len(codes)} tickets issued", flush=True)
        stack.start_api()
        http_load(stack.port, [{"path": "/health"}], 1, repeat=True)  # warm up
        runs = {
            "trivial GET /health": http_load(
                stack.port, [{"path": "/health"}], args.seconds, repeat=True
            ),
            "validate, admitted (200)": http_load(
                stack.port, validations(token, codes), args.seconds, repeat=False
            ),
            "validate, already used (409)": http_load(
                stack.port, validations(token, codes[:1000]), args.seconds, repeat=True
            ),
            "validate, forged (404)": http_load(
                stack.port,
                validations(token, [forge(c, n) for n, c in enumerate(codes[:1000])]),
                args.seconds,
                repeat=True,
            ),
        }
    finally:
        stack.stop()
    trivial = runs["trivial GET /health"]["rps"]
    for name, result in runs.items():
        statuses = json.dumps(result["statuses"])
        print(
            f"{name:30} {result['rps']:>8.0f} req/s  {result['rps'] / trivial:5.2f} of trivial"
            f"  p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  {statuses}"
        )
    admitted = runs["validate, admitted (200)"]
    if admitted["requests"] >= len(codes):
        print(f"note: all {len(codes)} genuine codes were used up; raise --tickets")


if __name__ == "__main__":
    main()

"""The concurrency rules hold through the HTTP API served by several processes (uvicorn's
workers, as `make run` starts WEB_CONCURRENCY of them): parallel claims never sell a seat or
a unit twice, nor past a customer's limit, and two payments of one order make one payment."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine import keys
from engine.principal import Principal
from engine.settings import get_settings
from engine.store.resources import Resources
from engine.tokens import issue_access_token
from tests import services as test_services
from tests.api_server import running_api
from tests.concurrency.engine_client import create_customers
from tests.conftest import Actor
from tests.sale_setup import open_sale

pytestmark = pytest.mark.cluster

PROCESSES = 2
IN_FLIGHT = 64  # requests open at once


@pytest.fixture(scope="module")
def api(services: test_services.TestServices) -> Iterator[str]:
    with running_api(workers=PROCESSES) as base:
        yield base


@pytest.fixture
async def http(api: str) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=api, timeout=60, limits=limits) as client:
        yield client


def bearer(customer_id: int) -> dict[str, str]:
    token = issue_access_token(
        Principal(customer_id, "customer"), get_settings().jwt_secret, ttl_seconds=600
    )
    return {"Authorization": f"Bearer {token}"}


async def post_all(
    http: httpx.AsyncClient, requests: list[tuple[str, int, dict[str, Any]]]
) -> list[httpx.Response]:
    """(path, customer, body) each, IN_FLIGHT at a time, in parallel."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def send(path: str, customer: int, body: dict[str, Any]) -> httpx.Response:
        async with gate:
            return await http.post(path, json=body, headers=bearer(customer))

    return list(await asyncio.gather(*(send(*request) for request in requests)))


def outcomes(responses: list[httpx.Response]) -> Counter[str]:
    return Counter(
        "ok" if r.status_code in (201, 202) else r.json().get("code", str(r.status_code))
        for r in responses
    )


async def live_counts(resources: Resources, event_id: int) -> tuple[int, int, int]:
    a, h, s = await resources.redis.hmget(keys.event_key(event_id, "counts"), "a", "h", "s")
    return int(a), int(h), int(s)


async def test_claims_and_payments_through_two_api_processes(
    http: httpx.AsyncClient, resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=40)
    customers = await create_customers(resources.pool, 200)
    claims = [
        ("/orders", c, {"items": [{"event_id": sale.event_id, "seat_ids": [seat]}]})
        for c, seat in zip(customers, sale.seat_ids * 5, strict=True)
    ]
    responses = await post_all(http, claims)
    assert outcomes(responses) == {"ok": 40, "seat_unavailable": 160}
    winners = {r.json()["id"]: r.json()["customer_id"] for r in responses if r.status_code == 201}
    holders = await resources.redis.hgetall(keys.event_key(sale.event_id, "seats"))
    assert sorted(v.decode() for v in holders.values()) == sorted(f"h:{o}" for o in winners)

    # every order paid twice at once: one payment each, the other refused
    pays = [
        (f"/orders/{order}/pay", customer, {"payment_token": "tok_visa"})
        for order, customer in winners.items()
        for _ in range(2)
    ]
    paid = outcomes(await post_all(http, pays))
    assert paid == {"ok": 40, "invalid_state": 40}, paid
    assert await live_counts(resources, sale.event_id) == (0, 0, 40)


async def test_a_pool_sells_exactly_its_size_through_two_api_processes(
    http: httpx.AsyncClient, resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id, pools=(60,))
    customers = await create_customers(resources.pool, 240)
    item = {"ticket_type_id": sale.pool_ids[0], "quantity": 1}
    responses = await post_all(http, [("/orders", c, {"items": [item]}) for c in customers])
    assert outcomes(responses) == {"ok": 60, "sold_out": 180}
    assert await live_counts(resources, sale.event_id) == (0, 60, 0)


async def test_the_customer_limit_holds_through_two_api_processes(
    http: httpx.AsyncClient, resources: Resources, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=40, limit=4)
    (customer,) = await create_customers(resources.pool, 1)
    claims = [
        ("/orders", customer, {"items": [{"event_id": sale.event_id, "seat_ids": [seat]}]})
        for seat in sale.seat_ids[:20]
    ]
    assert outcomes(await post_all(http, claims)) == {"ok": 4, "limit_exceeded": 16}
    assert await live_counts(resources, sale.event_id) == (36, 4, 0)


def counted(metrics: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`, from /metrics' text."""
    total = 0.0
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


async def test_metrics_add_up_every_process(http: httpx.AsyncClient) -> None:
    """/metrics answers for all the processes, whichever one the scrape reaches: the answers
    of both (told apart by their request ids, whose prefix is per process) are counted in
    every scrape, and a claim's outcome likewise."""
    before = counted((await http.get("/metrics")).text, "boxoffice_requests_total", path="/ready")
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def ready() -> str:
        async with gate:
            answer = await http.get("/ready")
            assert answer.status_code == 200
            return answer.headers["x-request-id"][:12]

    prefixes = await asyncio.gather(*(ready() for _ in range(300)))
    assert len(set(prefixes)) == PROCESSES  # both processes answered some
    for _ in range(8):  # scrapes land on either process
        scrape = (await http.get("/metrics")).text
        assert counted(scrape, "boxoffice_requests_total", path="/ready") - before == 300

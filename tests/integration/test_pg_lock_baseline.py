"""The PostgreSQL row-lock baseline `make bench` compares the Redis claims with must itself be
correct, or the comparison flatters it: concurrent claims through its handlers sell each seat
and each GA unit once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.problems import PROBLEM_JSON
from engine.store.resources import Resources
from loadtests.pg_lock_baseline import (
    GA_PATH,
    SEAT_PATH,
    add_baseline_pool,
    add_baseline_seats,
    create_app,
    create_baseline_tables,
)
from tests.conftest import make_actor

EVENT_ID = 1


@pytest.fixture(scope="module")
async def baseline(services: Any, resources: Resources) -> AsyncIterator[Any]:
    await create_baseline_tables(resources.pool)
    async with AsyncTestClient(app=create_app()) as test_client:
        yield test_client


async def buyers(client: AsyncTestClient[Any], count: int) -> list[dict[str, str]]:
    actors = [await make_actor(client, "customer") for _ in range(count)]
    return [actor.headers for actor in actors]


async def test_200_claims_on_20_seats_sell_each_seat_once(
    baseline: AsyncTestClient[Any], resources: Resources
) -> None:
    seats = await add_baseline_seats(resources.pool, EVENT_ID, 20)
    headers = await buyers(baseline, 4)
    responses = await asyncio.gather(
        *(
            baseline.post(
                SEAT_PATH,
                headers=headers[n % 4],
                json={"items": [{"event_id": EVENT_ID, "seat_ids": [seats[n % 20]]}]},
            )
            for n in range(200)
        )
    )
    assert Counter(r.status_code for r in responses) == {201: 20, 409: 180}
    refused = [r for r in responses if r.status_code == 409]
    assert all(r.headers["content-type"].startswith(PROBLEM_JSON) for r in refused)
    assert {r.json()["code"] for r in refused} == {"seat_unavailable"}
    sold = {r.json()["items"][0]["seat_id"]: r.json()["id"] for r in responses if r.is_success}
    assert sorted(sold) == seats
    rows = await resources.pool.fetch(
        """SELECT s.id, s.status, s.order_id::text AS order_id, o.total_cents
             FROM baseline_seats s JOIN baseline_orders o ON o.id = s.order_id
            WHERE s.id = ANY($1)""",
        seats,
    )
    assert {row["id"]: row["order_id"] for row in rows} == sold
    assert {row["status"] for row in rows} == {"held"}
    assert {row["total_cents"] for row in rows} == {5000}


async def test_200_claims_on_a_pool_of_50_sell_each_unit_once(
    baseline: AsyncTestClient[Any], resources: Resources
) -> None:
    pool_id = await add_baseline_pool(resources.pool, EVENT_ID, 50)
    headers = await buyers(baseline, 4)
    responses = await asyncio.gather(
        *(
            baseline.post(
                GA_PATH,
                headers=headers[n % 4],
                json={"items": [{"ticket_type_id": pool_id, "quantity": 1}]},
            )
            for n in range(200)
        )
    )
    # quantity 1: a claim that finds a unit always commits, so none is left over
    assert Counter(r.status_code for r in responses) == {201: 50, 409: 150}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"sold_out"}
    granted = {r.json()["id"] for r in responses if r.is_success}
    rows = await resources.pool.fetch(
        """SELECT u.status, u.order_id::text AS order_id FROM baseline_units u
             JOIN baseline_orders o ON o.id = u.order_id WHERE u.pool_id = $1""",
        pool_id,
    )
    assert len(rows) == 50 and {row["status"] for row in rows} == {"held"}
    assert Counter(row["order_id"] for row in rows) == dict.fromkeys(granted, 1)


async def test_the_baseline_asks_for_a_customer_and_a_well_formed_body(
    baseline: AsyncTestClient[Any], resources: Resources
) -> None:
    seats = await add_baseline_seats(resources.pool, EVENT_ID, 1)
    body = {"items": [{"event_id": EVENT_ID, "seat_ids": seats}]}
    assert (await baseline.post(SEAT_PATH, json=body)).status_code == 401
    partner = await make_actor(baseline, "partner")
    assert (await baseline.post(SEAT_PATH, headers=partner.headers, json=body)).status_code == 403
    (customer,) = await buyers(baseline, 1)
    wrong_kind = await baseline.post(GA_PATH, headers=customer, json=body)
    assert wrong_kind.status_code == 422
    bad = await baseline.post(SEAT_PATH, headers=customer, json={"items": [{"seat": 1}]})
    assert bad.status_code == 422
    # a lowercase scheme is valid but not served directly: the handler claims it
    lowercase = {"Authorization": customer["Authorization"].replace("Bearer", "bearer")}
    assert (await baseline.post(SEAT_PATH, headers=lowercase, json=body)).status_code == 201
    again = await baseline.post(SEAT_PATH, headers=customer, json=body)
    assert again.status_code == 409 and again.json()["code"] == "seat_unavailable"

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine.persistence import Persister
from engine.store.redis_order_log import RedisOrderLog
from engine.store.resources import Resources
from tests.conftest import Actor
from tests.sale_setup import open_sale, seat_item

pytestmark = pytest.mark.cluster


def persister(resources: Resources) -> Persister:
    return Persister(
        RedisOrderLog(resources.redis, resources.scripts),
        resources.order_store,
        resources.gate_keys(),
    )


async def test_reserve_pay_complete(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=3, pools=(5,))
    response = await client.post(
        "/orders",
        headers=customer.headers,
        json={
            "items": [
                seat_item(sale, sale.seat_ids[0]),
                {"ticket_type_id": sale.pool_ids[0], "quantity": 2},
            ]
        },
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "reserved"
    assert len(order["items"]) == 3
    assert order["total_cents"] == 15000
    assert order["expires_at"].endswith("+00:00") or order["expires_at"].endswith("Z")

    paid = await client.post(
        f"/orders/{order['id']}/pay", headers=customer.headers, json={"payment_token": "tok_visa"}
    )
    assert paid.status_code == 202, paid.text
    assert paid.json()["status"] == "paid"

    assert await persister(resources).persist([order["id"]]) == 1
    done = await client.get(f"/orders/{order['id']}", headers=customer.headers)
    assert done.json()["status"] == "completed"
    assert [h["status"] for h in done.json()["history"]] == ["reserved", "paid", "completed"]
    tickets = await resources.pool.fetch("SELECT * FROM tickets WHERE order_id = $1", order["id"])
    assert len(tickets) == 3
    seat = await resources.pool.fetchval("SELECT status FROM seats WHERE id = $1", sale.seat_ids[0])
    assert seat == "sold"


async def test_seat_taken_is_409_naming_seats(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    first = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, *sale.seat_ids)]}
    )
    assert first.status_code == 201
    second = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[1])]}
    )
    assert second.status_code == 409
    assert second.json()["code"] == "seat_unavailable"
    assert str(sale.seat_ids[1]) in second.json()["detail"]


async def test_seat_resold_after_cancel_persists_in_one_batch(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    """Found by the state machine: A paid and cancelled, B buys the seat, one write for both."""
    from tests.conftest import make_actor

    sale = await open_sale(resources, partner.id, seats=1)
    seat = seat_item(sale, sale.seat_ids[0])
    first = (await client.post("/orders", headers=customer.headers, json={"items": [seat]})).json()
    await client.post(
        f"/orders/{first['id']}/pay", headers=customer.headers, json={"payment_token": "tok_visa"}
    )
    await client.post(f"/orders/{first['id']}/cancel", headers=customer.headers)
    buyer = await make_actor(client, "customer")
    second = (await client.post("/orders", headers=buyer.headers, json={"items": [seat]})).json()
    await client.post(
        f"/orders/{second['id']}/pay", headers=buyer.headers, json={"payment_token": "tok_visa"}
    )
    assert await persister(resources).persist([first["id"], second["id"]]) == 2
    tickets = await resources.pool.fetch(
        "SELECT order_id, status FROM tickets WHERE seat_id = $1 ORDER BY id", sale.seat_ids[0]
    )
    assert {(t["order_id"], t["status"]) for t in tickets} == {
        (first["id"], "void"),
        (second["id"], "valid"),
    }
    status = await resources.pool.fetchval(
        "SELECT status FROM seats WHERE id = $1", sale.seat_ids[0]
    )
    assert status == "sold"

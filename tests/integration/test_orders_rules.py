"""Orders through HTTP: expiry, payment decline, cancellation, idempotency, limits."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from engine import keys
from engine.idempotency import IdempotencyRecord, request_fingerprint
from engine.store.redis_idempotency import RedisIdempotencyStore
from engine.store.resources import Resources
from tests.conftest import Actor, make_actor
from tests.sale_setup import open_sale, seat_item

pytestmark = pytest.mark.cluster


async def reserve(
    client: AsyncTestClient[Any], buyer: Actor, items: list[dict[str, Any]], **headers: str
) -> Any:
    return await client.post("/orders", headers={**buyer.headers, **headers}, json={"items": items})


async def test_declined_payment_releases_at_once(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    order = (await reserve(client, customer, [seat_item(sale, sale.seat_ids[0])])).json()
    declined = await client.post(
        f"/orders/{order['id']}/pay",
        headers=customer.headers,
        json={"payment_token": "tok_decline_insufficient_funds"},
    )
    assert declined.status_code == 402
    assert declined.json()["code"] == "payment_declined"
    after = await client.get(f"/orders/{order['id']}", headers=customer.headers)
    assert after.json()["status"] == "payment_failed"
    other = await make_actor(client, "customer")
    again = await reserve(client, other, [seat_item(sale, sale.seat_ids[0])])
    assert again.status_code == 201


async def test_expired_hold_is_410_and_released(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1, hold_seconds=1)
    order = (await reserve(client, customer, [seat_item(sale, sale.seat_ids[0])])).json()
    await asyncio.sleep(1.1)
    late = await client.post(
        f"/orders/{order['id']}/pay", headers=customer.headers, json={"payment_token": "tok_visa"}
    )
    assert late.status_code == 410
    assert late.json()["code"] == "hold_expired"
    assert (await client.get(f"/orders/{order['id']}", headers=customer.headers)).json()[
        "status"
    ] == "expired"
    counts = await resources.redis.hmget(keys.event_key(sale.event_id, "counts"), "a", "h", "s")
    assert [int(c) for c in counts] == [1, 0, 0]


async def test_lapsed_hold_is_taken_by_the_next_claim(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1, hold_seconds=1)
    first = (await reserve(client, customer, [seat_item(sale, sale.seat_ids[0])])).json()
    await asyncio.sleep(1.1)
    other = await make_actor(client, "customer")
    second = await reserve(client, other, [seat_item(sale, sale.seat_ids[0])])
    assert second.status_code == 201
    old = await client.get(f"/orders/{first['id']}", headers=customer.headers)
    assert old.json()["status"] == "expired"


async def test_cancel_paid_order_puts_seat_back(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    order = (await reserve(client, customer, [seat_item(sale, sale.seat_ids[0])])).json()
    await client.post(
        f"/orders/{order['id']}/pay", headers=customer.headers, json={"payment_token": "tok_visa"}
    )
    cancelled = await client.post(f"/orders/{order['id']}/cancel", headers=customer.headers)
    assert cancelled.status_code == 200
    assert [h["status"] for h in cancelled.json()["history"]] == ["reserved", "paid", "cancelled"]
    again = await client.post(f"/orders/{order['id']}/cancel", headers=customer.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_state"
    other = await make_actor(client, "customer")
    assert (await reserve(client, other, [seat_item(sale, sale.seat_ids[0])])).status_code == 201


async def test_pay_twice_is_invalid_state(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    order = (await reserve(client, customer, [seat_item(sale, sale.seat_ids[0])])).json()
    body = {"payment_token": "tok_visa"}
    first = await client.post(f"/orders/{order['id']}/pay", headers=customer.headers, json=body)
    second = await client.post(f"/orders/{order['id']}/pay", headers=customer.headers, json=body)
    assert first.status_code == 202
    assert second.status_code == 409
    assert second.json()["code"] == "invalid_state"


async def test_other_customers_order_is_404(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    order = (await reserve(client, customer, [seat_item(sale, sale.seat_ids[0])])).json()
    intruder = await make_actor(client, "customer")
    for path in ("", "/cancel"):
        method = client.get if not path else client.post
        response = await method(f"/orders/{order['id']}{path}", headers=intruder.headers)
        assert response.status_code == 404
    pay = await client.post(
        f"/orders/{order['id']}/pay", headers=intruder.headers, json={"payment_token": "tok_visa"}
    )
    assert pay.status_code == 404
    assert (await client.get("/orders/not-an-order", headers=customer.headers)).status_code == 404


async def test_idempotency_key_replays_first_response(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    items = [seat_item(sale, sale.seat_ids[0])]
    first = await reserve(client, customer, items, **{"Idempotency-Key": "abc-1"})
    second = await reserve(client, customer, items, **{"Idempotency-Key": "abc-1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    other = await make_actor(client, "customer")  # keys are scoped to the user
    third = await reserve(client, other, items, **{"Idempotency-Key": "abc-1"})
    assert third.status_code == 409
    assert third.json()["code"] == "seat_unavailable"


async def test_concurrent_duplicate_gets_409_with_retry_after(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    body = msgspec.json.encode({"items": [seat_item(sale, sale.seat_ids[0])]})
    running = IdempotencyRecord(request_fingerprint("POST", "/orders", body))  # no response yet
    store = RedisIdempotencyStore(resources.redis)
    assert await store.reserve(customer.id, "busy-1", running, ttl=30)
    response = await client.post(
        "/orders",
        headers={
            **customer.headers,
            "Idempotency-Key": "busy-1",
            "content-type": "application/json",
        },
        content=body,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_progress"
    assert response.headers["retry-after"] == "1"


async def test_sale_not_open_and_unknown_ids(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    from datetime import timedelta

    later = await open_sale(resources, partner.id, seats=1, sale_opens_in=timedelta(hours=1))
    early = await reserve(client, customer, [seat_item(later, later.seat_ids[0])])
    assert early.status_code == 409
    assert early.json()["code"] == "sale_not_open"
    unknown_seat = await reserve(client, customer, [seat_item(later, 999_999_999)])
    assert unknown_seat.status_code in (404, 409)
    unknown_event = await reserve(client, customer, [{"event_id": 999_999_999, "seat_ids": [1]}])
    assert unknown_event.status_code == 404
    unknown_type = await reserve(client, customer, [{"ticket_type_id": 999_999_999, "quantity": 1}])
    assert unknown_type.status_code == 404


async def test_bad_order_bodies_are_4xx(client: AsyncTestClient[Any], customer: Actor) -> None:
    bodies: list[Any] = [
        {},
        {"items": []},
        {"items": [{}]},
        {"items": [{"event_id": 1}]},
        {"items": [{"event_id": 1, "seat_ids": []}]},
        {"items": [{"ticket_type_id": 1, "quantity": 0}]},
        {"items": [{"ticket_type_id": 1, "quantity": 10**12}]},
        {"items": [{"event_id": "x", "seat_ids": [1]}]},
        {"items": [{"event_id": 1, "seat_ids": [1], "ticket_type_id": 2, "quantity": 1}]},
        {"items": [{"event_id": 10**30, "seat_ids": [1]}]},
        {"items": [{"event_id": 1, "seat_ids": [1, 1]}]},
    ]
    for body in bodies:
        response = await client.post("/orders", headers=customer.headers, json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.json()["code"], body
    raw = await client.post(
        "/orders",
        headers={**customer.headers, "content-type": "application/json"},
        content=b"{nope",
    )
    assert raw.status_code == 400
    assert raw.json()["code"] == "malformed_json"


async def test_roles_on_orders(client: AsyncTestClient[Any], partner: Actor) -> None:
    body = {"items": [{"event_id": 1, "seat_ids": [1]}]}
    assert (await client.post("/orders", json=body)).status_code == 401
    assert (await client.post("/orders", headers=partner.headers, json=body)).status_code == 403
    assert (await client.get("/me/orders", headers=partner.headers)).status_code == 403

"""Inventory changes while an event is on sale reach Redis at once."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from engine.store.resources import Resources
from tests.conftest import Actor
from tests.sale_setup import open_sale, seat_item


async def test_deleted_seat_cannot_be_claimed_and_held_seat_cannot_be_deleted(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    held, free = sale.seat_ids
    order = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, held)]}
    )
    assert order.status_code == 201
    refused = await client.delete(f"/seats/{held}", headers=partner.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "seat_not_available"
    assert (await client.delete(f"/seats/{free}", headers=partner.headers)).status_code == 204
    gone = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, free)]}
    )
    assert gone.status_code == 404
    listing = await client.get(f"/events/{sale.event_id}/seats", headers=partner.headers)
    assert [(s["id"], s["status"]) for s in listing.json()["items"]] == [(held, "held")]


async def test_deleted_ticket_type_is_gone_from_the_sale(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, pools=(5, 5))
    kept, dropped = sale.pool_ids
    first = await client.post(
        "/orders",
        headers=customer.headers,
        json={"items": [{"ticket_type_id": dropped, "quantity": 1}]},
    )
    assert first.status_code == 201  # the process now knows this type's event
    await client.post(f"/orders/{first.json()['id']}/cancel", headers=customer.headers)
    assert (
        await client.delete(f"/ticket-types/{dropped}", headers=partner.headers)
    ).status_code == 204
    again = await client.post(
        "/orders",
        headers=customer.headers,
        json={"items": [{"ticket_type_id": dropped, "quantity": 1}]},
    )
    assert again.status_code == 404
    ok = await client.post(
        "/orders",
        headers=customer.headers,
        json={"items": [{"ticket_type_id": kept, "quantity": 2}]},
    )
    assert ok.status_code == 201


async def test_event_on_sale_is_deleted_only_when_nothing_is_held(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    order = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    refused = await client.delete(f"/events/{sale.event_id}", headers=partner.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "event_has_sales"
    still_on_sale = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[1])]}
    )
    assert still_on_sale.status_code == 201
    for placed in (order, still_on_sale):
        await client.post(f"/orders/{placed.json()['id']}/cancel", headers=customer.headers)
    assert (
        await client.delete(f"/events/{sale.event_id}", headers=partner.headers)
    ).status_code == 204
    gone = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[1])]}
    )
    assert gone.status_code == 404

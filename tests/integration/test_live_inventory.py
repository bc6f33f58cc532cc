"""Inventory changes while an event is on sale reach Redis at once."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine import errors, keys
from engine.orders import Order, Orders, requested_items
from engine.principal import Principal
from engine.store.claim_batcher import ClaimBatcher
from engine.store.redis_sale import RedisSaleStore
from engine.store.resources import Resources
from tests.concurrency.engine_client import RecordingJobQueue
from tests.conftest import Actor
from tests.sale_setup import open_sale, seat_item

pytestmark = pytest.mark.cluster


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


class RecordingLookups:
    """PostgreSQL's catalogue lookups, recording what a claim asks them."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    async def event_of_ticket_type(self, ticket_type_id: int) -> int | None:
        self.asked.append(ticket_type_id)
        return None

    async def event_exists(self, event_id: int) -> bool:
        self.asked.append(event_id)
        return False


async def test_claims_find_a_ticket_types_event_in_redis_as_types_come_and_go(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    """Hydration keeps every ticket type of an event on sale mapped to its event in Redis, so a
    claim (in a fresh process, knowing nothing yet) asks PostgreSQL nothing: for types there at
    the opening, types added during the sale, and types deleted since (404 from the sale engine).
    Only a type no event on sale has goes to PostgreSQL, to tell 404 from a refusal."""
    sale = await open_sale(resources, partner.id, pools=(5,))
    added = await client.post(
        f"/events/{sale.event_id}/ticket-types",
        headers=partner.headers,
        json={"name": "Late release", "price_cents": 900, "quantity": 3},
    )
    assert added.status_code == 201, added.text
    late = added.json()["id"]
    lookups = RecordingLookups()
    fresh_store = RedisSaleStore(
        resources.redis, resources.scripts, ClaimBatcher(resources.scripts)
    )
    orders = Orders(fresh_store, lookups, resources.order_store, RecordingJobQueue())
    buyer = Principal(customer.id, "customer")

    async def claim(type_id: int) -> Order:
        claims = await orders.group_by_event([], [(type_id, 1)])
        return await orders.place(buyer, claims, requested_items(claims))

    first, second = await claim(sale.pool_ids[0]), await claim(late)
    assert [line.event_id for line in (*first.items, *second.items)] == [sale.event_id] * 2
    await orders.cancel(buyer, second.id)
    deleted = await client.delete(f"/ticket-types/{late}", headers=partner.headers)
    assert deleted.status_code == 204, deleted.text
    with pytest.raises(errors.NotFound):
        await claim(late)
    assert lookups.asked == []
    with pytest.raises(errors.NotFound):
        await claim(999_999_999)
    assert lookups.asked == [999_999_999]

    await orders.cancel(buyer, first.id)
    gone = await client.delete(f"/events/{sale.event_id}", headers=partner.headers)
    assert gone.status_code == 204, gone.text
    assert await resources.redis.hget(keys.TICKET_TYPE_EVENTS, str(sale.pool_ids[0])) is None

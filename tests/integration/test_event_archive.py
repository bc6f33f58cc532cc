"""Deleting an event that has orders archives it: its customers keep their orders.

`DELETE /events/{id}` answers 204 either way. An event without a single order is deleted for
good; one with any order in any state is archived: gone from the public and from the
partner's default list, closed to changes (404 like a deleted event), while its orders,
their history and tickets stay readable by their owners. Anything held or sold: 409.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from engine import keys
from engine.store.resources import Resources
from tests.conftest import Actor
from tests.integration.test_events import assert_problem, create_event, list_all
from tests.integration.test_orders_flow import persister
from tests.sale_setup import open_sale, seat_item

pytestmark = pytest.mark.cluster


async def _event_gone_from_redis(redis: Redis, event_id: int) -> None:
    assert await redis.exists(*keys.event_keys(event_id)) == 0
    assert not await redis.sismember(keys.HYDRATED_EVENTS, str(event_id))


async def test_deleting_an_event_keeps_a_customers_cancelled_order(
    client: AsyncTestClient[Any],
    resources: Resources,
    redis: Redis,
    partner: Actor,
    customer: Actor,
) -> None:
    """The issue's reproduction: the order is cancelled, the event deleted, the order stays
    (here before any worker wrote the order to PostgreSQL: none runs in these tests)."""
    sale = await open_sale(resources, partner.id, seats=1)
    order = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    order_id = order.json()["id"]
    assert (await client.post(f"/orders/{order_id}/cancel", headers=customer.headers)).is_success

    deleted = await client.delete(f"/events/{sale.event_id}", headers=partner.headers)
    assert deleted.status_code == 204, deleted.text

    kept = await client.get(f"/orders/{order_id}", headers=customer.headers)
    assert kept.status_code == 200, kept.text
    assert kept.json()["status"] == "cancelled"
    assert [h["status"] for h in kept.json()["history"]] == ["reserved", "cancelled"]
    assert kept.json()["items"][0]["seat_id"] == sale.seat_ids[0]
    mine = await client.get("/me/orders", headers=customer.headers)
    assert {o["id"]: o["status"] for o in mine.json()["items"]}[order_id] == "cancelled"
    tickets = await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    assert tickets.status_code == 200, tickets.text
    assert tickets.json()["items"] == []
    await _event_gone_from_redis(redis, sale.event_id)


async def test_deleting_an_event_keeps_a_refunded_order_with_its_void_tickets(
    client: AsyncTestClient[Any],
    resources: Resources,
    redis: Redis,
    partner: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    order = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    order_id = order.json()["id"]
    await client.post(
        f"/orders/{order_id}/pay", headers=customer.headers, json={"payment_token": "tok_visa"}
    )
    assert await persister(resources).persist([order_id]) == 1  # completed, tickets issued
    refunded = await client.post(f"/orders/{order_id}/cancel", headers=customer.headers)
    assert refunded.status_code == 200, refunded.text

    deleted = await client.delete(f"/events/{sale.event_id}", headers=partner.headers)
    assert deleted.status_code == 204, deleted.text

    kept = await client.get(f"/orders/{order_id}", headers=customer.headers)
    assert kept.status_code == 200, kept.text
    assert [h["status"] for h in kept.json()["history"]] == [
        "reserved",
        "paid",
        "completed",
        "cancelled",
    ]
    mine = await client.get("/me/orders", headers=customer.headers)
    assert {o["id"]: o["status"] for o in mine.json()["items"]}[order_id] == "cancelled"
    tickets = await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    assert tickets.status_code == 200, tickets.text
    assert [t["status"] for t in tickets.json()["items"]] == ["void"]
    await _event_gone_from_redis(redis, sale.event_id)


async def test_an_archived_event_is_hidden_and_closed_to_changes(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    name = await resources.pool.fetchval("SELECT name FROM events WHERE id = $1", sale.event_id)
    order = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    await client.post(f"/orders/{order.json()['id']}/cancel", headers=customer.headers)
    assert (await client.delete(f"/events/{sale.event_id}", headers=partner.headers)).is_success

    url = f"/events/{sale.event_id}"
    for viewer in ({}, partner.headers, customer.headers):
        assert_problem(await client.get(url, headers=viewer), 404, "not_found")
    public = await list_all(client, "/events", q=name)
    assert sale.event_id not in [event["id"] for event in public]
    own = await list_all(client, "/partner/events", headers=partner.headers)
    assert sale.event_id not in [event["id"] for event in own]
    archived = await list_all(client, "/partner/events", headers=partner.headers, status="archived")
    assert [(e["id"], e["status"]) for e in archived] == [(sale.event_id, "archived")]

    # to its partner the event is deleted: every write answers 404, as for a deleted event
    writes = [
        client.patch(url, headers=partner.headers, json={"name": "Back"}),
        client.post(f"{url}/publish", headers=partner.headers),
        client.put(
            f"{url}/sale",
            headers=partner.headers,
            json={"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"},
        ),
        client.patch(f"{url}/sale", headers=partner.headers, json={"hold_seconds": 60}),
        client.post(
            f"{url}/ticket-types",
            headers=partner.headers,
            json={"name": "GA", "price_cents": 100, "quantity": 1},
        ),
        client.delete(url, headers=partner.headers),
    ]
    for write in writes:
        assert_problem(await write, 404, "not_found")
    claim = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    assert_problem(claim, 404, "not_found")


async def test_an_event_without_orders_is_deleted_for_good(
    client: AsyncTestClient[Any], resources: Resources, redis: Redis, partner: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    draft = await create_event(client, partner)
    for event_id in (sale.event_id, draft["id"]):
        deleted = await client.delete(f"/events/{event_id}", headers=partner.headers)
        assert deleted.status_code == 204, deleted.text
        row = await resources.pool.fetchval("SELECT count(*) FROM events WHERE id = $1", event_id)
        assert row == 0
    await _event_gone_from_redis(redis, sale.event_id)
    archived = await list_all(client, "/partner/events", headers=partner.headers, status="archived")
    assert sale.event_id not in [event["id"] for event in archived]


async def test_an_event_with_a_held_or_sold_unit_is_kept_on_sale(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    held = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    sold = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[1])]}
    )
    await client.post(
        f"/orders/{sold.json()['id']}/pay",
        headers=customer.headers,
        json={"payment_token": "tok_visa"},
    )
    for release in (held, None):
        response = await client.delete(f"/events/{sale.event_id}", headers=partner.headers)
        assert_problem(response, 409, "event_has_sales")
        detail = await client.get(f"/events/{sale.event_id}")
        assert detail.status_code == 200 and detail.json()["status"] == "published"
        if release is not None:
            await client.post(f"/orders/{release.json()['id']}/cancel", headers=customer.headers)


async def test_an_event_that_only_shares_a_cancelled_order_is_archived(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    """The order's home is another event; this event has its part of it."""
    home = await open_sale(resources, partner.id, seats=1)
    other = await open_sale(resources, partner.id, seats=1)
    order = await client.post(
        "/orders",
        headers=customer.headers,
        json={"items": [seat_item(home, home.seat_ids[0]), seat_item(other, other.seat_ids[0])]},
    )
    assert order.status_code == 201, order.text
    await client.post(f"/orders/{order.json()['id']}/cancel", headers=customer.headers)
    assert (await client.delete(f"/events/{other.event_id}", headers=partner.headers)).is_success
    status = await resources.pool.fetchval(
        "SELECT status FROM events WHERE id = $1", other.event_id
    )
    assert status == "archived"
    kept = await client.get(f"/orders/{order.json()['id']}", headers=customer.headers)
    assert [item["event_id"] for item in kept.json()["items"]] == [home.event_id, other.event_id]


async def test_an_order_postgresql_refuses_keeps_the_event_on_sale(
    client: AsyncTestClient[Any],
    resources: Resources,
    redis: Redis,
    partner: Actor,
    customer: Actor,
) -> None:
    """Its keys are the only copy of that order: the event stays as it was, 409. (A refusal
    for good, a deleted customer say, makes a dead letter instead: tests/integration/
    test_dead_letters.py.)"""
    from tests.conftest import make_actor
    from tests.pg_refusals import TransientRefusal

    sale = await open_sale(resources, partner.id, seats=2)
    buyer = await make_actor(client, "customer")
    order = await client.post(
        "/orders", headers=buyer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    await client.post(f"/orders/{order.json()['id']}/cancel", headers=buyer.headers)
    refusal = TransientRefusal(resources.pool, order.json()["id"])
    await refusal.start()
    try:
        refused = await client.delete(f"/events/{sale.event_id}", headers=partner.headers)
    finally:
        await refusal.stop()
    assert_problem(refused, 409, "invalid_state", mentions=order.json()["id"])
    assert await redis.hexists(keys.event_key(sale.event_id, "orders"), order.json()["id"])
    still = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[1])]}
    )
    assert still.status_code == 201, still.text

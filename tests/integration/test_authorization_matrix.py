"""Every write endpoint against every role that may not use it: the documented 401/403/404,
and nothing changes. Reads of foreign resources are 404, never 403, so nothing leaks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine.store.resources import Resources
from tests.conftest import Actor, make_actor, make_staff
from tests.sale_setup import open_sale

FUTURE = "2031-05-01T20:00:00+00:00"


@dataclass
class World:
    owner: Actor
    other_partner: Actor
    customer: Actor
    other_customer: Actor
    staff: Actor
    ids: dict[str, Any]


@pytest.fixture(scope="module")
async def world(client: AsyncTestClient[Any], resources: Resources) -> World:
    owner = await make_actor(client, "partner")
    sale = await open_sale(resources, owner.id, seats=3, pools=(5,))
    attraction = await client.post(
        "/attractions", headers=owner.headers, json={"name": "Band", "genre": "rock"}
    )
    assert attraction.status_code == 201, attraction.text
    lineup = await client.post(
        f"/events/{sale.event_id}/lineup",
        headers=owner.headers,
        json={"attraction_id": attraction.json()["id"]},
    )
    assert lineup.status_code == 201, lineup.text
    customer = await make_actor(client, "customer")
    order = await client.post(
        "/orders",
        headers=customer.headers,
        json={"items": [{"event_id": sale.event_id, "seat_ids": [sale.seat_ids[2]]}]},
    )
    assert order.status_code == 201, order.text
    return World(
        owner=owner,
        other_partner=await make_actor(client, "partner"),
        customer=customer,
        other_customer=await make_actor(client, "customer"),
        staff=await make_staff(client, owner),
        ids={
            "event": sale.event_id,
            "seat": sale.seat_ids[0],
            "type": sale.pool_ids[0],
            "attraction": attraction.json()["id"],
            "order": order.json()["id"],
        },
    )


EVENT_BODY = {"name": "Show", "description": "d", "venue": "Hall", "starts_at": FUTURE}
SALE_BODY = {"starts_at": "2030-01-01T00:00:00+00:00", "ends_at": "2030-02-01T00:00:00+00:00"}

# (method, path, body, who may never do it (403), whose foreign resource it is (404))
PARTNER_WRITES: list[tuple[str, str, Any]] = [
    ("PATCH", "/events/{event}", {"name": "Renamed"}),
    ("DELETE", "/events/{event}", None),
    ("POST", "/events/{event}/publish", None),
    ("PUT", "/events/{event}/sale", SALE_BODY),
    ("PATCH", "/events/{event}/sale", {"ends_at": "2030-03-01T00:00:00+00:00"}),
    ("POST", "/events/{event}/seats", {"seats": [{"label": "Z1", "price_cents": 100}]}),
    ("PATCH", "/seats/{seat}", {"price_cents": 1}),
    ("DELETE", "/seats/{seat}", None),
    ("POST", "/events/{event}/ticket-types", {"name": "VIP", "price_cents": 1, "quantity": 1}),
    ("PATCH", "/ticket-types/{type}", {"price_cents": 1}),
    ("DELETE", "/ticket-types/{type}", None),
    ("PATCH", "/attractions/{attraction}", {"name": "Other"}),
    ("DELETE", "/attractions/{attraction}", None),
    ("POST", "/events/{event}/lineup", {"attraction_id": 1}),
    ("DELETE", "/events/{event}/lineup/{attraction}", None),
    ("GET", "/partner/events/{event}/sales", None),
    ("GET", "/partner/events/{event}/orders", None),
]
PARTNER_CREATES: list[tuple[str, str, Any]] = [
    ("POST", "/events", EVENT_BODY),
    ("POST", "/attractions", {"name": "Solo"}),
    ("POST", "/partner/staff", {"name": "S", "email": "s@example.com", "password": "long-enough"}),
]
CUSTOMER_WRITES: list[tuple[str, str, Any]] = [
    ("POST", "/orders/{order}/pay", {"payment_token": "tok_visa"}),
    ("POST", "/orders/{order}/cancel", None),
    ("GET", "/orders/{order}", None),
]


async def call(
    client: AsyncTestClient[Any],
    method: str,
    path: str,
    body: Any,
    actor: Actor | None,
    ids: dict[str, Any],
) -> Any:
    headers = actor.headers if actor else {}
    return await client.request(method, path.format(**ids), headers=headers, json=body)


@pytest.mark.parametrize(("method", "path", "body"), PARTNER_WRITES + PARTNER_CREATES)
async def test_partner_endpoints_refuse_other_roles(
    client: AsyncTestClient[Any], world: World, method: str, path: str, body: Any
) -> None:
    cases: list[tuple[Actor | None, int]] = [(None, 401), (world.customer, 403), (world.staff, 403)]
    if (method, path, body) in PARTNER_WRITES:
        cases.append((world.other_partner, 404))
    for actor, expected in cases:
        response = await call(client, method, path, body, actor, world.ids)
        assert response.status_code == expected, (actor and actor.user["role"], response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"]


@pytest.mark.parametrize(("method", "path", "body"), CUSTOMER_WRITES)
async def test_customer_endpoints_refuse_other_roles(
    client: AsyncTestClient[Any], world: World, method: str, path: str, body: Any
) -> None:
    for actor, expected in (
        (None, 401),
        (world.owner, 403),
        (world.staff, 403),
        (world.other_customer, 404),
    ):
        response = await call(client, method, path, body, actor, world.ids)
        assert response.status_code == expected, (actor and actor.user["role"], response.text)
        assert response.json()["code"]


async def test_nothing_changed_after_the_refusals(
    client: AsyncTestClient[Any], world: World
) -> None:
    event = await client.get(f"/events/{world.ids['event']}", headers=world.owner.headers)
    assert event.status_code == 200
    assert event.json()["name"] == "Flash sale"
    order = await client.get(f"/orders/{world.ids['order']}", headers=world.customer.headers)
    assert order.json()["status"] == "reserved"
    seats = await client.get(f"/events/{world.ids['event']}/seats", headers=world.owner.headers)
    assert {s["id"] for s in seats.json()["items"]} >= {world.ids["seat"]}

"""POST /events/{id}/cancel: the owner calls an event off; its sale stops at once (the claim
script reads the new status), the event stays visible as cancelled, and it cannot be
published or put on sale again."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from engine.store.resources import Resources
from tests.conftest import Actor
from tests.sale_setup import open_sale, seat_item


async def test_cancel_stops_the_sale(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    other_partner: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=3)
    path = f"/events/{sale.event_id}/cancel"
    assert (await client.post(path, headers=other_partner.headers)).status_code == 404
    assert (await client.post(path, headers=customer.headers)).status_code == 403
    bought = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    assert bought.status_code == 201, bought.text

    cancelled = await client.post(path, headers=partner.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"

    refused = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[1])]}
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "sale_not_open"
    # the order placed before stays as it was, for its customer to cancel
    order = await client.get(f"/orders/{bought.json()['id']}", headers=customer.headers)
    assert order.json()["status"] == "reserved"
    public = await client.get(f"/events/{sale.event_id}")
    assert public.json()["status"] == "cancelled"
    again = await client.post(f"/events/{sale.event_id}/publish", headers=partner.headers)
    assert again.status_code == 409
    assert (await client.post(path, headers=partner.headers)).status_code == 200  # idempotent

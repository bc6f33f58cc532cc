from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine.store.resources import Resources
from tests.conftest import Actor
from tests.sale_setup import open_sale, seat_item

pytestmark = pytest.mark.cluster


async def test_one_order_across_two_events_pays_and_cancels(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    first = await open_sale(resources, partner.id, seats=2, price_cents=1000)
    second = await open_sale(resources, partner.id, pools=(3,), price_cents=700)
    response = await client.post(
        "/orders",
        headers=customer.headers,
        json={
            "items": [
                {"ticket_type_id": second.pool_ids[0], "quantity": 2},
                seat_item(first, first.seat_ids[0]),
            ]
        },
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["total_cents"] == 2400
    assert sorted(item["event_id"] for item in order["items"]) == [
        first.event_id,
        second.event_id,
        second.event_id,
    ]
    paid = await client.post(
        f"/orders/{order['id']}/pay", headers=customer.headers, json={"payment_token": "tok_ok"}
    )
    assert paid.status_code == 202
    assert paid.json()["status"] == "paid"
    cancelled = await client.post(f"/orders/{order['id']}/cancel", headers=customer.headers)
    assert cancelled.json()["status"] == "cancelled"
    for sale, total in ((first, 2), (second, 3)):
        report = await client.get(f"/partner/events/{sale.event_id}/sales", headers=partner.headers)
        assert (report.json()["available"], report.json()["held"], report.json()["sold"]) == (
            total,
            0,
            0,
        )

"""The partner's order list filters and the CSV exports: GET /partner/events/{id}/orders
(?status, ?q), orders.csv and attendees.csv, owner only, spreadsheet-safe cells."""

from __future__ import annotations

import csv
import io
from typing import Any

from litestar.testing import AsyncTestClient

from engine.store.resources import Resources
from tests.conftest import Actor, make_actor
from tests.integration.test_tickets import issue_tickets, place_and_pay, ticket_persister
from tests.sale_setup import open_sale


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_filters_and_exports(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    other_partner: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=3, pools=(10,))
    tricky = await make_actor(client, "customer", name='=HYPERLINK("x")')
    paid_id, tickets = await issue_tickets(client, resources, customer, sale, seats=1, quantity=2)
    sale.seat_ids = sale.seat_ids[1:]
    reserved = await client.post(
        "/orders",
        headers=tricky.headers,
        json={"items": [{"event_id": sale.event_id, "seat_ids": [sale.seat_ids[0]]}]},
    )
    assert reserved.status_code == 201
    reserved_id = reserved.json()["id"]
    sale.seat_ids = sale.seat_ids[1:]
    await place_and_pay(client, tricky, sale, seats=1)
    # the reserved order reaches PostgreSQL as the worker's sync loop would write it
    await ticket_persister(resources).persist([reserved_id], include_paid=False)

    base = f"/partner/events/{sale.event_id}"
    listed = (await client.get(f"{base}/orders", headers=partner.headers)).json()["items"]
    assert paid_id in {order["id"] for order in listed}
    by_status = await client.get(
        f"{base}/orders", params={"status": "completed"}, headers=partner.headers
    )
    assert [order["id"] for order in by_status.json()["items"]] == [paid_id]
    by_email = await client.get(
        f"{base}/orders", params={"q": customer.user["email"].upper()}, headers=partner.headers
    )
    assert [order["id"] for order in by_email.json()["items"]] == [paid_id]
    by_id = await client.get(f"{base}/orders", params={"q": paid_id}, headers=partner.headers)
    assert [order["id"] for order in by_id.json()["items"]] == [paid_id]
    wildcard = await client.get(f"{base}/orders", params={"q": "%"}, headers=partner.headers)
    assert wildcard.json()["items"] == []

    orders_csv = await client.get(f"{base}/orders.csv", headers=partner.headers)
    assert orders_csv.status_code == 200
    assert orders_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in orders_csv.headers["content-disposition"]
    rows = {row["order_id"]: row for row in rows_of(orders_csv.text)}
    assert rows[paid_id]["status"] == "completed"
    assert rows[paid_id]["customer_email"] == customer.user["email"]
    assert rows[paid_id]["quantity"] == "3"
    assert rows[paid_id]["total_cents"] == str(5000 * 3)
    assert rows[reserved_id]["customer_name"].startswith("'=")  # not a formula

    attendees = rows_of((await client.get(f"{base}/attendees.csv", headers=partner.headers)).text)
    assert sorted(row["code"] for row in attendees) == sorted(t["code"] for t in tickets)
    assert {row["holder_email"] for row in attendees} == {customer.user["email"]}
    assert {row["status"] for row in attendees} == {"valid"}

    for path in ("orders.csv", "attendees.csv"):
        assert (
            await client.get(f"{base}/{path}", headers=other_partner.headers)
        ).status_code == 404
        assert (await client.get(f"{base}/{path}", headers=customer.headers)).status_code == 403

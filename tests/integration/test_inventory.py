"""Inventory over HTTP on real PostgreSQL (and Redis for events on sale)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine.inventory import MAX_SEATS_SCANNED
from engine.pagination import encode_cursor
from engine.store.resources import Resources
from tests.conftest import Actor, make_staff
from tests.sale_setup import open_sale, seat_item

pytestmark = pytest.mark.cluster

Client = AsyncTestClient[Any]


async def new_event(resources: Resources, partner: Actor, status: str = "published") -> int:
    event_id: int = await resources.pool.fetchval(
        """INSERT INTO events (partner_id, name, venue, starts_at, status)
           VALUES ($1, 'Show', 'Hall', now() + interval '30 days', $2) RETURNING id""",
        partner.id,
        status,
    )
    return event_id


async def add_rows(
    client: Client, partner: Actor, event_id: int, rows: list[str], per_row: int, price: int = 100
) -> None:
    response = await client.post(
        f"/events/{event_id}/seats",
        headers=partner.headers,
        json={"rows": rows, "seats_per_row": per_row, "price_cents": price},
    )
    assert response.status_code == 201, response.text


async def all_seats(
    client: Client, event_id: int, headers: dict[str, str] | None = None, query: str = ""
) -> list[dict[str, Any]]:
    response = await client.get(f"/events/{event_id}/seats?limit=200{query}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def seat_ids_by_label(client: Client, event_id: int) -> dict[str, int]:
    return {seat["label"]: seat["id"] for seat in await all_seats(client, event_id)}


async def mark_seats_sold(resources: Resources, *seat_ids: int) -> None:
    await resources.pool.execute(
        "UPDATE seats SET status = 'sold' WHERE id = ANY($1::bigint[])", list(seat_ids)
    )


async def new_ticket_type(
    client: Client, partner: Actor, event_id: int, quantity: int = 10, price: int = 2500
) -> dict[str, Any]:
    response = await client.post(
        f"/events/{event_id}/ticket-types",
        headers=partner.headers,
        json={"name": "General", "price_cents": price, "quantity": quantity},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# --- creating seats ---


async def test_create_seats_from_an_explicit_list(
    client: Client, resources: Resources, partner: Actor
) -> None:
    event_id = await new_event(resources, partner)
    response = await client.post(
        f"/events/{event_id}/seats",
        headers=partner.headers,
        json={
            "seats": [
                {"label": "VIP-1", "price_cents": 15000, "section": "Box"},
                {"label": "Z9", "price_cents": 0},
            ]
        },
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"created": 2}
    seats = await all_seats(client, event_id)
    assert [(s["label"], s["section"], s["price_cents"], s["status"]) for s in seats] == [
        ("VIP-1", "Box", 15000, "available"),
        ("Z9", None, 0, "available"),
    ]
    assert all(isinstance(s["id"], int) for s in seats)


async def test_create_seats_by_rows_labels_each_row_from_one(
    client: Client, resources: Resources, partner: Actor
) -> None:
    event_id = await new_event(resources, partner)
    response = await client.post(
        f"/events/{event_id}/seats",
        headers=partner.headers,
        json={"rows": ["A", "B"], "seats_per_row": 3, "price_cents": 4200, "section": "Floor"},
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"created": 6}
    seats = await all_seats(client, event_id)
    assert [s["label"] for s in seats] == ["A1", "A2", "A3", "B1", "B2", "B3"]
    assert {(s["section"], s["price_cents"], s["status"]) for s in seats} == {
        ("Floor", 4200, "available")
    }


@pytest.mark.parametrize(
    ("body", "repeated"),
    [
        (
            {"seats": [{"label": "A1", "price_cents": 1}, {"label": "A1", "price_cents": 2}]},
            ["A1"],
        ),
        ({"rows": ["A", "A"], "seats_per_row": 2, "price_cents": 1}, ["A1", "A2"]),
        # row "A" seat 11 and row "A1" seat 1 are both "A11"
        ({"rows": ["A", "A1"], "seats_per_row": 11, "price_cents": 1}, ["A11"]),
    ],
)
async def test_labels_repeated_within_a_request_are_duplicate_seat(
    client: Client,
    resources: Resources,
    partner: Actor,
    body: dict[str, Any],
    repeated: list[str],
) -> None:
    event_id = await new_event(resources, partner)
    response = await client.post(f"/events/{event_id}/seats", headers=partner.headers, json=body)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "duplicate_seat"
    assert response.json()["labels"] == repeated
    for label in repeated:
        assert label in response.json()["detail"]
    assert await all_seats(client, event_id) == []


async def test_labels_already_in_the_event_are_duplicate_seat_and_nothing_is_created(
    client: Client, resources: Resources, partner: Actor
) -> None:
    event_id = await new_event(resources, partner)
    await add_rows(client, partner, event_id, ["A"], 3)
    response = await client.post(
        f"/events/{event_id}/seats",
        headers=partner.headers,
        json={"rows": ["A"], "seats_per_row": 5, "price_cents": 100},
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "duplicate_seat"
    assert response.json()["labels"] == ["A1", "A2", "A3"]
    assert "A1, A2, A3" in response.json()["detail"]
    assert [s["label"] for s in await all_seats(client, event_id)] == ["A1", "A2", "A3"]


async def test_same_label_in_another_event_is_fine(
    client: Client, resources: Resources, partner: Actor
) -> None:
    first, second = await new_event(resources, partner), await new_event(resources, partner)
    await add_rows(client, partner, first, ["A"], 2)
    await add_rows(client, partner, second, ["A"], 2)
    assert len(await all_seats(client, second)) == 2


async def test_ten_thousand_seats_in_one_request(
    client: Client, resources: Resources, partner: Actor
) -> None:
    event_id = await new_event(resources, partner)
    rows = [f"R{n}-" for n in range(100)]
    started = time.perf_counter()
    response = await client.post(
        f"/events/{event_id}/seats",
        headers=partner.headers,
        json={"rows": rows, "seats_per_row": 100, "price_cents": 9900},
    )
    elapsed = time.perf_counter() - started
    print(f"\n10,000 seats created in one request: {elapsed * 1000:.0f} ms")
    assert response.status_code == 201, response.text
    assert response.json() == {"created": 10_000}
    stored = await resources.pool.fetchval(
        "SELECT count(DISTINCT label) FROM seats WHERE event_id = $1", event_id
    )
    assert stored == 10_000

    explicit = [{"label": f"X{n}", "price_cents": n} for n in range(10_000)]
    started = time.perf_counter()
    response = await client.post(
        f"/events/{event_id}/seats", headers=partner.headers, json={"seats": explicit}
    )
    elapsed = time.perf_counter() - started
    print(f"10,000 seats from an explicit list: {elapsed * 1000:.0f} ms")
    assert response.status_code == 201, response.text


async def test_more_than_twenty_thousand_seats_is_422(
    client: Client, resources: Resources, partner: Actor
) -> None:
    event_id = await new_event(resources, partner)
    by_rows = await client.post(
        f"/events/{event_id}/seats",
        headers=partner.headers,
        json={"rows": [f"R{n}" for n in range(201)], "seats_per_row": 100, "price_cents": 1},
    )
    assert by_rows.status_code == 422, by_rows.text
    assert by_rows.json()["code"] == "validation_error"
    listed = await client.post(
        f"/events/{event_id}/seats",
        headers=partner.headers,
        json={"seats": [{"label": f"S{n}", "price_cents": 1} for n in range(20_001)]},
    )
    assert listed.status_code == 422, listed.text
    assert await all_seats(client, event_id) == []


# --- listing seats ---


async def walk(client: Client, path: str, headers: dict[str, str] | None = None) -> list[list[str]]:
    """Follow next_cursor to the end; the labels (or names) of each page."""
    pages: list[list[str]] = []
    url = path
    while True:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item.get("label", item.get("name")) for item in body["items"]])
        if body["next_cursor"] is None:
            return pages
        url = f"{path}&cursor={body['next_cursor']}"


async def test_listing_filters_by_status_and_walks_the_cursor(
    client: Client, resources: Resources, partner: Actor
) -> None:
    event_id = await new_event(resources, partner)
    await add_rows(client, partner, event_id, ["A"], 7)
    ids = await seat_ids_by_label(client, event_id)
    await mark_seats_sold(resources, ids["A2"], ids["A5"])

    assert await walk(client, f"/events/{event_id}/seats?limit=3") == [
        ["A1", "A2", "A3"],
        ["A4", "A5", "A6"],
        ["A7"],
    ]
    assert await walk(client, f"/events/{event_id}/seats?status=available&limit=2") == [
        ["A1", "A3"],
        ["A4", "A6"],
        ["A7"],
    ]
    assert await walk(client, f"/events/{event_id}/seats?status=sold&limit=2") == [["A2", "A5"]]
    assert await walk(client, f"/events/{event_id}/seats?status=held&limit=2") == [[]]
    sold = await all_seats(client, event_id, query="&status=sold")
    assert {s["status"] for s in sold} == {"sold"}


async def test_default_page_is_fifty(client: Client, resources: Resources, partner: Actor) -> None:
    event_id = await new_event(resources, partner)
    await add_rows(client, partner, event_id, ["A"], 51)
    first = await client.get(f"/events/{event_id}/seats")
    assert len(first.json()["items"]) == 50
    assert first.json()["next_cursor"] is not None


async def test_drafts_are_listed_only_for_their_owner(
    client: Client, resources: Resources, partner: Actor, other_partner: Actor, customer: Actor
) -> None:
    draft = await new_event(resources, partner, status="draft")
    await add_rows(client, partner, draft, ["A"], 2)
    await new_ticket_type(client, partner, draft)
    staff = await make_staff(client, partner)
    for path in (f"/events/{draft}/seats", f"/events/{draft}/ticket-types"):
        for headers in (None, customer.headers, other_partner.headers, staff.headers):
            response = await client.get(path, headers=headers)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["code"] == "not_found"
        assert len((await client.get(path, headers=partner.headers)).json()["items"]) > 0

    await resources.pool.execute("UPDATE events SET status = 'published' WHERE id = $1", draft)
    for path in (f"/events/{draft}/seats", f"/events/{draft}/ticket-types"):
        for headers in (None, customer.headers, other_partner.headers):
            response = await client.get(path, headers=headers)
            assert response.status_code == 200, response.text
            assert len(response.json()["items"]) > 0


async def test_unknown_event_is_404(client: Client, partner: Actor) -> None:
    for path in ("/events/999999999/seats", "/events/999999999/ticket-types"):
        assert (await client.get(path)).status_code == 404
    response = await client.post(
        "/events/999999999/seats",
        headers=partner.headers,
        json={"rows": ["A"], "seats_per_row": 1, "price_cents": 1},
    )
    assert response.status_code == 404


# --- changing seats ---


async def test_patch_and_delete_an_available_seat(
    client: Client, resources: Resources, partner: Actor
) -> None:
    event_id = await new_event(resources, partner)
    await add_rows(client, partner, event_id, ["A"], 2)
    ids = await seat_ids_by_label(client, event_id)

    changed = await client.patch(
        f"/seats/{ids['A1']}",
        headers=partner.headers,
        json={"price_cents": 777, "section": "Balcony"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        "id": ids["A1"],
        "event_id": event_id,
        "label": "A1",
        "section": "Balcony",
        "price_cents": 777,
        "status": "available",
    }
    cleared = await client.patch(
        f"/seats/{ids['A1']}", headers=partner.headers, json={"section": None}
    )
    assert cleared.json()["section"] is None
    assert cleared.json()["price_cents"] == 777
    unchanged = await client.patch(f"/seats/{ids['A1']}", headers=partner.headers, json={})
    assert unchanged.status_code == 200
    assert unchanged.json()["price_cents"] == 777

    removed = await client.delete(f"/seats/{ids['A2']}", headers=partner.headers)
    assert removed.status_code == 204
    assert [s["label"] for s in await all_seats(client, event_id)] == ["A1"]
    again = await client.delete(f"/seats/{ids['A2']}", headers=partner.headers)
    assert again.status_code == 404
    gone = await client.patch(
        f"/seats/{ids['A2']}", headers=partner.headers, json={"price_cents": 1}
    )
    assert gone.status_code == 404


async def test_a_sold_seat_cannot_be_changed_or_deleted(
    client: Client, resources: Resources, partner: Actor
) -> None:
    event_id = await new_event(resources, partner)
    await add_rows(client, partner, event_id, ["A"], 1, price=500)
    seat_id = (await seat_ids_by_label(client, event_id))["A1"]
    await mark_seats_sold(resources, seat_id)

    patched = await client.patch(
        f"/seats/{seat_id}", headers=partner.headers, json={"price_cents": 1}
    )
    assert patched.status_code == 409, patched.text
    assert patched.json()["code"] == "seat_not_available"
    deleted = await client.delete(f"/seats/{seat_id}", headers=partner.headers)
    assert deleted.status_code == 409
    assert deleted.json()["code"] == "seat_not_available"
    row = await resources.pool.fetchrow(
        "SELECT price_cents, status FROM seats WHERE id = $1", seat_id
    )
    assert (row["price_cents"], row["status"]) == (500, "sold")


# --- ticket types ---


async def test_ticket_type_create_list_update_delete(
    client: Client, resources: Resources, partner: Actor
) -> None:
    event_id = await new_event(resources, partner)
    created = await new_ticket_type(client, partner, event_id, quantity=100, price=2500)
    assert created == {
        "id": created["id"],
        "event_id": event_id,
        "name": "General",
        "price_cents": 2500,
        "quantity": 100,
        "available": 100,
    }
    vip = await new_ticket_type(client, partner, event_id, quantity=5, price=9000)
    assert await walk(client, f"/events/{event_id}/ticket-types?limit=1") == [
        ["General"],
        ["General"],
    ]

    patched = await client.patch(
        f"/ticket-types/{vip['id']}",
        headers=partner.headers,
        json={"name": "VIP", "price_cents": 12000, "quantity": 8},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json() == {
        **vip,
        "name": "VIP",
        "price_cents": 12000,
        "quantity": 8,
        "available": 8,
    }

    removed = await client.delete(f"/ticket-types/{vip['id']}", headers=partner.headers)
    assert removed.status_code == 204
    listed = await client.get(f"/events/{event_id}/ticket-types")
    assert [t["id"] for t in listed.json()["items"]] == [created["id"]]
    gone = await client.patch(
        f"/ticket-types/{vip['id']}", headers=partner.headers, json={"quantity": 1}
    )
    assert gone.status_code == 404


async def test_quantity_below_sold_and_deleting_a_type_with_sales(
    client: Client, resources: Resources, partner: Actor
) -> None:
    event_id = await new_event(resources, partner)
    ticket_type = await new_ticket_type(client, partner, event_id, quantity=10)
    path = f"/ticket-types/{ticket_type['id']}"
    await resources.pool.execute(
        "UPDATE ticket_types SET sold = 3 WHERE id = $1", ticket_type["id"]
    )

    listed = await client.get(f"/events/{event_id}/ticket-types")
    assert listed.json()["items"][0]["available"] == 7
    below = await client.patch(path, headers=partner.headers, json={"quantity": 2})
    assert below.status_code == 409, below.text
    assert below.json()["code"] == "quantity_below_sold"
    exact = await client.patch(path, headers=partner.headers, json={"quantity": 3})
    assert exact.status_code == 200, exact.text
    assert (exact.json()["quantity"], exact.json()["available"]) == (3, 0)
    renamed = await client.patch(path, headers=partner.headers, json={"name": "Pista"})
    assert renamed.status_code == 200
    assert renamed.json()["quantity"] == 3

    refused = await client.delete(path, headers=partner.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "event_has_sales"
    await resources.pool.execute(
        "UPDATE ticket_types SET sold = 0 WHERE id = $1", ticket_type["id"]
    )
    assert (await client.delete(path, headers=partner.headers)).status_code == 204


# --- live state of an event on sale (Redis) ---


async def test_held_seats_and_units_show_live_and_block_edits(
    client: Client, resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=3, pools=(5,))
    held_seat, type_id = sale.seat_ids[1], sale.pool_ids[0]
    order = await client.post(
        "/orders",
        headers=customer.headers,
        json={"items": [seat_item(sale, held_seat), {"ticket_type_id": type_id, "quantity": 2}]},
    )
    assert order.status_code == 201, order.text

    held = await all_seats(client, sale.event_id, query="&status=held")
    assert [s["id"] for s in held] == [held_seat]
    available = await all_seats(client, sale.event_id, query="&status=available")
    assert [s["id"] for s in available] == [sale.seat_ids[0], sale.seat_ids[2]]

    patched = await client.patch(
        f"/seats/{held_seat}", headers=partner.headers, json={"price_cents": 1}
    )
    assert patched.status_code == 409
    assert patched.json()["code"] == "seat_not_available"
    deleted = await client.delete(f"/seats/{held_seat}", headers=partner.headers)
    assert deleted.status_code == 409

    types = (await client.get(f"/events/{sale.event_id}/ticket-types")).json()["items"]
    assert types[0]["available"] == 3
    below = await client.patch(
        f"/ticket-types/{type_id}", headers=partner.headers, json={"quantity": 1}
    )
    assert below.status_code == 409
    assert below.json()["code"] == "quantity_below_sold"
    in_use = await client.delete(f"/ticket-types/{type_id}", headers=partner.headers)
    assert in_use.status_code == 409
    assert in_use.json()["code"] == "event_has_sales"
    enough = await client.patch(
        f"/ticket-types/{type_id}", headers=partner.headers, json={"quantity": 2}
    )
    assert enough.status_code == 200, enough.text
    assert enough.json()["available"] == 0


async def test_live_status_filter_walks_the_cursor(
    client: Client, resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=5)
    held = sale.seat_ids[1], sale.seat_ids[3]
    order = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, *held)]}
    )
    assert order.status_code == 201, order.text
    path = f"/events/{sale.event_id}/seats"
    assert await walk(client, f"{path}?status=available&limit=2") == [["S1", "S3"], ["S5"]]
    assert await walk(client, f"{path}?status=held&limit=1") == [["S2"], ["S4"]]
    assert await walk(client, f"{path}?status=sold&limit=1") == [[]]
    assert await walk(client, f"{path}?limit=4") == [["S1", "S2", "S3", "S4"], ["S5"]]


async def test_a_nearly_sold_out_live_event_lists_its_last_available_seats(
    client: Client, resources: Resources, partner: Actor, customer: Actor
) -> None:
    # Redis names the few available seats; PostgreSQL is asked for just those rows
    sale = await open_sale(resources, partner.id, seats=40, limit=40)
    left = {sale.seat_ids[6], sale.seat_ids[28], sale.seat_ids[39]}
    taken = [seat for seat in sale.seat_ids if seat not in left]
    order = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, *taken)]}
    )
    assert order.status_code == 201, order.text
    path = f"/events/{sale.event_id}/seats"
    assert await walk(client, f"{path}?status=available&limit=2") == [["S7", "S29"], ["S40"]]
    assert await walk(client, f"{path}?status=available&limit=3") == [["S7", "S29", "S40"]]
    held = await walk(client, f"{path}?status=held&limit=50")
    assert held == [[f"S{sale.seat_ids.index(seat) + 1}" for seat in taken]]


async def test_a_sparse_live_filter_returns_short_pages_with_a_cursor(
    client: Client, resources: Resources, partner: Actor, customer: Actor
) -> None:
    """Past MAX_SEATS_SCANNED seats a page may come back short; its cursor goes on from there."""
    sale = await open_sale(resources, partner.id, seats=MAX_SEATS_SCANNED + 5)
    last = sale.seat_ids[-1]
    order = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, last)]}
    )
    assert order.status_code == 201, order.text
    pages = await walk(client, f"/events/{sale.event_id}/seats?status=held&limit=10")
    assert pages == [[], [f"S{MAX_SEATS_SCANNED + 5}"]]


async def test_inventory_added_during_a_sale_can_be_bought(
    client: Client, resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    await add_rows(client, partner, sale.event_id, ["N"], 1, price=1234)
    new_seat = (await seat_ids_by_label(client, sale.event_id))["N1"]
    ticket_type = await new_ticket_type(client, partner, sale.event_id, quantity=4, price=700)

    order = await client.post(
        "/orders",
        headers=customer.headers,
        json={
            "items": [
                seat_item(sale, new_seat),
                {"ticket_type_id": ticket_type["id"], "quantity": 1},
            ]
        },
    )
    assert order.status_code == 201, order.text
    assert order.json()["total_cents"] == 1234 + 700
    seats = {s["label"]: s["status"] for s in await all_seats(client, sale.event_id)}
    assert seats == {"S1": "available", "N1": "held"}


async def test_price_change_during_a_sale_reaches_new_orders(
    client: Client, resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1, price_cents=5000)
    changed = await client.patch(
        f"/seats/{sale.seat_ids[0]}", headers=partner.headers, json={"price_cents": 4000}
    )
    assert changed.status_code == 200, changed.text
    order = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    assert order.status_code == 201, order.text
    assert order.json()["total_cents"] == 4000


# --- authorization ---


async def write_requests(
    client: Client, resources: Resources, owner: Actor
) -> list[tuple[str, str, dict[str, Any] | None]]:
    event_id = await new_event(resources, owner)
    await add_rows(client, owner, event_id, ["A"], 1)
    seat_id = (await seat_ids_by_label(client, event_id))["A1"]
    type_id = (await new_ticket_type(client, owner, event_id))["id"]
    return [
        (
            "POST",
            f"/events/{event_id}/seats",
            {"rows": ["B"], "seats_per_row": 1, "price_cents": 1},
        ),
        ("PATCH", f"/seats/{seat_id}", {"price_cents": 1}),
        ("DELETE", f"/seats/{seat_id}", None),
        (
            "POST",
            f"/events/{event_id}/ticket-types",
            {"name": "X", "price_cents": 1, "quantity": 1},
        ),
        ("PATCH", f"/ticket-types/{type_id}", {"quantity": 1}),
        ("DELETE", f"/ticket-types/{type_id}", None),
    ]


async def test_writes_are_401_anonymous_403_other_roles_404_other_partners(
    client: Client, resources: Resources, partner: Actor, other_partner: Actor, customer: Actor
) -> None:
    staff = await make_staff(client, partner)
    requests = await write_requests(client, resources, partner)
    cases = [
        (None, 401),
        (customer.headers, 403),
        (staff.headers, 403),
        (other_partner.headers, 404),
    ]
    for method, path, body in requests:
        for headers, status in cases:
            response = await client.request(method, path, headers=headers, json=body)
            assert response.status_code == status, (method, path, status, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] in {"not_authenticated", "forbidden", "not_found"}
    # nothing changed: the owner still sees one seat at its price, one ticket type
    event_path = requests[0][1]
    assert [
        (s["label"], s["price_cents"])
        for s in await all_seats(client, int(event_path.split("/")[2]))
    ] == [("A1", 100)]
    for method, path, body in requests:
        response = await client.request(method, path, headers=partner.headers, json=body)
        assert response.status_code < 300, (method, path, response.text)


async def test_bad_bearer_token_is_401(
    client: Client, resources: Resources, partner: Actor
) -> None:
    event_id = await new_event(resources, partner)
    response = await client.post(
        f"/events/{event_id}/ticket-types",
        headers={"Authorization": "Bearer not.a.jwt"},
        json={"name": "X", "price_cents": 1, "quantity": 1},
    )
    assert response.status_code == 401


# --- bad input never reaches PostgreSQL as a 500 ---

BAD_SEAT_BODIES: list[Any] = [
    {"seats": [{"label": "A1", "price_cents": -1}]},
    {"seats": [{"label": "A1", "price_cents": 10**30}]},
    {"seats": [{"label": "A1", "price_cents": 100_000_000_001}]},
    {"seats": [{"label": "A1", "price_cents": "one hundred"}]},
    {"seats": [{"label": "A1", "price_cents": [100]}]},
    {"seats": [{"label": "A1", "price_cents": 1.5}]},
    {"seats": [{"label": "", "price_cents": 1}]},
    {"seats": [{"label": "x" * 41, "price_cents": 1}]},
    {"seats": [{"label": "A\u00001", "price_cents": 1}]},
    {"seats": [{"label": " A1", "price_cents": 1}]},
    {"seats": [{"label": 7, "price_cents": 1}]},
    {"seats": [{"label": "A1", "price_cents": 1, "section": "s" * 101}]},
    {"seats": [{"label": "A1", "price_cents": 1, "color": "red"}]},
    {"seats": []},
    {"seats": "A1"},
    {"seats": [{"label": "A1", "price_cents": 1}], "price_cents": 5},
    {"seats": [{"label": "A1", "price_cents": 1}], "rows": ["B"], "seats_per_row": 1},
    {"rows": ["A"], "seats_per_row": 0, "price_cents": 1},
    {"rows": ["A"], "seats_per_row": 100_000, "price_cents": 1},
    {"rows": ["A"], "seats_per_row": -3, "price_cents": 1},
    {"rows": ["A"], "seats_per_row": "twenty", "price_cents": 1},
    {"rows": [""], "seats_per_row": 1, "price_cents": 1},
    {"rows": ["R" * 1000], "seats_per_row": 1, "price_cents": 1},
    {"rows": [], "seats_per_row": 1, "price_cents": 1},
    {"rows": "AB", "seats_per_row": 1, "price_cents": 1},
    {"rows": [1, 2], "seats_per_row": 1, "price_cents": 1},
    {"rows": ["A"], "seats_per_row": 1},
    {"rows": ["A"], "price_cents": 1},
    {"rows": ["A"], "seats_per_row": 1, "price_cents": -5},
    {},
    [],
    None,
    "seats",
]

BAD_TYPE_BODIES: list[Any] = [
    {"name": "GA", "price_cents": -1, "quantity": 1},
    {"name": "GA", "price_cents": 10**30, "quantity": 1},
    {"name": "GA", "price_cents": 1, "quantity": -1},
    {"name": "GA", "price_cents": 1, "quantity": 10**12},
    {"name": "GA", "price_cents": 1, "quantity": "five"},
    {"name": ["GA"], "price_cents": 1, "quantity": 5},
    {"name": "", "price_cents": 1, "quantity": 1},
    {"name": "n" * 201, "price_cents": 1, "quantity": 1},
    {"name": "G\u0000A", "price_cents": 1, "quantity": 1},
    {"name": None, "price_cents": 1, "quantity": 1},
    {"price_cents": 1, "quantity": 1},
    {"name": "GA", "price_cents": 1, "quantity": 1, "sold": 0},
    [],
]


def assert_problem(response: Any, statuses: set[int]) -> None:
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"]


@pytest.mark.parametrize("body", BAD_SEAT_BODIES)
async def test_bad_seat_bodies_are_4xx(
    client: Client, resources: Resources, partner: Actor, body: Any
) -> None:
    event_id = await new_event(resources, partner)
    response = await client.post(f"/events/{event_id}/seats", headers=partner.headers, json=body)
    assert_problem(response, {400, 422})
    assert await all_seats(client, event_id) == []


@pytest.mark.parametrize("body", BAD_TYPE_BODIES)
async def test_bad_ticket_type_bodies_are_4xx(
    client: Client, resources: Resources, partner: Actor, body: Any
) -> None:
    event_id = await new_event(resources, partner)
    response = await client.post(
        f"/events/{event_id}/ticket-types", headers=partner.headers, json=body
    )
    assert_problem(response, {400, 422})
    listed = await client.get(f"/events/{event_id}/ticket-types")
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"quantity": -1},
        {"quantity": 10_000_001},
        {"quantity": None},
        {"name": None},
        {"name": ""},
        {"name": " padded "},
        {"price_cents": 1.25},
        {"sold": 0},
        [],
        "quantity",
    ],
)
async def test_bad_ticket_type_patches_are_4xx(
    client: Client, resources: Resources, partner: Actor, body: Any
) -> None:
    event_id = await new_event(resources, partner)
    ticket_type = await new_ticket_type(client, partner, event_id)
    response = await client.patch(
        f"/ticket-types/{ticket_type['id']}", headers=partner.headers, json=body
    )
    assert_problem(response, {400, 422})


@pytest.mark.parametrize(
    "body",
    [
        {"price_cents": -1},
        {"price_cents": None},
        {"price_cents": 10**20},
        {"section": ""},
        {"section": "x" * 101},
        {"label": "B7"},
        [],
    ],
)
async def test_bad_seat_patches_are_4xx(
    client: Client, resources: Resources, partner: Actor, body: Any
) -> None:
    event_id = await new_event(resources, partner)
    await add_rows(client, partner, event_id, ["A"], 1)
    seat_id = (await seat_ids_by_label(client, event_id))["A1"]
    response = await client.patch(f"/seats/{seat_id}", headers=partner.headers, json=body)
    assert_problem(response, {400, 422})


async def test_malformed_json_is_400(client: Client, resources: Resources, partner: Actor) -> None:
    event_id = await new_event(resources, partner)
    headers = {**partner.headers, "Content-Type": "application/json"}
    for path in (f"/events/{event_id}/seats", f"/events/{event_id}/ticket-types"):
        response = await client.post(path, headers=headers, content=b"{nope")
        assert_problem(response, {400})
        assert response.json()["code"] == "malformed_json"
        truncated = await client.post(path, headers=headers, content=b'{"rows": ["A"],')
        assert_problem(truncated, {400})
        empty = await client.post(path, headers=headers, content=b"")
        assert_problem(empty, {400, 422})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/events/99999999999999999999/seats"),
        ("GET", "/events/99999999999999999999/ticket-types"),
        ("POST", "/events/99999999999999999999/seats"),
        ("POST", "/events/99999999999999999999/ticket-types"),
        ("PATCH", "/seats/99999999999999999999"),
        ("DELETE", "/seats/99999999999999999999"),
        ("PATCH", "/ticket-types/99999999999999999999"),
        ("DELETE", "/ticket-types/99999999999999999999"),
        ("GET", "/events/0/seats"),
        ("DELETE", "/seats/-1"),
        ("GET", "/events/abc/seats"),
    ],
)
async def test_out_of_range_path_ids_are_4xx(
    client: Client, partner: Actor, method: str, path: str
) -> None:
    body = {"rows": ["A"], "seats_per_row": 1, "price_cents": 1} if method == "POST" else None
    response = await client.request(method, path, headers=partner.headers, json=body)
    assert_problem(response, {400, 404, 422})


@pytest.mark.parametrize(
    "query",
    [
        "?status=lost",
        "?limit=0",
        "?limit=201",
        "?limit=x",
        "?cursor=%%%",
        "?cursor=not-a-cursor",
        f"?cursor={encode_cursor('A1')}",
        f"?cursor={encode_cursor(99999999999999999999)}",
        f"?cursor={encode_cursor(1, 2)}",
        f"?cursor={'x' * 1001}",
    ],
)
async def test_bad_listing_queries_are_4xx(
    client: Client, resources: Resources, partner: Actor, query: str
) -> None:
    event_id = await new_event(resources, partner)
    response = await client.get(f"/events/{event_id}/seats{query}")
    assert_problem(response, {400, 422})


async def test_unknown_seat_and_type_are_404_for_their_owner_role(
    client: Client, partner: Actor
) -> None:
    for method, path in (("PATCH", "/seats/987654321"), ("DELETE", "/ticket-types/987654321")):
        body: dict[str, Any] | None = {} if method == "PATCH" else None
        response = await client.request(method, path, headers=partner.headers, json=body)
        assert_problem(response, {404})


async def test_inventory_routes_are_in_the_openapi_schema(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    methods = {path: set(ops) for path, ops in schema["paths"].items()}
    assert methods["/events/{event_id}/seats"] == {"get", "post"}
    assert methods["/events/{event_id}/ticket-types"] == {"get", "post"}
    assert methods["/seats/{seat_id}"] == {"patch", "delete"}
    assert methods["/ticket-types/{type_id}"] == {"patch", "delete"}

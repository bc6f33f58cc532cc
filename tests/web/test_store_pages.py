"""The customer pages' rules that a browser test would only see indirectly: the language a
customer signs up in or switches to is kept for their e-mails, reservations refuse bad bodies
with a clear 4xx, a draft event has no public pages, another customer's tickets are 404, and
the front page's date filter and the seat drawing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar.testing import AsyncTestClient

from engine.inventory import Seat
from engine.seat_map import lay_out
from engine.store.resources import Resources
from loadtests.setup_data import create_partner
from tests.conftest import unique_email
from tests.sale_setup import open_sale
from tests.web.conftest import PASSWORD, csrf_of, signed_in_as
from web.store_pages import day_bounds
from web.store_view import GAP, ROW_LABEL, SEAT, draw


async def test_the_language_of_sign_up_and_of_the_switcher_is_kept(
    browser_client: AsyncTestClient[Any], resources: Resources
) -> None:
    portuguese = {"Accept-Language": "pt-BR,pt;q=0.9"}
    form = await browser_client.get("/sign-up", headers=portuguese)
    assert "Crie sua conta" in form.text and '<html lang="pt-BR">' in form.text
    email = unique_email("web-locale")
    signed_up = await browser_client.post(
        "/sign-up",
        headers=portuguese,
        data={
            "csrf_token": csrf_of(form.text),
            "name": "Ana",
            "email": email,
            "password": PASSWORD,
        },
    )
    assert signed_up.status_code == 303, signed_up.text
    locale = "SELECT locale FROM users WHERE email = $1"
    assert await resources.pool.fetchval(locale, email) == "pt-BR"

    page = await browser_client.get("/")
    switched = await browser_client.post(
        "/language", data={"csrf_token": csrf_of(page.text), "language": "es", "next": "/account/"}
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/account/"
    assert "lang=es" in switched.headers["set-cookie"]
    assert await resources.pool.fetchval(locale, email) == "es"
    assert "Mis pedidos" in (await browser_client.get("/account/")).text
    # a language we do not have changes nothing; a foreign `next` is not followed
    refused = await browser_client.post(
        "/language",
        data={"csrf_token": csrf_of(page.text), "language": "xx", "next": "https://evil.example"},
    )
    assert refused.headers["location"] == "/" and "set-cookie" not in refused.headers
    assert await resources.pool.fetchval(locale, email) == "es"


async def test_a_reservation_with_a_bad_body_is_a_clear_refusal(
    browser_client: AsyncTestClient[Any], resources: Resources
) -> None:
    sale = await open_sale(resources, await create_partner(resources.pool), seats=2)
    await signed_in_as(browser_client, "customer")
    page = await browser_client.get(f"/event/{sale.event_id}/seats")
    assert page.status_code == 200, page.text
    headers = {"X-CSRF-Token": csrf_of(page.text), "Accept": "application/json"}
    url = f"/event/{sale.event_id}/reserve"
    for body, status in (
        (b"{not json", 400),
        (b'{"seat_ids": "1"}', 422),
        (b'{"ticket_types": {"abc": 1}}', 422),
        (b'{"ticket_types": {"1": 101}}', 422),
        (b"{}", 422),
    ):
        answer = await browser_client.post(url, content=body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
    taken = await browser_client.post(url, content=b'{"seat_ids": [999999999]}', headers=headers)
    assert taken.status_code == 404
    placed = await browser_client.post(url, json={"seat_ids": [sale.seat_ids[0]]}, headers=headers)
    assert placed.status_code == 201, placed.text
    again = await browser_client.post(url, json={"seat_ids": [sale.seat_ids[0]]}, headers=headers)
    assert again.status_code == 409
    assert again.json()["code"] == "seat_unavailable"
    assert again.json()["seats"] == [sale.seat_ids[0]]


async def test_drafts_and_other_customers_orders_are_not_found(
    browser_client: AsyncTestClient[Any], resources: Resources
) -> None:
    sale = await open_sale(resources, await create_partner(resources.pool), seats=1)
    await resources.pool.execute("UPDATE events SET status = 'draft' WHERE id = $1", sale.event_id)
    for path in (f"/event/{sale.event_id}", f"/event/{sale.event_id}/seat-status"):
        assert (await browser_client.get(path)).status_code == 404, path
    await signed_in_as(browser_client, "customer")
    for path in ("/account/orders/1-not-mine", "/account/tickets/1/qr.png", "/checkout/1-x"):
        assert (await browser_client.get(path)).status_code == 404, path


def test_date_fields_become_the_days_bounds_in_the_shops_zone() -> None:
    start = day_bounds("2027-03-14", "America/Sao_Paulo", end=False)
    end = day_bounds("2027-03-14", "America/Sao_Paulo", end=True)
    assert start is not None and end is not None
    assert start.astimezone(UTC) == datetime(2027, 3, 14, 3, 0, tzinfo=UTC)
    assert (end - start).total_seconds() == 86400
    assert day_bounds("14/03/2027", "UTC", end=False) is None
    assert day_bounds(None, "UTC", end=True) is None


def test_the_drawing_puts_rows_under_each_other_and_seats_side_by_side() -> None:
    seats = [
        Seat(i, 1, label, "Floor", 100, "available")
        for i, label in enumerate(["A1", "A2", "B1"], start=1)
    ]
    drawing = draw(lay_out(1, seats))
    placed = {seat.label: (seat.x, seat.y) for seat in drawing.seats}
    assert placed["A2"][0] - placed["A1"][0] == SEAT + GAP
    assert placed["A1"][0] == placed["B1"][0] == ROW_LABEL
    assert placed["B1"][1] - placed["A1"][1] == SEAT + GAP
    assert [t.text for t in drawing.sections] == ["Floor"]
    assert drawing.width >= ROW_LABEL + 2 * (SEAT + GAP)


async def test_more_than_the_per_customer_limit_is_refused_in_words(
    browser_client: AsyncTestClient[Any], resources: Resources
) -> None:
    sale = await open_sale(resources, await create_partner(resources.pool), seats=12, limit=10)
    await signed_in_as(browser_client, "customer")
    page = await browser_client.get(f"/event/{sale.event_id}/seats")
    assert 'data-limit="10"' in page.text  # the map stops picking there
    headers = {"X-CSRF-Token": csrf_of(page.text), "Accept": "application/json"}
    refused = await browser_client.post(
        f"/event/{sale.event_id}/reserve", json={"seat_ids": sale.seat_ids[:11]}, headers=headers
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "limit_exceeded"
    assert refused.json()["message"] == "That is more tickets than one customer may buy."

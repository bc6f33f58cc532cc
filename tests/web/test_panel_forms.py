"""The panel's forms answer alike: a refusal draws the page again (422 for input to correct,
409 for a refused change) with the error beside its field and the values as typed; success
is a 303 back to the page with the notice to show."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.web.conftest import csrf_of, signed_in_as


async def _partner_with_event(client: AsyncTestClient[Any]) -> tuple[str, str]:
    """Sign in as a new partner and create a draft event: its page's path and a CSRF token."""
    await signed_in_as(client, "partner")
    token = csrf_of((await client.get("/panel/")).text)
    fields = {"csrf_token": token, "name": "Forró", "venue": "Sé", "starts_at": "2031-06-01T20:00"}
    created = await client.post("/panel/events", data=fields)
    assert created.status_code == 303, created.text
    return str(created.headers["location"]).split("?")[0], token


async def test_an_inventory_form_is_refused_beside_its_fields_then_saved(
    browser_client: AsyncTestClient[Any],
) -> None:
    event, token = await _partner_with_event(browser_client)
    rows = {"csrf_token": token, "rows": "A-B", "seats_per_row": "3", "section": "Stalls"}

    refused = await browser_client.post(f"{event}/seats/rows", data={**rows, "price": "4x"})
    assert refused.status_code == 422
    assert 'id="e-rows-price"' in refused.text
    assert 'value="4x"' in refused.text and 'value="Stalls"' in refused.text

    added = await browser_client.post(f"{event}/seats/rows", data={**rows, "price": "45"})
    assert added.status_code == 303
    assert added.headers["location"] == f"{event}/inventory?done=seats"
    page = await browser_client.get(added.headers["location"])
    assert "Seats added." in page.text


async def test_an_event_edit_and_the_sale_window_show_their_refusals(
    browser_client: AsyncTestClient[Any],
) -> None:
    event, token = await _partner_with_event(browser_client)
    edit = {"csrf_token": token, "name": "Forró", "venue": "Sé", "starts_at": "2031-06-01T20:00"}

    refused = await browser_client.post(event, data={**edit, "time_zone": "Mars/Olympus_Mons"})
    assert refused.status_code == 422
    assert 'id="e-time_zone"' in refused.text and 'value="Mars/Olympus_Mons"' in refused.text
    saved = await browser_client.post(event, data={**edit, "venue": "Praça"})
    assert (saved.status_code, saved.headers["location"]) == (303, f"{event}?done=saved")

    window = {"csrf_token": token, "starts_at": "2031-05-01T10:00", "ends_at": "2031-05-30T10:00"}
    refused = await browser_client.post(f"{event}/sale/", data={**window, "hold_seconds": "0"})
    assert refused.status_code == 422
    assert 'id="e-hold_seconds"' in refused.text and 'role="alert"' in refused.text
    opened = await browser_client.post(f"{event}/sale/", data={**window, "hold_seconds": "600"})
    assert opened.status_code == 303
    assert opened.headers["location"] == f"{event}/sale?done=sale_opened"


async def test_a_taken_staff_email_is_a_409_with_the_form_as_typed(
    browser_client: AsyncTestClient[Any],
) -> None:
    partner = await signed_in_as(browser_client, "partner")
    token = csrf_of((await browser_client.get("/panel/staff")).text)
    email = f"door-{partner['id']}@example.com"
    staff = {"csrf_token": token, "name": "Door", "email": email, "password": "correct horse"}

    created = await browser_client.post("/panel/staff", data=staff)
    assert created.headers["location"] == "/panel/staff?done=staff_added"
    taken = await browser_client.post("/panel/staff", data=staff)
    assert taken.status_code == 409
    assert "already registered" in taken.text and f'value="{email}"' in taken.text


async def test_a_ticket_type_the_partner_does_not_have_is_a_404_page(
    browser_client: AsyncTestClient[Any],
) -> None:
    """No form of that type is on the page to show a refusal beside: the answer is the 404
    page, not the inventory again with the message nowhere to be seen."""
    event, token = await _partner_with_event(browser_client)
    for path in ("/ticket-types/999999999", "/ticket-types/999999999/delete"):
        answer = await browser_client.post(
            f"{event}{path}", data={"csrf_token": token, "name": "VIP"}
        )
        assert answer.status_code == 404, path
        assert "text/html" in answer.headers["content-type"]

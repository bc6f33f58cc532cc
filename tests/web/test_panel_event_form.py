"""The panel's event form: the venue's time zone is set, kept and refused when unknown, as
`time_zone` is on POST /events."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.web.conftest import csrf_of, signed_in_as


async def _create(client: AsyncTestClient[Any], zone: str) -> Any:
    form = await client.get("/panel/events/new")
    assert form.status_code == 200, form.text
    fields = {
        "csrf_token": csrf_of(form.text),
        "name": "Forró na praça",
        "venue": "Praça da Sé",
        "time_zone": zone,
        "starts_at": "2031-06-01T20:00",
    }
    return await client.post("/panel/events", data=fields)


async def test_the_venue_time_zone_is_set_and_shown_for_editing(
    browser_client: AsyncTestClient[Any],
) -> None:
    await signed_in_as(browser_client, "partner")
    created = await _create(browser_client, "America/Sao_Paulo")
    assert created.status_code == 303, created.text
    event_path = created.headers["location"].split("?")[0]
    page = await browser_client.get(event_path)  # the form as read back from the catalogue
    assert 'name="time_zone" type="text" value="America/Sao_Paulo"' in page.text


async def test_an_unknown_time_zone_is_refused_on_its_field(
    browser_client: AsyncTestClient[Any],
) -> None:
    await signed_in_as(browser_client, "partner")
    refused = await _create(browser_client, "Mars/Olympus_Mons")
    assert refused.status_code == 422
    assert 'id="e-time_zone"' in refused.text

"""Who may open the panel and the gate: anonymous visitors are sent to sign in (and back),
other roles are refused, and one partner's events, figures and staff are another's 404."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from engine.store.resources import Resources
from tests.sale_setup import open_sale
from tests.web.conftest import csrf_of, signed_in_as


async def test_anonymous_visitors_are_sent_to_sign_in(browser_client: AsyncTestClient[Any]) -> None:
    for path in ("/panel/", "/panel/events/1/live", "/gate/"):
        response = await browser_client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/sign-in?next=%2F")
    as_script = await browser_client.get(
        "/panel/events/1/live.json", headers={"Accept": "application/json"}
    )
    assert as_script.status_code == 401
    assert as_script.json()["code"] == "not_authenticated"


async def test_customers_may_not_use_the_panel_or_the_gate(
    browser_client: AsyncTestClient[Any],
) -> None:
    await signed_in_as(browser_client, "customer")
    for path in ("/panel/", "/gate/"):
        response = await browser_client.get(path)
        assert response.status_code == 403
        assert "Not for this account" in response.text


async def test_another_partners_event_and_staff_are_not_found(
    browser_client: AsyncTestClient[Any], resources: Resources
) -> None:
    owner = await signed_in_as(browser_client, "partner")
    sale = await open_sale(resources, owner["id"], seats=2)
    page = await browser_client.get("/panel/staff")
    created = await browser_client.post(
        "/panel/staff",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "Door",
            "email": f"door-{owner['id']}@example.com",
            "password": "correct horse",
        },
    )
    assert created.status_code == 303
    staff_id = await resources.pool.fetchval(
        "SELECT id FROM users WHERE partner_id = $1", owner["id"]
    )
    assert (await browser_client.get(f"/panel/events/{sale.event_id}/live.json")).status_code == 200

    browser_client.cookies.clear()
    await signed_in_as(browser_client, "partner")
    token = csrf_of((await browser_client.get("/panel/")).text)
    event = f"/panel/events/{sale.event_id}"
    for path in (event, f"{event}/inventory", f"{event}/sale", f"{event}/live", f"{event}/orders"):
        assert (await browser_client.get(path)).status_code == 404, path
    assert (await browser_client.get(f"{event}/live.json")).status_code == 404
    assert (await browser_client.get(f"{event}/orders.csv")).status_code == 404
    for action in ("publish", "cancel", "delete", "sale/pause", "sale/close"):
        response = await browser_client.post(f"{event}/{action}", data={"csrf_token": token})
        assert response.status_code == 404, (action, response.status_code)
    disable = await browser_client.post(
        f"/panel/staff/{staff_id}/disable", data={"csrf_token": token}
    )
    assert disable.status_code == 404
    disabled = await resources.pool.fetchval(
        "SELECT disabled_at IS NOT NULL FROM users WHERE id = $1", staff_id
    )
    assert disabled is False
    status = await resources.pool.fetchval("SELECT status FROM events WHERE id = $1", sale.event_id)
    assert status == "published"

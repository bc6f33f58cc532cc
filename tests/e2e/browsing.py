"""Steps the browser tests take through the shared pages, as a person would."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import httpx
from playwright.async_api import Page, expect

from tests.conftest import unique_email

PASSWORD = "correct horse"


async def sign_up(
    page: Page, role: str = "customer", name: str = "Page User", next_path: str = ""
) -> str:
    """Sign up through the form (signed in afterwards, on `next_path` or the role's home
    page); the new account's e-mail."""
    email = unique_email(f"page-{role}")
    await page.goto(f"/sign-up?role={role}&next={quote(next_path)}")
    await page.get_by_label("Your name").fill(name)
    if role == "partner":
        await page.get_by_label("Company").fill(f"{name} Shows")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.locator(".who-name")).to_contain_text(name)
    return email


async def sign_in(page: Page, email: str, next_path: str = "") -> None:
    await page.goto(f"/sign-in?next={quote(next_path)}")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.locator("main").get_by_role("button", name="Sign in").click()
    await expect(page.locator(".who-name")).to_be_visible()


async def sign_out(page: Page) -> None:
    await page.locator(".who").get_by_role("button", name="Sign out").click()
    await expect(page.get_by_text("You are signed out.")).to_be_visible()


async def customer_token(http: httpx.AsyncClient) -> str:
    """A new customer, registered and logged in through the JSON API."""
    email = unique_email("api-buyer")
    body = {"role": "customer", "name": "API Buyer", "email": email, "password": PASSWORD}
    assert (await http.post("/auth/register", json=body)).status_code == 201
    login = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
    return str(login.json()["access_token"])


async def buy_seats(http: httpx.AsyncClient, event_id: int, seat_ids: list[int]) -> dict[str, Any]:
    """A new customer buys these seats through the JSON API, through the waiting room when
    the event has one, and pays: the paid order."""
    headers = {"Authorization": f"Bearer {await customer_token(http)}"}
    status = (await http.post(f"/events/{event_id}/queue", headers=headers)).json()
    for _ in range(50):
        if status.get("state") != "waiting":
            break
        await asyncio.sleep(0.2)
        status = (await http.get(f"/events/{event_id}/queue", headers=headers)).json()
    if status.get("admission_token"):
        headers["X-Admission-Token"] = status["admission_token"]
    items = [{"event_id": event_id, "seat_ids": seat_ids}]
    order = await http.post("/orders", headers=headers, json={"items": items})
    assert order.status_code == 201, order.text
    paid = await http.post(
        f"/orders/{order.json()['id']}/pay", headers=headers, json={"payment_token": "tok_ok"}
    )
    assert paid.status_code == 202, paid.text
    return dict(paid.json())

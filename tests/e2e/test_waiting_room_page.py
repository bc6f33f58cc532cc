"""The waiting room page, in the shared layout and session, in Debian's Chromium: before the
opening it counts down and says places are drawn at the opening; polls are spread with
jitter so pages that opened together do not ask together; a visitor who is not signed in is
offered sign-in and sign-up that come back here."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from playwright.async_api import Page, expect

from engine.store.resources import Resources
from tests.conftest import make_actor, unique_email
from tests.e2e.browsing import sign_out, sign_up
from tests.e2e.conftest import screenshot
from tests.integration.test_waiting_room import room_sale

# Timers of a second or more are the page's polls: their delays are recorded and each fires
# after 20 ms, so a test sees many polls' schedule at once.
RECORD_POLLS = """
  window.pollDelays = [];
  const realSetTimeout = window.setTimeout.bind(window);
  window.setTimeout = (callback, delay, ...rest) => {
    if (delay >= 1000) { window.pollDelays.push(delay); delay = 20; }
    return realSetTimeout(callback, delay, ...rest);
  };
"""


async def test_before_the_opening_the_room_counts_down_and_draws_places(
    phone: Page, resources: Resources, live_server: str
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=15) as http:
        partner = await make_actor(http, "partner")  # type: ignore[arg-type]
    sale = await room_sale(resources, partner.id, seats=4, opens_in=timedelta(minutes=10))
    address = f"/events/{sale.event_id}/waiting-room"
    await phone.goto(address)
    await expect(phone.locator("#sign-in-box")).to_be_visible()  # not signed in yet
    await phone.locator("#sign-in-box").get_by_role("link", name="Sign up").click()
    email = await sign_up_here(phone, address)
    await expect(phone.locator("#state")).to_have_attribute("data-state", "waiting")
    await sign_out(phone)
    # signing in on the room's own form comes back to the room, in line
    await phone.goto(address)
    await phone.locator("#sign-in-box").get_by_label("E-mail").fill(email)
    await phone.locator("#sign-in-box").get_by_label("Password").fill("correct horse")
    await phone.locator("#sign-in-box").get_by_role("button", name="Sign in").click()
    await phone.wait_for_url(f"**{address}")
    await expect(phone.locator("#state")).to_have_attribute("data-state", "waiting")
    await expect(phone.locator("#position")).to_have_text("drawn at the opening")
    await expect(phone.locator("#message")).to_contain_text("random place at the opening")
    countdown = phone.locator(".countdown [data-countdown-text]")
    await expect(countdown).to_have_text(re.compile(r"^(09|10):\d\d$"))  # ten minutes left
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(phone, "waiting-room-before-opening")


async def sign_up_here(page: Page, address: str) -> str:
    """The sign-up form reached from the room's link: back in the room afterwards."""
    email = unique_email("early")
    await page.get_by_label("Your name").fill("Early Bird")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Sign up").click()
    await page.wait_for_url(f"**{address}")
    return email


async def test_the_page_polls_with_jitter(
    desktop: Page, resources: Resources, live_server: str
) -> None:
    """While waiting, each poll is scheduled at the base interval (2 s for a short wait) times
    a random factor in [0.5, 1.5)."""
    async with httpx.AsyncClient(base_url=live_server, timeout=15) as http:
        partner = await make_actor(http, "partner")  # type: ignore[arg-type]
        sale = await room_sale(resources, partner.id, pools=(10,), max_active=1)
        first = await make_actor(http, "customer")  # type: ignore[arg-type]
        joined = await http.post(f"/events/{sale.event_id}/queue", headers=first.headers)
        assert joined.json()["state"] == "admitted"  # holds the one slot all along
    await sign_up(desktop, "customer", "Patient Person", "/")
    await desktop.add_init_script(RECORD_POLLS)
    polls: list[str] = []
    desktop.on("request", lambda r: polls.append(r.method) if "/waiting-room/" in r.url else None)
    await desktop.goto(f"/events/{sale.event_id}/waiting-room")
    await expect(desktop.locator("#state")).to_have_attribute("data-state", "waiting")
    await desktop.wait_for_function("() => window.pollDelays.length >= 12")
    delays: list[float] = await desktop.evaluate("window.pollDelays")
    assert all(1000 <= delay < 3000 for delay in delays), delays
    assert len(set(delays)) == len(delays)  # no two alike
    assert max(delays) - min(delays) > 500, delays
    assert polls[0] == "POST" and polls.count("GET") >= len(delays) - 1

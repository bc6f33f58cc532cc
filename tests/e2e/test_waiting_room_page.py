"""The waiting-room page in a real headless browser (Debian's chromium driven by Playwright)
against a real API server started for the test on the test database.

A customer opens the page without a token, logs in on it, sees their place, waits while the
one shopping slot is taken, is admitted when it frees, picks a seat (out of more than one page
of them) and a quantity and reserves, all without reloading the page. A turn that ends before
the reservation takes the customer back to the queue; polls are spread with jitter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from engine import keys
from engine.settings import ROOT
from engine.store.resources import Resources
from ops.embedded import die_with_parent, free_port
from tests import services as test_services
from tests.conftest import Actor, unique_email
from tests.integration.test_waiting_room import room_sale

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse"
SEATS = 230  # more than one page of GET /events/{id}/seats (200)
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


@pytest.fixture(scope="module")
def api_server(services: test_services.TestServices) -> Iterator[str]:
    """uvicorn in a subprocess, on the test run's database and Redis."""
    port = free_port()
    log_path = ROOT / ".data" / "test" / f"e2e-api-{os.getpid()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=log,
            stderr=log,
            preexec_fn=die_with_parent,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server, log_path)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log_path.unlink(missing_ok=True)


def _wait_ready(base: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the API server did not start:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the waiting-room page is tested in Debian's chromium. "
            "Install it with `apt-get install -y chromium` (make test does this as root)."
        )
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield launched
        await launched.close()


async def register(http: httpx.AsyncClient, role: str = "customer") -> tuple[Actor, str]:
    email = unique_email(f"e2e-{role}")
    body: dict[str, Any] = {
        "role": role,
        "name": "Page Buyer",
        "email": email,
        "password": PASSWORD,
    }
    if role == "partner":
        body["company_name"] = "Page Shows"
    assert (await http.post("/auth/register", json=body)).status_code == 201
    login = (await http.post("/auth/login", json={"email": email, "password": PASSWORD})).json()
    return Actor(login["user"], login["access_token"]), email


async def test_customer_waits_is_admitted_and_reserves_in_the_page(
    api_server: str, browser: Browser, resources: Resources
) -> None:
    async with httpx.AsyncClient(base_url=api_server, timeout=10) as http:
        partner, _ = await register(http, "partner")
        sale = await room_sale(resources, partner.id, seats=SEATS, pools=(10,), max_active=1)
        first, _ = await register(http)
        shopper, email = await register(http)

        # someone else holds the only shopping slot
        joined = (await http.post(f"/events/{sale.event_id}/queue", headers=first.headers)).json()
        while joined["state"] != "admitted":
            joined = (
                await http.get(f"/events/{sale.event_id}/queue", headers=first.headers)
            ).json()

        page: Page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda message: errors.append(message.text) if "Policy" in message.text else None,
        )
        await page.goto(f"{api_server}/events/{sale.event_id}/waiting-room")
        await expect(page.locator("#event-name")).to_have_text("Flash sale")
        # its script and stylesheet are files the CSP allows: the script ran, the style applies
        assert await page.evaluate("getComputedStyle(document.body).maxWidth") == "640px"
        await expect(page.locator("#login")).to_be_visible()  # no token stored yet
        await page.fill("#email", email)
        await page.fill("#password", PASSWORD)
        await page.click("#login-button")

        await expect(page.locator("#state")).to_have_attribute("data-state", "waiting")
        await expect(page.locator("#position")).to_have_text("1")
        await expect(page.locator("#ahead")).to_have_text("0")
        assert "min" in await page.inner_text("#eta")
        assert await page.evaluate("localStorage.getItem('boxoffice.access_token')")

        # the first customer buys and cancels: the slot frees, the page moves on by itself
        token = joined["admission_token"]
        order = await http.post(
            "/orders",
            headers={**first.headers, "X-Admission-Token": token},
            json={"items": [{"event_id": sale.event_id, "seat_ids": [sale.seat_ids[0]]}]},
        )
        assert order.status_code == 201, order.text
        cancel = await http.post(f"/orders/{order.json()['id']}/cancel", headers=first.headers)
        assert cancel.status_code == 200

        await expect(page.locator("#state")).to_have_attribute(
            "data-state", "admitted", timeout=15_000
        )
        await expect(page.locator("#picker")).to_be_visible()
        await expect(page.locator("#seats input")).to_have_count(SEATS)  # every page of them
        await page.locator(f"#seats input[value='{sale.seat_ids[1]}']").check()
        await page.fill(f"#ticket-types input[data-ticket-type='{sale.pool_ids[0]}']", "2")
        await page.click("#reserve")

        await expect(page.locator("#order")).to_be_visible()
        order_id = await page.inner_text("#order-id")
        await expect(page.locator("#order-items li")).to_have_count(3)
        assert not errors, errors
        await page.close()

        bought = (await http.get(f"/orders/{order_id}", headers=shopper.headers)).json()
        assert bought["status"] == "reserved"
        assert sorted(item["seat_id"] or 0 for item in bought["items"]) == [0, 0, sale.seat_ids[1]]


async def test_stored_token_is_used_and_a_bad_one_leads_to_the_login(
    api_server: str, browser: Browser, resources: Resources
) -> None:
    async with httpx.AsyncClient(base_url=api_server, timeout=10) as http:
        partner, _ = await register(http, "partner")
        sale = await room_sale(resources, partner.id, pools=(10,), max_active=5)
        customer, _ = await register(http)
    page = await browser.new_page()
    address = f"{api_server}/events/{sale.event_id}/waiting-room"
    await page.goto(address)
    await page.evaluate(f"localStorage.setItem('boxoffice.access_token', '{customer.token}')")
    await page.reload()
    await expect(page.locator("#login")).to_be_hidden()
    await expect(page.locator("#state")).to_have_attribute("data-state", "admitted")
    await page.click("#reserve")  # nothing picked
    await expect(page.locator("#reserve-error")).to_have_text("Pick at least one seat or ticket.")

    # the admission lapses while the customer picks: the reservation is refused, the page
    # takes a new place in the queue, is admitted again and the reservation goes through
    room_keys = keys.waiting_room_keys(sale.event_id)
    await resources.redis.zrem(room_keys[4], str(customer.id))
    await resources.redis.hdel(room_keys[5], str(customer.id))
    quantity = f"#ticket-types input[data-ticket-type='{sale.pool_ids[0]}']"
    await page.fill(quantity, "1")
    await page.click("#reserve")
    await expect(page.locator("#notice")).to_contain_text("back in the queue")
    await expect(page.locator("#picker")).to_be_visible()
    await page.fill(quantity, "1")
    await page.click("#reserve")
    await expect(page.locator("#order")).to_be_visible()

    await page.evaluate("localStorage.setItem('boxoffice.access_token', 'expired-or-forged')")
    await page.reload()
    await expect(page.locator("#login")).to_be_visible()
    await expect(page.locator("#login-error")).to_contain_text("log in again")
    assert await page.evaluate("localStorage.getItem('boxoffice.access_token')") is None
    await page.close()


async def test_the_page_polls_with_jitter(
    api_server: str, browser: Browser, resources: Resources
) -> None:
    """While waiting, each poll is scheduled at the base interval (2 s for a short wait) times
    a random factor in [0.5, 1.5), so pages that opened together do not ask together."""
    async with httpx.AsyncClient(base_url=api_server, timeout=10) as http:
        partner, _ = await register(http, "partner")
        sale = await room_sale(resources, partner.id, pools=(10,), max_active=1)
        first, _ = await register(http)
        waiting, _ = await register(http)
        joined = await http.post(f"/events/{sale.event_id}/queue", headers=first.headers)
        assert joined.json()["state"] == "admitted"  # holds the one slot all along
    page = await browser.new_page()
    await page.add_init_script(RECORD_POLLS)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.method) if r.url.endswith("/queue") else None)
    await page.goto(f"{api_server}/events/{sale.event_id}/waiting-room")
    await page.evaluate(f"localStorage.setItem('boxoffice.access_token', '{waiting.token}')")
    await page.reload()
    await expect(page.locator("#state")).to_have_attribute("data-state", "waiting")
    await page.wait_for_function("() => window.pollDelays.length >= 12")  # no eval: the CSP
    delays: list[float] = await page.evaluate("window.pollDelays")
    await page.close()
    assert all(1000 <= delay < 3000 for delay in delays), delays
    assert len(set(delays)) == len(delays)  # no two alike
    assert max(delays) - min(delays) > 500, delays
    assert polls.count("GET") >= len(delays) - 1  # each one a poll the server answered

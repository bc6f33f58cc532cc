"""The gate scanner in a real browser at phone width: a staff member signs in and scans a
valid code (typed), the same again (already used, with the first scan's time), a forged one
(invalid) and a cancelled one (void). Then, with the network cut in the browser, a genuine
code is admitted offline with its signature checked in the page, a second scan of it is
refused on the device, and once back online the scan reaches the server; a ticket admitted
offline that another gate had admitted is reported as a conflict."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.async_api import Page, async_playwright, expect

from engine.store.resources import Resources
from engine.ticket_qr import render_qr
from tests.conftest import unique_email
from tests.e2e.browsing import PASSWORD, customer_token, sign_in
from tests.e2e.conftest import PHONE, open_page, screenshot
from tests.integration.test_tickets import ticket_persister
from tests.sale_setup import open_sale


async def register_partner_and_staff(http: httpx.AsyncClient) -> tuple[int, dict[str, str], str]:
    email = unique_email("gate-partner")
    body = {
        "role": "partner",
        "name": "Gate Partner",
        "email": email,
        "password": PASSWORD,
        "company_name": "Gate Shows",
    }
    partner = (await http.post("/auth/register", json=body)).json()
    login = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    staff_email = unique_email("gate-staff")
    staff = await http.post(
        "/partner/staff",
        headers=headers,
        json={"name": "Door Keeper", "email": staff_email, "password": PASSWORD},
    )
    assert staff.status_code == 201, staff.text
    return partner["id"], headers, staff_email


async def ticket_of(
    http: httpx.AsyncClient, resources: Resources, event_id: int, seat_id: int
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A paid and persisted order of one seat: its id, its customer's headers, its ticket."""
    headers = {"Authorization": f"Bearer {await customer_token(http)}"}
    items = [{"event_id": event_id, "seat_ids": [seat_id]}]
    order = await http.post("/orders", headers=headers, json={"items": items})
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]
    paid = await http.post(
        f"/orders/{order_id}/pay", headers=headers, json={"payment_token": "tok_ok"}
    )
    assert paid.status_code == 202, paid.text
    assert await ticket_persister(resources).persist([order_id]) == 1
    tickets = (await http.get(f"/orders/{order_id}/tickets", headers=headers)).json()
    return order_id, headers, tickets["items"][0]


async def scan(page: Page, code: str) -> None:
    await page.get_by_label("Ticket code").fill(code)
    await page.get_by_role("button", name="Check ticket").click()
    await expect(page.locator("#answer")).to_be_visible()


async def next_ticket(page: Page) -> None:
    await page.get_by_role("button", name="Next ticket").click()
    await expect(page.locator("#answer")).to_be_hidden()


async def test_staff_scans_online_and_offline(
    phone: Page, live_server: str, resources: Resources
) -> None:
    page = phone
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        partner_id, partner_headers, staff_email = await register_partner_and_staff(http)
        sale = await open_sale(resources, partner_id, seats=5)
        seats = sale.seat_ids
        _, _, valid = await ticket_of(http, resources, sale.event_id, seats[0])
        cancelled_id, cancelled_by, cancelled = await ticket_of(
            http, resources, sale.event_id, seats[1]
        )
        _, _, offline = await ticket_of(http, resources, sale.event_id, seats[2])
        _, _, elsewhere = await ticket_of(http, resources, sale.event_id, seats[3])
        cancel = await http.post(f"/orders/{cancelled_id}/cancel", headers=cancelled_by)
        assert cancel.status_code == 200, cancel.text

        await sign_in(page, staff_email)
        assert page.url.endswith("/gate/")
        await page.get_by_role("link", name="Flash sale").click()
        await expect(page.locator("#offline-data")).to_contain_text("checked with WebCrypto")

        await scan(page, valid["code"])
        await expect(page.locator("#answer")).to_have_attribute("data-result", "admitted")
        await expect(page.locator("#answer-label")).to_have_text(valid["label"])
        await screenshot(page, "gate-admitted", full_page=False)
        await next_ticket(page)
        await scan(page, valid["code"])
        await expect(page.locator("#answer")).to_have_attribute("data-result", "already_used")
        await expect(page.locator("#answer-detail")).to_contain_text("First scanned")
        await next_ticket(page)
        forged = valid["code"][:-1] + ("1" if valid["code"][-1] != "1" else "2")
        await scan(page, forged)
        await expect(page.locator("#answer")).to_have_attribute("data-result", "invalid")
        await next_ticket(page)
        await scan(page, cancelled["code"])
        await expect(page.locator("#answer")).to_have_attribute("data-result", "void")
        await next_ticket(page)
        await screenshot(page, "gate-scanner")

        # offline: the signature is checked in the page, the device remembers its admissions
        await page.context.set_offline(True)
        await expect(page.locator("#connection")).to_have_attribute("data-mode", "offline")
        await scan(page, offline["code"])
        await expect(page.locator("#answer")).to_have_attribute("data-result", "admitted_offline")
        await next_ticket(page)
        await scan(page, offline["code"])
        await expect(page.locator("#answer")).to_have_attribute("data-result", "already_used")
        await next_ticket(page)
        await scan(page, forged)
        await expect(page.locator("#answer")).to_have_attribute("data-result", "invalid")
        await next_ticket(page)
        # meanwhile another gate admits this one online; this device cannot know
        staff_login = await http.post(
            "/auth/login", json={"email": staff_email, "password": PASSWORD}
        )
        staff_headers = {"Authorization": f"Bearer {staff_login.json()['access_token']}"}
        other_gate = await http.post(
            "/tickets/validate", headers=staff_headers, json={"code": elsewhere["code"]}
        )
        assert other_gate.status_code == 200, other_gate.text
        await scan(page, elsewhere["code"])
        await expect(page.locator("#answer")).to_have_attribute("data-result", "admitted_offline")
        await next_ticket(page)
        await expect(page.locator("#pending")).to_contain_text("2 offline scan(s)")
        await screenshot(page, "gate-offline")

        await page.context.set_offline(False)
        await expect(page.locator("#connection")).to_have_attribute("data-mode", "online")
        await expect(page.locator("#pending")).to_have_text("", timeout=10_000)
        await expect(page.locator("#conflicts li")).to_have_count(1)
        await expect(page.locator("#conflicts")).to_contain_text("already admitted elsewhere")

        # the offline admission reached the server: the ticket is used there now
        again = await http.post(
            "/tickets/validate", headers=staff_headers, json={"code": offline["code"]}
        )
        assert again.status_code == 409
        assert again.json()["result"] == "already_used"
        assert partner_headers
        await page.set_viewport_size({"width": 1280, "height": 800})
        await screenshot(page, "gate-scanner")


# a browser without Ed25519 in WebCrypto: the page must fall back to the vendored library
NO_WEBCRYPTO_ED25519 = """
  const realImportKey = crypto.subtle.importKey.bind(crypto.subtle);
  crypto.subtle.importKey = (format, key, algorithm, ...rest) => {
    const name = typeof algorithm === "string" ? algorithm : algorithm.name;
    if (name === "Ed25519") return Promise.reject(new DOMException("no", "NotSupportedError"));
    return realImportKey(format, key, algorithm, ...rest);
  };
"""


async def test_offline_check_without_webcrypto_ed25519(
    desktop: Page, live_server: str, resources: Resources
) -> None:
    page = desktop
    await page.add_init_script(NO_WEBCRYPTO_ED25519)
    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url))
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        partner_id, _, staff_email = await register_partner_and_staff(http)
        sale = await open_sale(resources, partner_id, seats=2)
        _, _, ticket = await ticket_of(http, resources, sale.event_id, sale.seat_ids[0])
    await sign_in(page, staff_email, f"/gate/events/{sale.event_id}")
    await expect(page.locator("#offline-data")).to_contain_text("checked with @noble/ed25519")
    await page.context.set_offline(True)
    forged = ticket["code"][:-1] + ("1" if ticket["code"][-1] != "1" else "2")
    await scan(page, forged)
    await expect(page.locator("#answer")).to_have_attribute("data-result", "invalid")
    await next_ticket(page)
    await scan(page, ticket["code"])
    await expect(page.locator("#answer")).to_have_attribute("data-result", "admitted_offline")
    assert any("/static/vendor/noble-ed25519-3.2.0/index.js" in url for url in loaded), loaded
    await page.context.set_offline(False)


def camera_feed(code: str, path: Path) -> Path:
    """An MJPEG file (JPEG frames one after another) showing the ticket's QR code, as the
    ticket's own PNG renders it: chromium plays it as the camera."""
    symbol = Image.open(io.BytesIO(render_qr(code, box_size=8))).convert("RGB")
    frame = Image.new("RGB", (640, 480), "white")
    frame.paste(symbol, ((640 - symbol.width) // 2, (480 - symbol.height) // 2))
    encoded = io.BytesIO()
    frame.save(encoded, "JPEG", quality=95)
    path.write_bytes(encoded.getvalue() * 30)
    return path


async def test_the_camera_reads_a_ticket(
    chromium_path: Path, live_server: str, resources: Resources, tmp_path: Path
) -> None:
    """Chromium's fake camera plays the ticket's QR code; the page decodes it (Debian's
    chromium has no BarcodeDetector, so this is the vendored jsQR) and admits the ticket."""
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        partner_id, _, staff_email = await register_partner_and_staff(http)
        sale = await open_sale(resources, partner_id, seats=1)
        _, _, ticket = await ticket_of(http, resources, sale.event_id, sale.seat_ids[0])
    feed = camera_feed(ticket["code"], tmp_path / "camera.mjpeg")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium_path),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={feed}",
            ],
        )
        context, page, errors = await open_page(browser, live_server, PHONE)
        await sign_in(page, staff_email, f"/gate/events/{sale.event_id}")
        await page.get_by_role("button", name="Start camera").click()
        await expect(page.locator("#camera-status")).to_contain_text("Scanning")
        await expect(page.locator("#answer")).to_have_attribute(
            "data-result", "admitted", timeout=15_000
        )
        await expect(page.locator("#answer-label")).to_have_text(ticket["label"])
        await context.close()
        await browser.close()
    assert not errors, errors

"""A customer buys in the browser, at phone (390 px) and desktop (1280 px) widths, in Debian's
Chromium against the API under uvicorn and a worker that persists and completes orders:

sign up, find the event by searching the storefront, wait in the waiting room while another
customer holds the only shopping slot, be admitted and taken to the seat map, see a sold seat
shown as taken and a seat taken meanwhile turn taken without reloading (and be told when it
was in the pick), pick two seats, pay with the success test card, watch the order go from
paid to completed, see both QR codes (one decoded here and admitted at the gate API), then:
cancelling is refused because that ticket was used; a second reservation paid with the
decline test card is declined and its seat is on sale again; a third is cancelled.
Screenshots of each step go to docs/screenshots/.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import Page, expect

from engine.hydration import hydrate
from engine.orders import EventClaim, requested_items
from engine.principal import Principal
from engine.settings import ROOT
from engine.store.resources import Resources
from ops.embedded import die_with_parent
from tests import services as test_services
from tests.concurrency.engine_client import engine_orders
from tests.conftest import Actor, make_actor
from tests.e2e.browsing import sign_up
from tests.e2e.conftest import screenshot
from tests.integration.test_waiting_room import set_room
from tests.sale_setup import OnSale, open_sale

ROWS = ("A", "B", "C")
SEATS_PER_ROW = 8
SUCCESS_CARD = "4242 4242 4242 4242"
DECLINE_CARD = "4000 0000 0000 0002"


@pytest.fixture(scope="module")
def worker(services: test_services.TestServices) -> Iterator[None]:
    """The ARQ worker, as `make run` starts it: persists paid orders and completes them."""
    log_path = ROOT / ".data" / "test" / f"worker-{os.getpid()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers"],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=log,
            stderr=log,
            preexec_fn=die_with_parent,
        )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log_path.unlink(missing_ok=True)


async def seated_sale(resources: Resources, partner_id: int, name: str) -> OnSale:
    """A published event on sale with rows A-C of 8 seats on the floor and a GA type, behind
    a waiting room that lets one customer shop at a time."""
    sale = await open_sale(resources, partner_id, pools=(40,))
    rows = await resources.pool.fetch(
        """INSERT INTO seats (event_id, label, section, price_cents)
           SELECT $1, r || n, 'Floor', 4500 FROM unnest($2::text[]) r,
                  generate_series(1, $3) n RETURNING id, label""",
        sale.event_id,
        list(ROWS),
        SEATS_PER_ROW,
    )
    sale.seat_ids = [
        r["id"] for r in sorted(rows, key=lambda r: (r["label"][0], int(r["label"][1:])))
    ]
    await resources.pool.execute(
        """UPDATE events SET name = $2, venue = 'Arena Pampulha', time_zone = 'America/Sao_Paulo'
            WHERE id = $1""",
        sale.event_id,
        name,
    )
    await hydrate(sale.event_id, resources.sale_reads, resources.inventory)
    await set_room(resources, sale.event_id, max_active=1)
    return sale


def seat(page: Page, seat_id: int) -> object:
    return page.locator(f"#seat-map .seat[data-seat='{seat_id}']")


async def no_wider_than_screen(page: Page) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    overflow = await page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"{page.url} is {overflow} px wide on a {width} px screen"


async def reserve_seats(page: Page, sale: OnSale, seat_ids: list[int]) -> str:
    """From the seat map: pick these seats, reserve; the order id of the checkout reached."""
    await page.goto(f"/event/{sale.event_id}/seats")
    for seat_id in seat_ids:
        await page.locator(f"#seat-map .seat[data-seat='{seat_id}']").click()
    await page.get_by_role("button", name="Reserve and go to checkout").click()
    await expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    return page.url.rsplit("/", 1)[1]


async def pay(page: Page, card: str) -> None:
    await page.get_by_label("Card number").fill(card)
    await page.get_by_label("Expiry (MM/YY)").fill(f"12/{(datetime.now(UTC).year + 2) % 100:02d}")
    await page.get_by_label("Security code").fill("123")
    await page.locator("#pay-form button[type=submit]").click()


async def test_a_customer_buys_at_phone_width(
    phone: Page, live_server: str, worker: None, resources: Resources
) -> None:
    await buy_two_seats(phone, live_server, resources)


async def test_a_customer_buys_at_desktop_width(
    desktop: Page, live_server: str, worker: None, resources: Resources
) -> None:
    await buy_two_seats(desktop, live_server, resources)


async def buy_two_seats(page: Page, live_server: str, resources: Resources) -> None:
    name = f"Noite de Forró {datetime.now(UTC).strftime('%H%M%S%f')}"
    async with httpx.AsyncClient(base_url=live_server, timeout=15) as http:
        partner = await _actor(http, "partner")
        sale = await seated_sale(resources, partner.id, name)
        first = await _actor(http, "customer")
        # someone else holds the only shopping slot, and buys a seat with it
        joined = (await http.post(f"/events/{sale.event_id}/queue", headers=first.headers)).json()
        assert joined["state"] == "admitted", joined
        token = joined["admission_token"]
        sold_seat = sale.seat_ids[0]
        placed = await http.post(
            "/orders",
            headers={**first.headers, "X-Admission-Token": token},
            json={"items": [{"event_id": sale.event_id, "seat_ids": [sold_seat]}]},
        )
        assert placed.status_code == 201, placed.text

        # sign up, find the event
        await sign_up(page, "customer", "Ana Compradora", "/")
        await page.get_by_label("Search").fill(name)
        await page.locator("form.search button[type=submit]").click()
        await expect(page.locator(".event-card")).to_have_count(1)
        await no_wider_than_screen(page)
        await screenshot(page, "storefront")
        await page.get_by_role("link", name=name).click()
        await expect(page.get_by_role("heading", name=name)).to_be_visible()
        await expect(page.locator(".sale-box")).to_contain_text("On sale")
        # the event's times are shown in its venue's zone
        await expect(page.locator(".event-page .lead")).to_contain_text(" -03")
        await screenshot(page, "event")

        # the waiting room: in line while the slot is taken, then straight to the seats
        await page.get_by_role("link", name="Join the waiting room").click()
        await expect(page.locator("#state")).to_have_attribute("data-state", "waiting")
        await expect(page.locator("#position")).to_have_text("1")
        await no_wider_than_screen(page)
        await screenshot(page, "waiting-room")
        paid = await http.post(
            f"/orders/{placed.json()['id']}/pay",
            headers=first.headers,
            json={"payment_token": "tok_visa"},
        )
        assert paid.status_code == 202, paid.text  # paid: the slot is free again
        await page.wait_for_url(f"**/event/{sale.event_id}/seats", timeout=20_000)

        # the seat map: the sold seat is taken; a seat taken meanwhile turns taken by itself
        await expect(page.locator(f"#seat-map .seat[data-seat='{sold_seat}']")).to_have_class(
            "seat sold"
        )
        picked_then_taken = sale.seat_ids[3]
        await page.locator(f"#seat-map .seat[data-seat='{picked_then_taken}']").click()
        await expect(
            page.locator(f"#seat-map .seat[data-seat='{picked_then_taken}']")
        ).to_have_attribute("aria-checked", "true")
        (someone,) = await _customers(http, 1)
        other = engine_orders(resources)  # no waiting room in its way
        claim = [EventClaim(sale.event_id, seat_ids=[picked_then_taken])]
        await other.place(Principal(someone.id, "customer"), claim, requested_items(claim))
        await expect(
            page.locator(f"#seat-map .seat[data-seat='{picked_then_taken}']")
        ).to_have_class("seat held", timeout=10_000)
        await expect(page.locator("#pick-error")).to_contain_text("A4 was just taken")
        # general admission: a purchase elsewhere shows in what is left, without a reload
        ga = [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 3})]
        await other.place(Principal(someone.id, "customer"), ga, requested_items(ga))
        await expect(page.locator(f"[data-available-of='{sale.pool_ids[0]}']")).to_have_text(
            "37 available", timeout=10_000
        )
        await page.locator(f"#seat-map .seat[data-seat='{sold_seat}']").click(force=True)  # refused
        await expect(page.locator("#picked")).to_have_text("nothing yet")

        # two seats, reserved, paid with the success card
        wanted = sale.seat_ids[9:11]  # B2, B3
        for seat_id in wanted:
            await page.locator(f"#seat-map .seat[data-seat='{seat_id}']").click()
        await expect(page.locator("#picked")).to_have_text("B2, B3")
        await no_wider_than_screen(page)
        await screenshot(page, "seat-map")
        await page.get_by_role("button", name="Reserve and go to checkout").click()
        await expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
        await expect(page.locator(".test-cards")).to_contain_text(SUCCESS_CARD)
        await expect(page.locator(".test-cards")).to_contain_text(DECLINE_CARD)
        assert await page.locator(".hold [data-countdown-text]").inner_text() not in ("", "00:00")
        await no_wider_than_screen(page)
        await screenshot(page, "checkout")
        order_id = page.url.rsplit("/", 1)[1]
        await pay(page, SUCCESS_CARD)

        # the order page moves from paid to completed by itself; both QR codes show
        await page.wait_for_url(f"**/account/orders/{order_id}*")
        await expect(page.locator("#order-status [data-status]")).to_have_attribute(
            "data-status", "completed", timeout=30_000
        )
        qr_images = page.locator("img.qr")
        await expect(qr_images).to_have_count(2)
        for index in range(2):
            await expect(qr_images.nth(index)).to_have_js_property("complete", True)
            assert await qr_images.nth(index).evaluate("img => img.naturalWidth") > 100
        await no_wider_than_screen(page)
        await screenshot(page, "order-completed")

        # one code, decoded as the browser got it, is admitted at the gate
        src = await qr_images.first.get_attribute("src")
        assert src is not None
        png = await page.context.request.get(src)
        assert png.ok and png.headers["content-type"] == "image/png"
        (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(await png.body())))
        scan = await http.post(
            "/tickets/validate", headers=partner.headers, json={"code": decoded.text}
        )
        assert scan.status_code == 200 and scan.json()["result"] == "admitted", scan.text
        # a stranger's browser gets no image
        stranger = await http.get(src)
        assert stranger.status_code in (303, 401, 404)

        await page.get_by_role("link", name="Print or save as PDF").click()
        await expect(page.locator(".print-ticket")).to_have_count(2)
        await screenshot(page, "print")
        await page.go_back()

        # that ticket was used: the order cannot be cancelled any more
        page.once("dialog", lambda dialog: dialog.accept())
        await page.get_by_role("button", name="Cancel order").click()
        await expect(page.locator(".alert-error")).to_contain_text("already used at the gate")

        # the account lists the order with its history
        await page.goto("/account/")
        card = page.locator(f".order-card[data-order='{order_id}']")
        await expect(card.locator("[data-status]").first).to_have_attribute(
            "data-status", "completed"
        )
        await expect(card.locator(".history li")).to_have_count(3)  # reserved, paid, completed
        await no_wider_than_screen(page)
        await screenshot(page, "account")

        # the decline card: declined, and the seat is on sale again at once
        declined_seat = sale.seat_ids[12]
        await reserve_seats(page, sale, [declined_seat])
        await pay(page, DECLINE_CARD)
        await expect(page.get_by_role("heading", name="Payment declined")).to_be_visible()
        await expect(page.locator(".alert-error")).to_contain_text("released")
        await screenshot(page, "declined")
        statuses = (await http.get(f"/event/{sale.event_id}/seat-status")).json()
        assert declined_seat not in statuses["held"] + statuses["sold"]

        # a reservation cancelled from its page, after confirming
        cancelled_id = await reserve_seats(page, sale, [sale.seat_ids[13]])
        await page.goto(f"/account/orders/{cancelled_id}")
        page.once("dialog", lambda dialog: dialog.accept())
        await page.get_by_role("button", name="Cancel order").click()
        await expect(page.locator("#order-status [data-status]")).to_have_attribute(
            "data-status", "cancelled"
        )
        await expect(page.locator(".alert-notice")).to_contain_text("cancelled")


async def test_the_storefront_speaks_the_visitors_language(
    desktop: Page, live_server: str, resources: Resources
) -> None:
    """Accept-Language picks Portuguese (texts, plurals, dates); the switcher changes to
    Spanish and stays."""
    page = desktop
    async with httpx.AsyncClient(base_url=live_server, timeout=15) as http:
        partner = await _actor(http, "partner")
    name = f"Festa Junina {datetime.now(UTC).strftime('%H%M%S%f')}"
    sale = await open_sale(resources, partner.id, seats=1)
    await resources.pool.execute(
        """UPDATE events SET name = $2, venue = 'Largo do Pelourinho',
                             time_zone = 'America/Bahia' WHERE id = $1""",
        sale.event_id,
        name,
    )
    await page.context.set_extra_http_headers({"Accept-Language": "pt-BR,pt;q=0.9"})
    await page.goto(f"/?q={name}")
    await expect(page.get_by_role("heading", name="Encontre seu próximo evento")).to_be_visible()
    assert await page.get_attribute("html", "lang") == "pt-BR"
    card = page.locator(".event-card")
    await expect(card).to_contain_text("1 disponível")  # the singular
    await expect(card).to_contain_text("de 20")  # "... de jan. de 2027"-style dates
    await screenshot(page, "storefront-pt-BR")
    await page.get_by_label("Idioma").select_option("es")
    await page.get_by_role("button", name="Mudar").click()
    await expect(page.get_by_role("heading", name="Encuentra tu próximo evento")).to_be_visible()
    await page.goto("/sign-in")
    await expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()


async def _actor(http: httpx.AsyncClient, role: str) -> Actor:
    return await make_actor(http, role)  # type: ignore[arg-type]


async def _customers(http: httpx.AsyncClient, count: int) -> list[Actor]:
    return [await _actor(http, "customer") for _ in range(count)]


async def test_a_lapsed_hold_cannot_be_paid(
    desktop: Page, live_server: str, resources: Resources
) -> None:
    """The checkout counts the hold down; at zero it says the seats are back on sale and
    turns the pay button off; a payment sent anyway is refused as lapsed (410)."""
    page = desktop
    async with httpx.AsyncClient(base_url=live_server, timeout=15) as http:
        partner = await _actor(http, "partner")
    sale = await open_sale(resources, partner.id, seats=3, hold_seconds=3)
    await sign_up(page, "customer", "Slow Payer", "/")
    await reserve_seats(page, sale, [sale.seat_ids[0]])
    await page.get_by_label("Card number").fill(SUCCESS_CARD)
    await page.get_by_label("Expiry (MM/YY)").fill("12/40")
    await page.get_by_label("Security code").fill("123")
    await expect(page.locator(".hold")).to_have_class("hold expired", timeout=10_000)
    await expect(page.locator(".hold")).to_contain_text("back on sale")
    await expect(page.locator("#pay-form button[type=submit]")).to_be_disabled()
    await page.locator("#pay-form").evaluate("form => form.submit()")
    await expect(page.get_by_role("heading", name="Your hold has lapsed")).to_be_visible()

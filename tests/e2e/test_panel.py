"""The partner's control panel in a real browser: a partner signs up, creates an event, adds
two rows of seats and a general-admission type, publishes, and opens a sale with a waiting
room, then pauses and resumes the room, all through the pages."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from engine.store.resources import Resources
from tests.e2e.browsing import buy_seats, sign_up
from tests.e2e.conftest import screenshot
from tests.integration.test_tickets import ticket_persister


def in_minutes(minutes: int) -> str:
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M")


async def create_event(page: Page, name: str) -> int:
    await page.goto("/panel/")
    await page.get_by_role("link", name="New event").click()
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Venue", exact=True).fill("Teatro Municipal, São Paulo")
    await page.get_by_label("Venue's time zone").fill("America/Sao_Paulo")
    await page.get_by_label("Starts (UTC)").fill(in_minutes(60 * 24 * 30))
    await page.get_by_label("Description").fill("An evening of tango.")
    await page.get_by_role("button", name="Create event").click()
    await expect(page.get_by_role("status")).to_contain_text("Event created")
    return int(page.url.split("/events/")[1].split("?")[0])


async def test_partner_builds_an_event_and_opens_its_sale(
    desktop: Page, live_server: str, resources: Resources
) -> None:
    page = desktop
    await sign_up(page, "partner", "Paula Promoter")
    assert page.url.endswith("/panel/")
    await expect(page.get_by_text("No events yet")).to_be_visible()

    event_id = await create_event(page, "Tango Night")
    await page.get_by_role("link", name="Inventory").click()
    await page.get_by_label("Rows", exact=True).fill("A-B")
    await page.get_by_label("Seats per row").fill("12")
    await page.locator("#f-rows-price").fill("45.50")
    await page.locator("#f-rows-section").fill("Stalls")
    await page.get_by_role("button", name="Add seats").click()
    await expect(page.get_by_role("status")).to_contain_text("Seats added")
    await expect(page.locator(".seat-map rect.seat-available")).to_have_count(24)

    await page.get_by_label("One seat a line").fill("BOX1, 120, Boxes\nBOX2, 120.00, Boxes")
    await page.get_by_role("button", name="Add these seats").click()
    await expect(page.locator(".seat-map rect.seat-available")).to_have_count(26)

    # a bad line is refused with its line number, nothing added
    await page.get_by_label("One seat a line").fill("BOX3, lots")
    await page.get_by_role("button", name="Add these seats").click()
    await expect(page.locator("#e-list")).to_contain_text("Line 1")
    await expect(page.locator(".seat-map rect.seat")).to_have_count(26)

    # one seat removed, another repriced, by label
    await page.locator("#f-seat-label").fill("BOX2")
    await page.get_by_role("button", name="Remove seat").click()
    await expect(page.get_by_role("status")).to_contain_text("Seat removed")
    await expect(page.locator(".seat-map rect.seat")).to_have_count(25)
    await page.locator("#f-seat-label").fill("BOX1")
    await page.locator("#f-seat-price").fill("150")
    await page.get_by_role("button", name="Save seat").click()
    await expect(page.get_by_role("status")).to_contain_text("Seat saved")
    await expect(page.locator('.seat-map rect[data-label="BOX1"] title')).to_contain_text("150.00")

    await page.locator("#f-type-name").fill("Standing")
    await page.locator("#f-type-price").fill("20")
    await page.locator("#f-type-quantity").fill("100")
    await page.get_by_role("button", name="Add ticket type").click()
    await expect(page.get_by_role("cell", name="Standing", exact=True)).to_be_visible()

    await page.locator("#f-lineup-name").fill("Orquesta Típica")
    await page.locator("#f-lineup-genre").fill("Tango")
    await page.get_by_role("button", name="Add to lineup").click()
    await expect(page.locator(".lineup")).to_contain_text("Orquesta Típica")
    await screenshot(page, "panel-inventory")

    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("link", name="Overview").click()
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("status")).to_contain_text("Event published")

    await page.get_by_role("link", name="On-sale window", exact=True).first.click()
    await page.get_by_label("Opens (UTC)").fill(in_minutes(-1))
    await page.get_by_label("Closes (UTC)").fill(in_minutes(60))
    await page.get_by_label("Queue buyers in a waiting room").check()
    await page.get_by_label("Admit per minute").fill("600")
    await page.get_by_label("Most shopping at once").fill("50")
    await page.get_by_role("button", name="Open sale window").click()
    await expect(page.get_by_role("status")).to_contain_text("On-sale window saved")
    await expect(page.locator("#room-state")).to_contain_text("admitting")

    await page.get_by_role("button", name="Pause waiting room").click()
    await expect(page.locator("#room-state")).to_contain_text("paused")
    await screenshot(page, "panel-sale")
    await page.get_by_role("button", name="Resume waiting room").click()
    await expect(page.locator("#room-state")).to_contain_text("admitting")

    await page.goto("/panel/")
    row = page.locator(f"tr[data-event-id='{event_id}']")
    await expect(row).to_contain_text("On sale")
    await expect(row.locator("td").nth(3)).to_have_text("125")
    await screenshot(page, "panel-events")

    # the dashboard follows purchases made through the API, without a reload
    await page.goto(f"/panel/events/{event_id}/live")
    await expect(page.locator("#live-status")).to_contain_text("Live")
    await expect(page.locator('[data-figure="sold"]')).to_have_text("0")
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        seats = (await http.get(f"/events/{event_id}/seats", params={"limit": 200})).json()
        seat_ids = [seat["id"] for seat in seats["items"]]
        first = await buy_seats(http, event_id, seat_ids[:2])
        second = await buy_seats(http, event_id, seat_ids[2:3])
    await expect(page.locator('[data-figure="sold"]')).to_have_text("3", timeout=10_000)
    await expect(page.locator('[data-figure="orders_placed"]')).to_have_text("2")
    await expect(page.locator('[data-figure="claims_rate"]')).to_have_text(re.compile(r"^[\d.]+$"))
    await expect(page.locator('[data-figure="available"]')).to_have_text("122")
    # revenue is PostgreSQL's: it shows once the orders are written, as the worker would
    assert await ticket_persister(resources).persist([first["id"], second["id"]]) == 2
    await expect(page.locator('[data-figure="revenue"]')).to_have_text("136.50", timeout=15_000)
    await screenshot(page, "panel-live")

    # orders: search, detail with history, and both exports
    await page.get_by_role("link", name="Orders", exact=True).click()
    await expect(page.locator("tr[data-order-id]")).to_have_count(2)
    await page.get_by_label("Status").select_option("completed")
    await page.get_by_label("Search").fill(first["id"])
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("tr[data-order-id]")).to_have_count(1)
    await screenshot(page, "panel-orders")
    await page.get_by_role("link", name=first["id"]).click()
    await expect(page.locator(".timeline li")).to_have_count(3)  # reserved, paid, completed
    await page.get_by_role("link", name="Orders", exact=True).first.click()
    for name, rows in (("Orders CSV", 2), ("Attendees CSV", 3)):
        async with page.expect_download() as info:
            await page.get_by_role("link", name=name).click()
        download = await info.value
        text = await asyncio.to_thread(Path(await download.path()).read_text)
        table = list(csv.DictReader(io.StringIO(text)))
        assert len(table) == rows, table
    assert {row["label"] for row in table} == {"A1", "A2", "A3"}
    assert {row["status"] for row in table} == {"valid"}

    # the same screens at phone width
    await page.set_viewport_size({"width": 390, "height": 844})
    for name, path in (
        ("panel-inventory", f"/panel/events/{event_id}/inventory"),
        ("panel-sale", f"/panel/events/{event_id}/sale"),
        ("panel-live", f"/panel/events/{event_id}/live"),
        ("panel-orders", f"/panel/events/{event_id}/orders"),
    ):
        await page.goto(path)
        if name == "panel-live":  # reopened: its charts start from the server's samples
            await expect(page.locator("#live-status")).to_contain_text("Live")
            points = await page.locator('svg[data-chart="sold"] .series').get_attribute("points")
            assert points is not None and len(points.split()) > 2, points
        # wide tables scroll inside their frame; the page itself never scrolls sideways
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390, name
        await screenshot(page, name)

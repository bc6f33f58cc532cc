"""The API docs pages render in a real browser with every other host unreachable.

Debian's chromium (Playwright) opens /schema/swagger and /schema/scalar on a real server;
any request to another host is aborted and recorded, as if the network were off. Each page
must show the operations of the document (rendered by the vendored Swagger UI or Scalar,
api/docs_pages.py), with no request leaving this server and no Content-Security-Policy
violation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Route, async_playwright, expect

from tests import services as test_services
from tests.api_server import running_api

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def api(services: test_services.TestServices) -> Iterator[str]:
    with running_api() as base:
        yield base


@pytest.fixture(scope="module")
def chromium() -> Path:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield launched
        await launched.close()


async def offline_page(browser: Browser, api: str) -> tuple[Page, list[str], list[str]]:
    """A page whose requests to any other host fail; the URLs it tried, its console errors."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    own_host = urlsplit(api).netloc
    elsewhere: list[str] = []
    errors: list[str] = []

    async def only_this_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own_host:
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", only_this_server)
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    return page, elsewhere, errors


async def test_swagger_renders_offline(browser: Browser, api: str, tmp_path: Path) -> None:
    page, elsewhere, errors = await offline_page(browser, api)
    await page.goto(f"{api}/schema/swagger")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("boxoffice")
    summary = page.get_by_text("Reserve seats or units: an order on hold until it is paid")
    await expect(summary).to_be_visible()
    await expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    await page.screenshot(path=tmp_path / "swagger.png")
    assert elsewhere == []
    assert [e for e in errors if "Content Security Policy" in e] == []
    await page.close()


async def test_scalar_renders_offline(browser: Browser, api: str, tmp_path: Path) -> None:
    page, elsewhere, errors = await offline_page(browser, api)
    await page.goto(f"{api}/schema/scalar")
    # Scalar renders the operations of the first tags at once, the others as one scrolls
    summary = page.get_by_text("Create a gate scanner account for this partner")
    await expect(summary.first).to_be_visible(timeout=20_000)
    await expect(page.get_by_text("Authentication").first).to_be_visible()
    await page.screenshot(path=tmp_path / "scalar.png")
    assert elsewhere == []
    assert [e for e in errors if "Content Security Policy" in e] == []
    await page.close()

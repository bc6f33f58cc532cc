"""What the pages' browser tests share: the API under uvicorn on the test run's database and
Redis, Debian's chromium driven by Playwright, a page at phone (390 px) or desktop (1280 px)
width, and screenshots for review (docs/screenshots/ with `make screenshots`).

Every page a fixture gives is watched: a script error or a Content-Security-Policy violation
fails the test at teardown, so a page that only looks right cannot pass.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from engine.settings import ROOT
from tests.api_server import running_api
from tests.services import TestServices

CHROMIUM = Path("/usr/bin/chromium")
# a run keeps its screenshots in its own folder; `make screenshots` (SCREENSHOTS=docs) writes
# them over the committed ones in docs/screenshots/, which the README shows
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("SCREENSHOTS") == "docs"
    else ROOT / ".data" / "test" / "screenshots"
)
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def live_server(services: TestServices) -> Iterator[str]:
    """The base URL of the app under uvicorn, shared by the run's browser tests."""
    with running_api() as base:
        yield base


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the pages are tested in Debian's chromium. "
            "Install it with `apt-get install -y chromium` (make test does this as root)."
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture(scope="session")
async def chromium_browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium_path),
            args=["--headless", "--no-sandbox", "--disable-gpu"],
        )
        yield browser
        await browser.close()


async def open_page(
    browser: Browser, base_url: str, viewport: ViewportSize
) -> tuple[BrowserContext, Page, list[str]]:
    """A page in a context of its own (its own cookies), and the list its errors go to."""
    context = await browser.new_context(base_url=base_url, viewport=viewport)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"script error: {exc}"))
    page.on(
        "console",
        lambda message: (
            errors.append(f"console: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return context, page, errors


@pytest.fixture
async def desktop(chromium_browser: Browser, live_server: str) -> AsyncIterator[Page]:
    """A page 1280 px wide on the live server (relative URLs work: `page.goto("/panel/")`)."""
    context, page, errors = await open_page(chromium_browser, live_server, DESKTOP)
    yield page
    await context.close()
    assert not errors, errors


@pytest.fixture
async def phone(chromium_browser: Browser, live_server: str) -> AsyncIterator[Page]:
    """A page 390 px wide, as on a phone."""
    context, page, errors = await open_page(chromium_browser, live_server, PHONE)
    yield page
    await context.close()
    assert not errors, errors


async def screenshot(page: Page, name: str, full_page: bool = True) -> Path:
    """Save the page as <name>-<width>.png under SCREENSHOTS, for review and the README: the
    whole page, or with `full_page=False` what the screen shows (for fixed overlays)."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = SCREENSHOTS / f"{name}-{width}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path

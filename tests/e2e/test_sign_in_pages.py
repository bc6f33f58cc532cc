"""The shared sign-up, sign-in and sign-out pages in a real browser, at phone and desktop
widths: the session cookie is out of the scripts' reach, `next` is followed, signing out
ends the session."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.browsing import sign_in, sign_out, sign_up
from tests.e2e.conftest import screenshot


async def test_sign_up_out_and_in_again(desktop: Page) -> None:
    page = desktop
    await page.goto("/sign-in")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # the stylesheet is the site's own file, allowed by the CSP
    assert await page.evaluate("getComputedStyle(document.querySelector('.site-header')).display")
    await screenshot(page, "sign-in")

    email = await sign_up(page, "partner", "Paula Promoter", "/sign-out")
    cookies = {cookie["name"]: cookie for cookie in await page.context.cookies()}
    assert cookies["bx_session"]["httpOnly"] and cookies["bx_session"]["sameSite"] == "Lax"
    assert "bx_session" not in await page.evaluate("document.cookie")

    await sign_out(page)
    await expect(page.locator(".who-name")).to_have_count(0)
    await sign_in(page, email, "/sign-out")
    assert page.url.endswith("/sign-out")
    await expect(page.locator("main")).to_contain_text("Paula Promoter")


async def test_sign_up_at_phone_width(phone: Page) -> None:
    await phone.goto("/sign-up")
    await expect(phone.get_by_role("heading", name="Create your account")).to_be_visible()
    # nothing wider than the screen: no sideways scrolling
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(phone, "sign-up")
    await phone.get_by_label("Your name").fill("Phone Person")
    await phone.get_by_role("button", name="Sign up").click()
    await expect(phone.locator("#e-email")).to_be_visible()

"""Steps the browser tests take through the shared pages, as a person would."""

from __future__ import annotations

from urllib.parse import quote

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

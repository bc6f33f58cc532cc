"""Staff accounts in the panel, at phone width: a partner creates a gate account, the staff
member signs in at the gate in another browser, the partner disables the account, and the
staff member's session stops working."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.conftest import unique_email
from tests.e2e.browsing import PASSWORD, sign_in, sign_up
from tests.e2e.conftest import screenshot


async def test_partner_creates_and_disables_a_gate_account(phone: Page, desktop: Page) -> None:
    partner, staff = phone, desktop
    await sign_up(partner, "partner", "Staff Boss")
    await screenshot(partner, "panel-events")
    await partner.get_by_role("link", name="Staff").click()
    await expect(partner.get_by_text("No staff accounts yet")).to_be_visible()
    email = unique_email("door")
    await partner.get_by_label("Name").fill("Door Keeper")
    await partner.get_by_label("E-mail").fill(email)
    await partner.get_by_label("Password").fill("short")
    await partner.get_by_role("button", name="Create account").click()
    await expect(partner.locator("#e-password")).to_be_visible()
    await partner.get_by_label("Password").fill(PASSWORD)
    await partner.get_by_role("button", name="Create account").click()
    await expect(partner.get_by_role("status")).to_contain_text("Staff account created")
    await expect(partner.locator(".staff-list li")).to_have_count(1)

    await sign_in(staff, email)
    assert staff.url.endswith("/gate/")
    # staff may not use the panel
    response = await staff.goto("/panel/")
    assert response is not None and response.status == 403

    partner.on("dialog", lambda dialog: dialog.accept())
    await partner.get_by_role("button", name="Disable").click()
    await expect(partner.get_by_role("status")).to_contain_text("Staff account disabled")
    await expect(partner.locator(".badge-disabled")).to_be_visible()
    await screenshot(partner, "panel-staff")

    # within about a second the staff member's session no longer opens the gate
    for _ in range(30):
        await staff.goto("/gate/")
        if "/sign-in" in staff.url:
            break
        await staff.wait_for_timeout(200)
    assert "/sign-in" in staff.url

"""The customer e-mails on a 390 px phone screen, in Debian's Chromium: nothing wider than
the screen (a ticket code is some 180 digits with no space to break at), the QR images
scaled to fit and still readable, in each language. A screenshot of each is kept in
docs/screenshots/ for review."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import Browser

from engine.ticket_mail import (
    MailLook,
    MailOrder,
    MailTicket,
    cancellation_message,
    tickets_message,
)
from engine.ticket_qr import render_qr
from tests.e2e.conftest import PHONE, SCREENSHOTS

CODE = "1" + "0123456789" * 18  # as long as a genuine code, and as unbreakable


def an_order(locale: str) -> MailOrder:
    tickets = [
        MailTicket(
            id=n,
            label=f"Section Floor - Row A seat {n}",
            code=f"{CODE}{n}",
            status="valid",
            event_name="Festival de Verão Extraordinariamente Longo no Parque Ibirapuera",
            venue="Parque Ibirapuera, São Paulo",
            starts_at=datetime(2027, 1, 15, 22, 0, tzinfo=UTC),
        )
        for n in (1, 2)
    ]
    return MailOrder(
        "2f1c9a7e-order", "completed", "Ana Souza", "ana@example.org", 9000, tickets, locale
    )


def html_with_images(message: EmailMessage) -> str:
    """The HTML part with each cid: image inlined as a data: URL, as a mail reader shows it."""
    body = message.get_body(preferencelist=("html",))
    assert isinstance(body, EmailMessage)
    html = body.get_content()
    for part in message.walk():
        if part.get_content_type() == "image/png":
            cid = str(part["Content-ID"]).strip("<>")
            data = base64.b64encode(part.get_content()).decode()  # type: ignore[attr-defined]
            html = html.replace(f"cid:{cid}", f"data:image/png;base64,{data}")
    assert "cid:" not in html
    return html


@pytest.mark.parametrize("locale", ["en", "pt-BR", "es"])
async def test_the_tickets_mail_fits_a_390_px_screen(
    chromium_browser: Browser, locale: str
) -> None:
    order = an_order(locale)
    images = {t.id: render_qr(t.code) for t in order.tickets}
    look = MailLook(
        account_url="https://tickets.example.org/account/", time_zone="America/Sao_Paulo"
    )
    message = tickets_message(order, images, "boxoffice <t@example.org>", look)
    page = await chromium_browser.new_page(viewport=PHONE)
    await page.set_content(html_with_images(message))
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    widths = await page.eval_on_selector_all("img", "images => images.map(i => i.width)")
    assert widths and all(0 < w <= PHONE["width"] for w in widths), widths
    link = page.locator(f'a[href="{look.account_url}"]')
    assert await link.count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"email-tickets-{locale}-390.png"
    await page.screenshot(path=str(shot), full_page=True)
    # the first QR code, as the screen shows it, still decodes to the ticket's code
    box = await page.locator("img").first.bounding_box()
    assert box is not None
    crop = await page.screenshot(clip=box)
    shown = Image.open(io.BytesIO(crop))
    decoded = zxingcpp.read_barcodes(shown)
    assert [d.text for d in decoded] == [order.tickets[0].code]
    await page.close()


async def test_the_cancellation_notice_fits_a_390_px_screen(chromium_browser: Browser) -> None:
    message = cancellation_message(an_order("es"), "boxoffice <t@example.org>", MailLook())
    page = await chromium_browser.new_page(viewport=PHONE)
    await page.set_content(html_with_images(message))
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    text = await page.inner_text("body")
    assert re.search(r"Tu pedido 2f1c9a7e-order se canceló", text)
    await page.close()

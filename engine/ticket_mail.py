"""E-mail to customers: their tickets when an order completes, a notice when a paid order is
cancelled; in the customer's language (engine/locales.py), each linking to their account page.

The outbox row is written by PostgreSQL in the same transaction as the order status that
calls for it (engine/store/sql/0005_tickets.sql), so none is missed. `MailDelivery` takes due
rows under a lease, composes the message (codes, and QR images inline), hands it to a
transport (SMTP, or `.eml` files) and retries with backoff: delivery is at least once.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal, Protocol

import msgspec

from engine.locales import DEFAULT_LOCALE, Messages, messages_for
from engine.ticket_qr import render_qr

log = logging.getLogger(__name__)

MailKind = Literal["tickets", "cancellation"]
MAX_ATTEMPTS = 10
FIRST_RETRY_S = 15.0
MAX_RETRY_S = 3600.0
DEFAULT_SENDER = "boxoffice <tickets@boxoffice.invalid>"


class MailTicket(msgspec.Struct, frozen=True):
    id: int
    label: str
    code: str
    status: str
    event_name: str | None
    venue: str | None
    starts_at: datetime | None
    time_zone: str | None = None  # the event's; None: the site's


class MailOrder(msgspec.Struct, frozen=True):
    order_id: str
    status: str
    customer_name: str
    customer_email: str
    total_cents: int
    tickets: list[MailTicket]
    locale: str | None = None  # the customer's language tag; None: English


class OutboxItem(msgspec.Struct, frozen=True):
    id: int
    order_id: str
    kind: MailKind
    attempts: int  # including the one now starting


class OutboxStore(Protocol):
    async def claim_due(self, limit: int, lease_s: float) -> list[OutboxItem]:
        """Due rows, each leased to this worker for `lease_s` (SKIP LOCKED: workers share)."""

    async def mail_order(self, order_id: str) -> MailOrder | None: ...

    async def qr_images(self, ticket_ids: list[int]) -> dict[int, bytes]: ...

    async def save_qr(self, images: dict[int, bytes]) -> None: ...

    async def finish(self, item_id: int, status: str, delivered_to: str | None) -> None: ...

    async def retry(self, item_id: int, error: str, after_s: float | None) -> None:
        """Try again after `after_s`; None: give up (status failed)."""


class MailTransport(Protocol):
    async def send(self, message: EmailMessage, reference: str) -> str:
        """Deliver; return where it went. `reference` names the message for people."""


def retry_after(attempts: int) -> float | None:
    """Backoff after a failed attempt: 15 s, 30 s, 1 min, ... at most an hour, then give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return min(FIRST_RETRY_S * 2.0 ** (attempts - 1), MAX_RETRY_S)


class MailLook(msgspec.Struct, frozen=True):
    """What every message shares: where the customer's account page is, and the time zone
    moments are written in."""

    account_url: str = "http://127.0.0.1:8000/account/"
    time_zone: str = "UTC"


def _when(ticket: MailTicket, words: Messages, look: MailLook) -> str:
    name = ticket.event_name or words.gettext("Event")
    zone = ticket.time_zone or look.time_zone
    moment = words.moment(ticket.starts_at, zone) if ticket.starts_at else ""
    where = ", ".join(part for part in (ticket.venue, moment) if part)
    return f"{name} ({where})" if where else name


def _named(ticket: MailTicket, words: Messages, look: MailLook) -> str:
    return f"{_when(ticket, words, look)} - {ticket.label}"


def _envelope(order: MailOrder, sender: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"{order.customer_name} <{order.customer_email}>"
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="boxoffice.invalid")
    message["X-Boxoffice-Order"] = order.order_id
    return message


# Inline styles only (mail readers drop <style> and external sheets); one column no wider
# than the screen: images scale down, and a ticket code (some 180 digits with no space)
# breaks anywhere instead of widening the message past a 390 px phone.
_PAGE = (
    '<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>{title}</title></head>"
    '<body style="margin:0;padding:0;background:#f4f4f5;color:#18181b;'
    'font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;line-height:1.5">'
    '<div style="box-sizing:border-box;max-width:560px;width:100%;margin:0 auto;'
    'padding:16px;background:#ffffff">{body}</div></body></html>'
)
_BUTTON = (
    '<p style="margin:24px 0"><a href="{url}" style="display:inline-block;padding:12px 20px;'
    'background:#1d4ed8;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:600">'
    "{text}</a></p>"
)
_CODE = (
    '<p style="margin:4px 0 24px;font-family:ui-monospace,Menlo,Consolas,monospace;'
    'font-size:11px;color:#52525b;word-break:break-all;overflow-wrap:anywhere">{code}</p>'
)


def _html(words: Messages, title: str, body: str) -> str:
    return _PAGE.format(lang=words.locale, title=html.escape(title), body=body)


def _account_lines(words: Messages, look: MailLook) -> list[str]:
    return ["", words.gettext("Your orders and tickets are in your account:"), look.account_url]


def tickets_message(
    order: MailOrder,
    images: dict[int, bytes],
    sender: str,
    look: MailLook | None = None,
) -> EmailMessage:
    """Text for every reader, HTML with each ticket's QR image inline (also a named file),
    in the customer's language, linking to the account page."""
    look = look or MailLook()
    words = messages_for(order.locale or DEFAULT_LOCALE)
    subject = words.gettext("Your tickets - order %(order)s", order=order.order_id)
    message = _envelope(order, sender, subject)
    hello = words.gettext("Hello %(name)s,", name=order.customer_name)
    intro = words.gettext(
        "Here are your tickets. Show each QR code at the gate; the code under it is what it "
        "encodes."
    )
    lines = [hello, "", intro, ""]
    for ticket in order.tickets:
        code_line = words.gettext("code: %(code)s", code=ticket.code)
        lines += [f"* {_when(ticket, words, look)} - {ticket.label}", f"  {code_line}", ""]
    message.set_content("\n".join(lines + _account_lines(words, look)))
    cids = {t.id: make_msgid(domain="boxoffice.invalid") for t in order.tickets}
    blocks = [
        f"<p>{html.escape(hello)}</p><p>{html.escape(intro)}</p>",
        _BUTTON.format(
            url=html.escape(look.account_url), text=html.escape(words.gettext("Open my account"))
        ),
    ]
    for ticket in order.tickets:
        alt = words.gettext("QR code of ticket %(label)s", label=ticket.label)
        blocks.append(
            f'<h2 style="font-size:18px;margin:16px 0 8px">{html.escape(ticket.label)}</h2>'
            f'<p style="margin:0 0 8px">{html.escape(_when(ticket, words, look))}</p>'
            f'<img src="cid:{cids[ticket.id][1:-1]}" alt="{html.escape(alt)}" width="240" '
            'height="240" style="display:block;width:240px;max-width:100%;height:auto;'
            'border:0">' + _CODE.format(code=html.escape(ticket.code))
        )
    message.add_alternative(_html(words, subject, "".join(blocks)), subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for ticket in order.tickets:
        html_part.add_related(
            images[ticket.id],
            maintype="image",
            subtype="png",
            cid=cids[ticket.id],
            filename=f"ticket-{ticket.id}.png",
            disposition="inline",
        )
    return message


def cancellation_message(
    order: MailOrder, sender: str, look: MailLook | None = None
) -> EmailMessage:
    """The notice that an order was cancelled and refunded, naming its void tickets."""
    look = look or MailLook()
    words = messages_for(order.locale or DEFAULT_LOCALE)
    subject = words.gettext("Order %(order)s cancelled", order=order.order_id)
    message = _envelope(order, sender, subject)
    hello = words.gettext("Hello %(name)s,", name=order.customer_name)
    done = words.gettext(
        "Your order %(order)s was cancelled and its payment refunded.", order=order.order_id
    )
    lines = [hello, "", done]
    voided = [
        words.gettext(
            "%(ticket)s (code ending %(end)s)", ticket=_named(t, words, look), end=t.code[-8:]
        )
        for t in order.tickets
    ]
    if voided:
        lines += ["", words.gettext("These tickets are void and will be refused at the gate:")]
        lines += [f"* {line}" for line in voided]
    message.set_content("\n".join(lines + _account_lines(words, look)))
    listed = "".join(f"<li>{html.escape(line)}</li>" for line in voided)
    body = f"<p>{html.escape(hello)}</p><p>{html.escape(done)}</p>"
    if voided:
        void_note = words.gettext("These tickets are void and will be refused at the gate:")
        body += f'<p>{html.escape(void_note)}</p><ul style="padding-left:20px">{listed}</ul>'
    body += _BUTTON.format(
        url=html.escape(look.account_url), text=html.escape(words.gettext("Open my account"))
    )
    message.add_alternative(_html(words, subject, body), subtype="html")
    return message


class MailDelivery:
    def __init__(
        self,
        store: OutboxStore,
        transport: MailTransport,
        sender: str = DEFAULT_SENDER,
        render: Callable[[str], bytes] = render_qr,
        batch: int = 20,
        lease_s: float = 120.0,
        look: MailLook | None = None,
    ) -> None:
        self._store = store
        self._transport = transport
        self._sender = sender
        self._render = render
        self._batch = batch
        self._lease_s = lease_s
        self._look = look or MailLook()

    async def deliver_due(self) -> int:
        """Deliver what is due now; return how many rows were taken."""
        items = await self._store.claim_due(self._batch, self._lease_s)
        for item in items:
            await self._deliver(item)
        return len(items)

    async def _deliver(self, item: OutboxItem) -> None:
        try:
            order = await self._store.mail_order(item.order_id)
            if order is None:
                raise LookupError(f"order {item.order_id} is not in PostgreSQL")
            if item.kind == "tickets" and order.status == "cancelled":
                # its notice follows; tickets that are void already are not worth sending
                await self._store.finish(item.id, "skipped", None)
                return
            message = await self._compose(item, order)
            where = await self._transport.send(message, f"{item.order_id}-{item.kind}")
        except Exception as exc:
            after = retry_after(item.attempts)
            log.warning(
                "mail %s (%s of %s) failed, attempt %d: %s",
                item.id,
                item.kind,
                item.order_id,
                item.attempts,
                exc,
            )
            await self._store.retry(item.id, f"{type(exc).__name__}: {exc}"[:1000], after)
            return
        await self._store.finish(item.id, "sent", where)

    async def _compose(self, item: OutboxItem, order: MailOrder) -> EmailMessage:
        if item.kind == "cancellation":
            return cancellation_message(order, self._sender, self._look)
        images = await self.qr_images(order.tickets)
        return tickets_message(order, images, self._sender, self._look)

    async def qr_images(self, tickets: list[MailTicket]) -> dict[int, bytes]:
        """Cached images, rendering (off the event loop) and caching the missing ones."""
        images = await self._store.qr_images([t.id for t in tickets])
        missing = [t for t in tickets if t.id not in images]
        if missing:
            rendered = await asyncio.to_thread(
                lambda: {t.id: self._render(t.code) for t in missing}
            )
            await self._store.save_qr(rendered)
            images.update(rendered)
        return images

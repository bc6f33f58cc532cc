"""E-mail to customers: their tickets when an order completes, a notice when a paid order is
cancelled.

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


class MailOrder(msgspec.Struct, frozen=True):
    order_id: str
    status: str
    customer_name: str
    customer_email: str
    total_cents: int
    tickets: list[MailTicket]


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


def _when(ticket: MailTicket) -> str:
    where = ", ".join(part for part in (ticket.venue, _date(ticket.starts_at)) if part)
    return f"{ticket.event_name or 'Event'} ({where})" if where else ticket.event_name or "Event"


def _date(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M %Z") if at else ""


def _envelope(order: MailOrder, sender: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"{order.customer_name} <{order.customer_email}>"
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="boxoffice.invalid")
    message["X-Boxoffice-Order"] = order.order_id
    return message


def tickets_message(order: MailOrder, images: dict[int, bytes], sender: str) -> EmailMessage:
    """Text for every reader, HTML with each ticket's QR image inline (also a named file)."""
    message = _envelope(order, sender, f"Your tickets - order {order.order_id}")
    lines = [f"Hello {order.customer_name},", "", "Here are your tickets. Show the QR code at"]
    lines += ["the gate; the code below each one is what it encodes.", ""]
    for ticket in order.tickets:
        lines += [f"* {_when(ticket)} - {ticket.label}", f"  code: {ticket.code}", ""]
    message.set_content("\n".join(lines))
    blocks = []
    cids = {t.id: make_msgid(domain="boxoffice.invalid") for t in order.tickets}
    for ticket in order.tickets:
        blocks.append(
            f"<h3>{html.escape(_when(ticket))} - {html.escape(ticket.label)}</h3>"
            f'<p><img src="cid:{cids[ticket.id][1:-1]}" alt="QR code of ticket {ticket.id}"></p>'
            f"<p><small>{html.escape(ticket.code)}</small></p>"
        )
    message.add_alternative(
        f"<html><body><p>Hello {html.escape(order.customer_name)},</p>"
        f"<p>Here are your tickets. Show the QR code at the gate.</p>{''.join(blocks)}"
        "</body></html>",
        subtype="html",
    )
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


def cancellation_message(order: MailOrder, sender: str) -> EmailMessage:
    message = _envelope(order, sender, f"Order {order.order_id} cancelled")
    lines = [
        f"Hello {order.customer_name},",
        "",
        f"Your order {order.order_id} was cancelled and its payment refunded.",
    ]
    if order.tickets:
        lines += ["These tickets are void and will be refused at the gate:", ""]
        lines += [f"* {_when(t)} - {t.label} (code ending {t.code[-8:]})" for t in order.tickets]
    message.set_content("\n".join(lines))
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
    ) -> None:
        self._store = store
        self._transport = transport
        self._sender = sender
        self._render = render
        self._batch = batch
        self._lease_s = lease_s

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
            return cancellation_message(order, self._sender)
        return tickets_message(order, await self.qr_images(order.tickets), self._sender)

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

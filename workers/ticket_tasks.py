"""Worker side of tickets: the mail loop delivers the outbox (tickets on completion, notices
on cancellation), rendering and caching each ticket's QR image on the way.

It runs beside the ARQ jobs in every worker process; workers share the outbox through
`FOR UPDATE SKIP LOCKED`, so adding workers adds delivery capacity.

Configuration (environment): `SMTP_URL` (smtp://user:password@host:port, or smtps://) sends
over SMTP; without it messages are written as `.eml` files under `<data dir>/mail`.
`MAIL_FROM` sets the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from engine.settings import Settings
from engine.store.mail_transports import EmlDirectory, SmtpTransport
from engine.store.pg_tickets import PgMailOutbox
from engine.ticket_mail import DEFAULT_SENDER, MailDelivery, MailTransport

log = logging.getLogger("boxoffice.worker.mail")

IDLE_S = 0.5  # nothing due: look again after this


def _env(name: str) -> str | None:
    return os.environ.get(name) or os.environ.get(f"BOXOFFICE_{name}") or None


def mail_transport(settings: Settings) -> MailTransport:
    smtp_url = _env("SMTP_URL")
    if smtp_url:
        return SmtpTransport(smtp_url)
    return EmlDirectory(settings.data_dir / "mail")


def mail_delivery(resources: Any, transport: MailTransport | None = None) -> MailDelivery:
    return MailDelivery(
        PgMailOutbox(resources.pool),
        transport or mail_transport(resources.settings),
        sender=_env("MAIL_FROM") or DEFAULT_SENDER,
    )


async def mail_loop(delivery: MailDelivery) -> None:
    while True:
        try:
            taken = await delivery.deliver_due()
        except Exception as exc:  # PostgreSQL away, say: the outbox waits for it
            log.warning("mail round failed: %s", exc)
            taken = 0
            await asyncio.sleep(1)
        if not taken:
            await asyncio.sleep(IDLE_S)


def start_ticket_tasks(ctx: dict[str, Any]) -> None:
    ctx["mail_task"] = asyncio.create_task(mail_loop(mail_delivery(ctx["resources"])))


async def stop_ticket_tasks(ctx: dict[str, Any]) -> None:
    task = ctx.get("mail_task")
    if task:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

"""Worker side of tickets: the mail loop delivers the outbox (tickets on completion, notices
on cancellation), rendering and caching each ticket's QR image on the way.

It runs beside the ARQ jobs in every worker process; workers share the outbox through
`FOR UPDATE SKIP LOCKED`, so adding workers adds delivery capacity. While the worker is
draining a backlog of paid orders, mail waits (one round every MAIL_DEFER_S at most), so
orders complete first and their tickets follow by mail once the burst is written: a
message costs about as much CPU and PostgreSQL time as persisting its order.

Configuration (engine/settings.py): `SMTP_URL` (smtp://user:password@host:port, or smtps://)
sends over SMTP; without it messages are written as `.eml` files under `<data dir>/mail`.
`MAIL_FROM` sets the sender; `PUBLIC_URL` starts the account link every message carries and
`TIME_ZONE` is the zone its moments are written in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from engine.settings import Settings
from engine.store.mail_transports import EmlDirectory, SmtpTransport
from engine.store.pg_tickets import PgMailOutbox
from engine.ticket_mail import DEFAULT_SENDER, MailDelivery, MailLook, MailTransport

log = logging.getLogger("boxoffice.worker.mail")

IDLE_S = 0.5  # nothing due: look again after this
BUSY_S = 0.2  # persistence has a backlog: look again after this
MAIL_DEFER_S = 5.0  # but deliver one round at least this often


def mail_transport(settings: Settings) -> MailTransport:
    if settings.smtp_url:
        return SmtpTransport(settings.smtp_url)
    return EmlDirectory(settings.data_dir / "mail")


def mail_delivery(resources: Any, transport: MailTransport | None = None) -> MailDelivery:
    return MailDelivery(
        PgMailOutbox(resources.pool),
        transport or mail_transport(resources.settings),
        sender=resources.settings.mail_from or DEFAULT_SENDER,
        look=mail_look(resources.settings),
    )


def mail_look(settings: Settings) -> MailLook:
    return MailLook(account_url=f"{settings.public_url}/account/", time_zone=settings.time_zone)


async def mail_loop(delivery: MailDelivery, busy: Callable[[], bool] = lambda: False) -> None:
    last_round = time.monotonic()
    while True:
        if busy() and time.monotonic() - last_round < MAIL_DEFER_S:
            await asyncio.sleep(BUSY_S)
            continue
        last_round = time.monotonic()
        try:
            taken = await delivery.deliver_due()
        except Exception as exc:  # PostgreSQL away, say: the outbox waits for it
            log.warning("mail round failed: %s", exc)
            taken = 0
            await asyncio.sleep(1)
        if not taken:
            await asyncio.sleep(IDLE_S)


def start_ticket_tasks(ctx: dict[str, Any]) -> None:
    batcher = ctx.get("persist_batcher")
    busy = (lambda: batcher.backlogged) if batcher is not None else (lambda: False)
    ctx["mail_task"] = asyncio.create_task(mail_loop(mail_delivery(ctx["resources"]), busy))


async def stop_ticket_tasks(ctx: dict[str, Any]) -> None:
    task = ctx.get("mail_task")
    if task:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

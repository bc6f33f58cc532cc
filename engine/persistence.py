"""Persisting orders: turn the Redis order documents into the rows PostgreSQL keeps.

Pure functions here decide what to write; engine/store/pg_orders.py writes it idempotently
(natural unique keys and ON CONFLICT), so a batch can be replayed after any crash.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from engine.failures import REFUSED_BACKOFF, Backoff, Failure
from engine.gate_keys import TicketSigner
from engine.moments import from_ms, to_ms
from engine.order_document import OrderDocument
from engine.order_ids import home_event_of

log = logging.getLogger(__name__)


class LineRow(msgspec.Struct, array_like=True):
    order_id: str
    line_no: int
    event_id: int
    seat_id: int | None
    ticket_type_id: int | None
    label: str
    price_cents: int


class TicketRow(msgspec.Struct, array_like=True):
    order_id: str
    line_no: int
    event_id: int
    seat_id: int | None
    ticket_type_id: int | None
    label: str
    code: str
    status: str  # 'void' when the order was cancelled before its tickets were written


class OrderRows(msgspec.Struct):
    order_id: str
    customer_id: int
    status: str
    total_cents: int
    payment_ref: str | None
    expires_at: datetime
    created_at: datetime
    paid_at: datetime | None
    lines: list[LineRow]
    history: list[tuple[str, datetime, str | None]]
    tickets: list[TicketRow]
    void_tickets: bool
    completed_ms: int | None


def rows_for(doc: OrderDocument, now_ms: int, signer: TicketSigner) -> OrderRows:
    """What PostgreSQL must hold for this order document; a paid order is completed here."""
    order_id = doc.id
    lines = [
        LineRow(
            order_id,
            no,
            int(item.event_id),
            None if item.seat_id is None else int(item.seat_id),
            None if item.ticket_type_id is None else int(item.ticket_type_id),
            item.label,
            item.price_cents,
        )
        for no, item in enumerate(doc.items)
    ]
    history: list[tuple[str, datetime, str | None]] = [
        (h.status, from_ms(h.at), h.reason) for h in doc.history
    ]
    was_paid = doc.was_paid()
    status: str = doc.status
    completed_ms = None
    if status == "paid":
        status, completed_ms = "completed", max(now_ms, doc.history[-1].at + 1)
        history.append(("completed", from_ms(completed_ms), None))
    tickets = (
        [
            TicketRow(
                line.order_id,
                line.line_no,
                line.event_id,
                line.seat_id,
                line.ticket_type_id,
                line.label,
                signer.mint(line.event_id, order_id, line.line_no),
                "void" if status == "cancelled" else "valid",
            )
            for line in lines
        ]
        if was_paid
        else []
    )
    return OrderRows(
        order_id=order_id,
        customer_id=int(doc.customer_id),
        status=status,
        total_cents=doc.total_cents,
        payment_ref=doc.payment_ref,
        expires_at=from_ms(doc.expires_at),
        created_at=from_ms(doc.created_at),
        paid_at=from_ms(doc.paid_at) if doc.paid_at else None,
        lines=lines,
        history=history,
        tickets=tickets,
        void_tickets=was_paid and status == "cancelled",
        completed_ms=completed_ms,
    )


class DeadLetter(msgspec.Struct, frozen=True):
    """An order PostgreSQL refuses for good, as kept in order_dead_letters."""

    order_id: str
    event_id: int
    customer_id: int
    status: str
    reason: str
    sqlstate: str | None
    detail: str
    document: OrderDocument


PARK_MEMORY = 100_000  # refused orders whose delay is remembered


class Persister:
    """Moves order documents from Redis into PostgreSQL and completes the paid ones.

    Safe to run from many workers at once and to replay: PostgreSQL writes are idempotent,
    Redis completion only moves `paid` forward, and a change is forgotten only if the order
    did not change again while it was being written.
    """

    def __init__(
        self,
        log: Any,
        store: Any,
        signer: TicketSigner,
        backoff: Backoff = REFUSED_BACKOFF,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
        on_completed: Callable[[list[float]], None] | None = None,
    ) -> None:
        self._log = log
        self._store = store
        self._on_dead_letter = on_dead_letter
        # told, for each batch, the seconds from payment to completion of its paid orders
        self._on_completed = on_completed
        # orders whose change PostgreSQL refused -> seconds it was last put off for: longer
        # each refusal (the backoff), forgotten once written
        self._parked: dict[str, float] = {}
        self._backoff = backoff
        self._signer = signer

    async def persist(self, order_ids: list[str], include_paid: bool = True) -> int:
        """Write these orders; return how many were written.

        With include_paid=False, paid orders are left to their persist_order job (and the
        outbox reconciler) so no order is written twice at once. A document PostgreSQL
        already has in full (completed, nothing changed since) is skipped. A change that
        PostgreSQL refuses is put off (engine/failures.py REFUSED_BACKOFF: 1 s, then twice as
        long each time, up to a minute), so the sync loop goes on with the changes behind it
        instead of retrying it every round; one it refuses for good becomes a dead letter.
        Only an unreachable PostgreSQL (or Redis) raises."""
        written, _ = await self._persist(order_ids, include_paid, park=True)
        return len(written)

    async def settle(self, order_ids: list[str]) -> tuple[set[str], set[str]]:
        """Write these orders, paid ones included. Returns (written now, and completed if
        paid; needing nothing: already in PostgreSQL in full, gone from Redis, or refused for
        good and now a dead letter). An order PostgreSQL refused for now is in neither, and
        raises nothing: the caller tries it again later. Only an unreachable PostgreSQL (or
        Redis) raises."""
        return await self._persist(order_ids, include_paid=True)

    async def _persist(
        self, order_ids: list[str], include_paid: bool, park: bool = False
    ) -> tuple[set[str], set[str]]:
        """(orders written, orders with nothing to write)."""
        order_ids = list(dict.fromkeys(order_ids))
        pending: list[tuple[str, OrderDocument, str | None]] = []
        untouched: set[str] = set()
        for order_id, (doc, score) in zip(
            order_ids, await self._log.documents(order_ids), strict=True
        ):
            if not doc or (doc.status == "completed" and score is None):
                untouched.add(order_id)
            elif include_paid or doc.status != "paid":
                pending.append((order_id, doc, score))
        pending.sort(key=lambda entry: entry[0])  # batches that overlap lock rows in one order
        now = int(time.time() * 1000)  # orders are 'completed' after their last change
        await self._signer.prepare(
            int(item.event_id) for _, doc, _ in pending if doc.was_paid() for item in doc.items
        )
        batch = [rows_for(doc, now, self._signer) for _, doc, _ in pending]
        written, completed_at, refused = await self._write(batch)
        # completed here, and paid orders that moved on (cancelled, say) before they were
        # written: either way PostgreSQL has them now, so they leave the outbox
        settled = {order_id: to_ms(at) for order_id, at in completed_at.items()}
        for order_id, doc, _ in pending:
            moved_on = doc.status != "paid" and doc.was_paid()
            if moved_on and order_id in written and order_id not in settled:
                settled[order_id] = 0
        if settled:
            # a completed order's tickets go into their live events before customers can see
            # them (lua/issue_tickets.lua; void there if the order was cancelled meanwhile)
            completed = [order_id for order_id, at in settled.items() if at > 0]
            if completed:
                await self._log.issue_tickets(await self._store.issued_tickets(completed))
            await self._log.complete(settled)
            self._report_completed(pending, settled)
        await self._log.ack_changes(
            [
                (order_id, score)
                for order_id, _, score in pending
                if score is not None and order_id in written
            ]
        )
        if self._parked:
            for order_id in written:
                self._parked.pop(order_id, None)
        if refused:  # after what was written is settled: this may raise (unreachable)
            untouched |= await self._dead_letter(
                [
                    (doc, score, refused[order_id])
                    for order_id, doc, score in pending
                    if order_id in refused
                ]
            )
        if park:
            await self._park_refused(
                [
                    (order_id, score)
                    for order_id, _, score in pending
                    if order_id not in written and order_id not in refused
                ]
            )
        return written, untouched

    def _report_completed(
        self, pending: list[tuple[str, OrderDocument, str | None]], settled: dict[str, int]
    ) -> None:
        if self._on_completed is None:
            return
        lags = [
            (settled[order_id] - doc.paid_at) / 1000
            for order_id, doc, _ in pending
            if settled.get(order_id, 0) > 0 and doc.paid_at
        ]
        if lags:
            self._on_completed(lags)

    async def _dead_letter(
        self, refused: list[tuple[OrderDocument, str | None, tuple[str, BaseException]]]
    ) -> set[str]:
        """Keep orders PostgreSQL refuses for good in order_dead_letters (its own
        transaction), then take them out of the outbox and the changes in Redis and mark
        their documents, so nothing retries them. Returns their ids."""
        letters = [
            DeadLetter(
                order_id=doc.id,
                event_id=home_event_of(doc.id),
                customer_id=int(doc.customer_id),
                status=doc.status,
                reason=reason,
                sqlstate=getattr(exc, "sqlstate", None),
                detail=str(exc)[:1000],
                document=doc,
            )
            for doc, _, (reason, exc) in refused
        ]
        await self._store.record_dead_letters(letters)
        first_time = await self._log.dead_letter(
            [(doc.id, reason, score) for doc, score, (reason, _) in refused]
        )
        for letter in letters:
            self._parked.pop(letter.order_id, None)
            log.error(
                "order %s refused for good by PostgreSQL (%s), now a dead letter: %s",
                letter.order_id,
                letter.reason,
                letter.detail,
            )
            if letter.order_id in first_time and self._on_dead_letter is not None:
                self._on_dead_letter(letter)
        return {letter.order_id for letter in letters}

    async def _park_refused(self, refused: list[tuple[str, str | None]]) -> None:
        parked: list[tuple[str, str, int]] = []
        for order_id, score in refused:
            if score is None:
                continue  # no pending change: a paid order's retries are its job's
            delay = self._backoff.after(self._parked.get(order_id))
            self._parked[order_id] = delay
            parked.append((order_id, score, int(delay * 1000)))
            log.warning("order %s: change refused by PostgreSQL, next try in %gs", order_id, delay)
        if parked:
            await self._log.park_changes(parked)
        if len(self._parked) > PARK_MEMORY:  # the oldest start again from the first delay
            for order_id in list(self._parked)[: len(self._parked) - PARK_MEMORY]:
                del self._parked[order_id]

    async def _write(
        self, batch: list[OrderRows]
    ) -> tuple[set[str], dict[str, Any], dict[str, tuple[str, BaseException]]]:
        """Write the batch in one transaction; if PostgreSQL refuses it, in halves, and so on
        down to single orders, so one order PostgreSQL refuses costs a few transactions
        (about 2 log2 n) and cannot hold up the others. When PostgreSQL is unreachable the
        error is raised for the caller to retry; the orders it refuses are left out of what
        was written, and those it refuses for good are returned with the reason and error.
        Returns (written, completion times, refused for good)."""
        if not batch:
            return set(), {}, {}
        try:
            return {rows.order_id for rows in batch}, await self._store.write(batch), {}
        except Exception as exc:
            if self._store.classify_failure(exc) is Failure.UNREACHABLE:
                raise  # smaller batches would only fail the same way
            if len(batch) == 1:
                reason = self._store.refusal_reason(exc)
                if reason is not None:
                    return set(), {}, {batch[0].order_id: (reason, exc)}
                log.warning("order %s could not be written, will retry: %r", batch[0].order_id, exc)
                return set(), {}, {}
            written: set[str] = set()
            completed: dict[str, Any] = {}
            refused: dict[str, tuple[str, BaseException]] = {}
            middle = len(batch) // 2
            for half in (batch[:middle], batch[middle:]):
                half_written, half_completed, half_refused = await self._write(half)
                written |= half_written
                completed.update(half_completed)
                refused.update(half_refused)
            return written, completed, refused

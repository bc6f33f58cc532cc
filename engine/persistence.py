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

from engine.gate_keys import TicketSigner
from engine.order_ids import home_event_of
from engine.orders import from_ms

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


def rows_for(doc: dict[str, Any], now_ms: int, signer: TicketSigner) -> OrderRows:
    """What PostgreSQL must hold for this order document; a paid order is completed here."""
    order_id = doc["id"]
    items = doc["items"] if isinstance(doc["items"], list) else []
    lines = [
        LineRow(
            order_id,
            no,
            int(item["event_id"]),
            int(item["seat_id"]) if item.get("seat_id") is not None else None,
            int(item["ticket_type_id"]) if item.get("ticket_type_id") is not None else None,
            item["label"],
            int(item["price_cents"]),
        )
        for no, item in enumerate(items)
    ]
    history = [(h["status"], from_ms(h["at"]), h.get("reason")) for h in doc["history"]]
    was_paid = any(status == "paid" for status, _, _ in history)
    status = doc["status"]
    completed_ms = None
    if status == "paid":
        status, completed_ms = "completed", max(now_ms, int(doc["history"][-1]["at"]) + 1)
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
        customer_id=int(doc["customer_id"]),
        status=status,
        total_cents=int(doc["total_cents"]),
        payment_ref=doc.get("payment_ref"),
        expires_at=from_ms(doc["expires_at"]),
        created_at=from_ms(doc["created_at"]),
        paid_at=from_ms(doc["paid_at"]) if doc.get("paid_at") else None,
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
    document: dict[str, Any]


# SQLSTATEs whose refusal no retry can change: the rows the order needs are gone or its
# values break a rule of the schema. Not among them: unique_violation (23505), since a seat
# resold after a cancellation is refused until the cancellation's void lands, and every
# connection, serialization, deadlock, resource or shutdown error.
PERMANENT_SQLSTATES = {
    "23503": "foreign_key_violation",
    "23514": "check_violation",
    "23502": "not_null_violation",
    "23001": "restrict_violation",
}
PERMANENT_REASONS = (
    "customer_missing",
    *PERMANENT_SQLSTATES.values(),
    "invalid_data",
)


def permanent_refusal(exc: BaseException) -> str | None:
    """Why PostgreSQL will refuse this order however often it is retried (one of
    PERMANENT_REASONS), or None when a retry may succeed. The only place that decides."""
    state = getattr(exc, "sqlstate", None)
    if not isinstance(state, str):
        return None
    if state == "23503" and getattr(exc, "table_name", None) == "orders":
        return "customer_missing"  # orders' only foreign key: orders.customer_id -> users
    if state.startswith("22"):  # data exception: a value the column cannot take
        return "invalid_data"
    return PERMANENT_SQLSTATES.get(state)


PARK_FIRST_S = 1.0  # a refused change is tried again after this long, then twice as long...
PARK_MAX_S = 300.0  # ...up to this
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
        park_first_s: float = PARK_FIRST_S,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
    ) -> None:
        self._log = log
        self._store = store
        self._on_dead_letter = on_dead_letter
        # orders whose change PostgreSQL refused -> seconds it was last put off for: doubled
        # each refusal, up to PARK_MAX_S, forgotten once written
        self._parked: dict[str, float] = {}
        self._park_first_s = park_first_s
        self._signer = signer

    async def persist(self, order_ids: list[str], include_paid: bool = True) -> int:
        """Write these orders; return how many were written.

        With include_paid=False, paid orders are left to their persist_order job (and the
        outbox reconciler) so no order is written twice at once. A document PostgreSQL
        already has in full (completed, nothing changed since) is skipped. A change that
        PostgreSQL refuses is put off (1 s, then twice as long each time, up to 5 min), so
        the sync loop goes on with the changes behind it instead of retrying it every round;
        one it refuses for good (permanent_refusal) becomes a dead letter. Only an unreachable
        PostgreSQL (or Redis) raises."""
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
        pending: list[tuple[str, dict[str, Any], str | None]] = []
        untouched: set[str] = set()
        for order_id, (doc, score) in zip(
            order_ids, await self._log.documents(order_ids), strict=True
        ):
            if not doc or (doc["status"] == "completed" and score is None):
                untouched.add(order_id)
            elif include_paid or doc["status"] != "paid":
                pending.append((order_id, doc, score))
        pending.sort(key=lambda entry: entry[0])  # batches that overlap lock rows in one order
        now = int(time.time() * 1000)  # orders are 'completed' after their last change
        await self._signer.prepare(
            int(item["event_id"])
            for _, doc, _ in pending
            if isinstance(doc["items"], list) and _was_paid(doc)
            for item in doc["items"]
        )
        batch = [rows_for(doc, now, self._signer) for _, doc, _ in pending]
        written, completed_at, refused = await self._write(batch)
        # completed here, and paid orders that moved on (cancelled, say) before they were
        # written: either way PostgreSQL has them now, so they leave the outbox
        settled = {order_id: int(at.timestamp() * 1000) for order_id, at in completed_at.items()}
        for order_id, doc, _ in pending:
            moved_on = doc["status"] != "paid" and _was_paid(doc)
            if moved_on and order_id in written and order_id not in settled:
                settled[order_id] = 0
        if settled:
            # a completed order's tickets go into their live events before customers can see
            # them (lua/issue_tickets.lua; void there if the order was cancelled meanwhile)
            completed = [order_id for order_id, at in settled.items() if at > 0]
            if completed:
                await self._log.issue_tickets(await self._store.issued_tickets(completed))
            await self._log.complete(settled)
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

    async def _dead_letter(
        self, refused: list[tuple[dict[str, Any], str | None, tuple[str, BaseException]]]
    ) -> set[str]:
        """Keep orders PostgreSQL refuses for good in order_dead_letters (its own
        transaction), then take them out of the outbox and the changes in Redis and mark
        their documents, so nothing retries them. Returns their ids."""
        letters = [
            DeadLetter(
                order_id=doc["id"],
                event_id=home_event_of(doc["id"]),
                customer_id=int(doc["customer_id"]),
                status=doc["status"],
                reason=reason,
                sqlstate=getattr(exc, "sqlstate", None),
                detail=str(exc)[:1000],
                document=doc,
            )
            for doc, _, (reason, exc) in refused
        ]
        await self._store.record_dead_letters(letters)
        first_time = await self._log.dead_letter(
            [(doc["id"], reason, score) for doc, score, (reason, _) in refused]
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
            delay = min(self._parked.get(order_id, self._park_first_s / 2) * 2, PARK_MAX_S)
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
            if _unreachable(exc):
                raise  # smaller batches would only fail the same way
            if len(batch) == 1:
                reason = permanent_refusal(exc)
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


def _unreachable(exc: BaseException) -> bool:
    """The store could not be reached (refused, lost, timed out), as opposed to refusing
    some order of the batch. asyncpg's connection errors all carry "Connect" in the name of
    their class or of a base class (ConnectionDoesNotExistError, CannotConnectNowError)."""
    if isinstance(exc, OSError | TimeoutError):
        return True
    return any("Connect" in cls.__name__ for cls in type(exc).__mro__)


def _was_paid(doc: dict[str, Any]) -> bool:
    return any(h["status"] == "paid" for h in doc["history"])

"""Orders: claim all or nothing across events, pay (simulated), cancel, read.

The engine decides; `SaleStore` (Redis Lua scripts) executes atomically per event, and
`OrderArchive` (PostgreSQL) answers for what has been persisted. Claims, payments and
cancellations of orders on events on sale read nothing from PostgreSQL: the event of a ticket
type, the sale window and the waiting room's settings are hydrated into Redis. `CatalogueLookups`
(PostgreSQL) is asked only about what Redis does not have on sale: a ticket type no hydrated
event has, or an event that is not hydrated, to tell 404 from a refusal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn, Protocol

import msgspec

from engine import errors
from engine.admission import Admission
from engine.live_tickets import order_refs
from engine.moments import from_ms, to_ms
from engine.order_document import DocumentLine, DocumentStatusChange, OrderDocument, OrderStatus
from engine.order_ids import home_event_of, new_order_id
from engine.principal import Principal
from engine.rate_limits import retry_after_seconds

MAX_UNITS_PER_ORDER = 100
PAYMENT_GRACE_MS = 600_000
CANCEL_LEASE_MS = 30_000  # a cancellation spanning events holds its lease at most this long


class OrderLine(msgspec.Struct):
    event_id: int
    seat_id: int | None
    ticket_type_id: int | None
    label: str
    price_cents: int


class HistoryEntry(msgspec.Struct):
    status: OrderStatus
    at: datetime
    reason: str | None = None


class DeadLetterNote(msgspec.Struct):
    """PostgreSQL refused to record this order for good (engine/persistence.py): it stays
    as it is, no longer retried, for an operator to settle (refund, say)."""

    reason: str
    at: datetime


class Order(msgspec.Struct, omit_defaults=True):
    id: str
    customer_id: int
    status: OrderStatus
    items: list[OrderLine]
    total_cents: int
    expires_at: datetime
    created_at: datetime
    history: list[HistoryEntry]
    dead_letter: DeadLetterNote | None = None


class EventClaim(msgspec.Struct):
    """What one order asks of one event."""

    event_id: int
    seat_ids: list[int] = msgspec.field(default_factory=list)
    pools: dict[int, int] = msgspec.field(default_factory=dict)

    @property
    def units(self) -> int:
        return len(self.seat_ids) + sum(self.pools.values())


class ClaimOutcome(msgspec.Struct):
    ok: bool
    code: str | None = None
    detail: Any = None
    expires_ms: int = 0
    lines: list[OrderLine] = msgspec.field(default_factory=list)
    document: OrderDocument | None = None  # the new order, when this event is its home


class PayOutcome(msgspec.Struct):
    """A payment of an order kept in one event, made in one step: the paid order's document,
    or the refusal's code ('elsewhere': pay it step by step; 'not_found', 'invalid_state'
    with the order's status or 'paying', 'hold_expired', 'payment_declined')."""

    document: OrderDocument | None = None
    code: str | None = None
    detail: Any = None


class SaleStore(Protocol):
    async def claim(
        self,
        order_id: str,
        customer_id: int,
        claim: EventClaim,
        home: bool,
        requested: str,
        address: str = "",
    ) -> ClaimOutcome:
        """Claim in one event, after taking a token from the customer's and the address's
        claim buckets there (refused 'rate_limited', detail: ms to wait, when empty)."""

    async def add_lines(self, order_id: str, lines: list[OrderLine], expires_ms: int) -> None: ...

    async def order_document(self, order_id: str) -> OrderDocument | None: ...

    async def restore_document(self, order_id: str, document: OrderDocument) -> str: ...

    async def pay(self, order_id: str, customer_id: int, payment_ref: str | None) -> PayOutcome:
        """Pay an order kept in its home event only, in one step (lock, sell, mark paid, write
        the outbox; `payment_ref` None: the payment was declined, the order is released)."""

    async def pay_begin(self, event_id: int, order_id: str) -> str: ...

    async def confirm(self, event_id: int, order_id: str, payment_ref: str) -> str: ...

    async def release(
        self, event_id: int, order_id: str, mode: str, reason: str, refs: Sequence[str] = ()
    ) -> str:
        """lua/release.lua; `refs` ('cancel'): the order's tickets in this event."""

    async def void_tickets(self, event_id: int, order_id: str, refs: list[str]) -> str:
        """lua/void_tickets.lua 'void': the time voided at | 'tickets_used' | 'not_loaded'."""

    async def restore_tickets(
        self, event_id: int, order_id: str, voided_at: str, refs: list[str]
    ) -> str: ...

    async def load_tickets(self, event_id: int) -> bool:
        """Load a live event's ticket states from PostgreSQL (after a `not_loaded`); False
        if the event is not in Redis."""

    async def lease_cancel(self, order_id: str, ms: int) -> bool:
        """Take the order's cancel lease for `ms` (False if another cancel holds it)."""

    async def end_cancel(self, order_id: str) -> None: ...

    async def record_refusal(
        self, event_id: int, customer_id: int, code: str, requested: str
    ) -> None: ...

    async def is_hydrated(self, event_id: int) -> bool: ...

    async def events_of_ticket_types(self, ticket_type_ids: list[int]) -> dict[int, int]:
        """The event of each of these ticket types that belongs to a hydrated event."""
        ...


class CatalogueLookups(Protocol):
    async def event_of_ticket_type(self, ticket_type_id: int) -> int | None: ...

    async def event_exists(self, event_id: int) -> bool: ...


class OrderArchive(Protocol):
    async def order(self, order_id: str) -> Order | None: ...

    async def document(self, order_id: str) -> OrderDocument | None:
        """The order as a Redis order document (as lua/claim.lua and the scripts after it
        write it), from what PostgreSQL holds."""

    async def customer_orders(
        self, customer_id: int, limit: int, cursor: str | None
    ) -> tuple[list[Order], str | None]: ...


class PersistJobQueue(Protocol):
    async def persist_paid(self, order_id: str) -> None: ...


REFUSAL_ERRORS: dict[str, type[errors.PurchaseRefused]] = {
    cls.code: cls
    for cls in (
        errors.SeatUnavailable,
        errors.SoldOut,
        errors.LimitExceeded,
        errors.SaleNotOpen,
        errors.AdmissionRequired,
        errors.PaymentDeclined,
        errors.HoldExpired,
    )
}


def document_of(order: Order, payment_ref: str | None, paid_at: datetime | None) -> OrderDocument:
    """The Redis document of an order PostgreSQL holds, as lua/claim.lua and the scripts after
    it write one: the inverse of order_from_document."""
    home = str(home_event_of(order.id))
    return OrderDocument(
        id=order.id,
        customer_id=str(order.customer_id),
        status=order.status,
        items=[document_line(line) for line in order.items],
        total_cents=order.total_cents,
        expires_at=to_ms(order.expires_at),
        created_at=to_ms(order.created_at),
        events=list(dict.fromkeys([home, *(str(line.event_id) for line in order.items)])),
        history=[DocumentStatusChange(h.status, to_ms(h.at), h.reason) for h in order.history],
        payment_ref=payment_ref,
        paid_at=None if paid_at is None else to_ms(paid_at),
    )


def document_line(line: OrderLine) -> DocumentLine:
    return DocumentLine(
        event_id=str(line.event_id),
        seat_id=None if line.seat_id is None else str(line.seat_id),
        ticket_type_id=None if line.ticket_type_id is None else str(line.ticket_type_id),
        label=line.label,
        price_cents=line.price_cents,
    )


def order_line(item: DocumentLine) -> OrderLine:
    return OrderLine(
        event_id=int(item.event_id),
        seat_id=None if item.seat_id is None else int(item.seat_id),
        ticket_type_id=None if item.ticket_type_id is None else int(item.ticket_type_id),
        label=item.label,
        price_cents=item.price_cents,
    )


def order_from_document(doc: OrderDocument) -> Order:
    note = doc.dead_letter
    return Order(
        id=doc.id,
        customer_id=int(doc.customer_id),
        status=doc.status,
        items=[order_line(item) for item in doc.items],
        total_cents=doc.total_cents,
        expires_at=from_ms(doc.expires_at),
        created_at=from_ms(doc.created_at),
        history=[HistoryEntry(h.status, from_ms(h.at), h.reason) for h in doc.history],
        dead_letter=None if note is None else DeadLetterNote(note.reason, from_ms(note.at)),
    )


def refusal_error(outcome: ClaimOutcome) -> errors.BoxofficeError:
    if outcome.code == "rate_limited":
        return errors.TooManyAttempts(
            retry_after_seconds(int(outcome.detail)), "Too many orders; try again later"
        )
    if outcome.code == "unknown_seat":
        return errors.NotFound(f"No such seat in this event: {_ids(outcome.detail)}")
    if outcome.code == "unknown_ticket_type":
        return errors.NotFound(f"No such ticket type: {_ids(outcome.detail)}")
    if outcome.code == "order_exists":  # the same claim sent twice: the first one holds
        return errors.InvalidState(f"Order {outcome.detail} already holds in this event")
    cls = REFUSAL_ERRORS.get(outcome.code or "", errors.PurchaseRefused)
    if cls is errors.SeatUnavailable:
        return cls(f"Seats not available: {_ids(outcome.detail)}", seats=_int_ids(outcome.detail))
    if cls is errors.SoldOut:
        return cls(f"Not enough tickets left of type {_ids(outcome.detail)}")
    return cls(str(outcome.detail) if outcome.detail else None)


def pay_refusal(outcome: PayOutcome) -> errors.BoxofficeError:
    """The error of a payment lua/pay.lua refused, as the step-by-step path raises it."""
    if outcome.code == "rate_limited":
        return errors.TooManyAttempts(
            retry_after_seconds(int(outcome.detail)), "Too many payments; try again later"
        )
    if outcome.code == "not_found":
        return errors.NotFound("No such order")
    if outcome.code == "hold_expired":
        return errors.HoldExpired("The hold lapsed before payment; the tickets are back on sale")
    if outcome.code == "payment_declined":
        return errors.PaymentDeclined("The payment was declined; the tickets are back on sale")
    if outcome.code == "invalid_state" and outcome.detail == "paying":
        return errors.InvalidState("A payment for this order is already in progress")
    return errors.InvalidState(f"Order is {outcome.detail}")


def _ids(detail: Any) -> str:
    return ", ".join(str(x) for x in detail) if isinstance(detail, list) else str(detail)


def _int_ids(detail: Any) -> list[int]:
    return [int(x) for x in detail] if isinstance(detail, list) else []


class Orders:
    def __init__(
        self,
        store: SaleStore,
        lookups: CatalogueLookups,
        archive: OrderArchive,
        job_queue: PersistJobQueue,
        admission: Admission | None = None,
    ) -> None:
        self._store = store
        self._lookups = lookups
        self._archive = archive
        self._job_queue = job_queue
        self._admission = admission  # waiting rooms; None: no event has one

    async def group_by_event(
        self, seats: list[tuple[int, list[int]]], pools: list[tuple[int, int]]
    ) -> list[EventClaim]:
        """Claims per event, in event-id order so concurrent multi-event orders agree."""
        claims: dict[int, EventClaim] = {}
        for event_id, seat_ids in seats:
            claim = claims.setdefault(event_id, EventClaim(event_id))
            claim.seat_ids.extend(seat_ids)
        on_sale = await self._store.events_of_ticket_types([t for t, _ in pools]) if pools else {}
        for ticket_type_id, quantity in pools:
            pool_event = on_sale.get(ticket_type_id)
            if pool_event is None:  # of no event on sale: PostgreSQL tells 404 from a refusal
                pool_event = await self._lookups.event_of_ticket_type(ticket_type_id)
            if pool_event is None:
                raise errors.NotFound(f"No such ticket type: {ticket_type_id}")
            claim = claims.setdefault(pool_event, EventClaim(pool_event))
            claim.pools[ticket_type_id] = claim.pools.get(ticket_type_id, 0) + quantity
        check_claims(list(claims.values()))
        return [claims[event_id] for event_id in sorted(claims)]

    async def place(
        self,
        customer: Principal,
        claims: list[EventClaim],
        requested: str,
        admission_token: str | None = None,
        address: str = "",
    ) -> Order:
        """`address`: the client's, for the claim rate limit per address ("" none)."""
        if self._admission is None:
            return await self._claim_all(customer, claims, requested, address)
        events = [claim.event_id for claim in claims]
        gated = await self._admission.check(customer, events, admission_token, requested)
        order = await self._claim_all(customer, claims, requested, address)
        if gated:
            expires_ms = to_ms(order.expires_at)
            try:
                await self._admission.placed(customer, gated, order.id, expires_ms, requested)
            except errors.AdmissionRequired:
                # the shopping slot ended during the claim: the order never existed
                for claim in reversed(claims):
                    await self._store.release(
                        claim.event_id, order.id, "rollback", errors.AdmissionRequired.code
                    )
                raise
        return order

    async def _claim_all(
        self, customer: Principal, claims: list[EventClaim], requested: str, address: str
    ) -> Order:
        order_id = new_order_id(claims[0].event_id)
        taken: list[EventClaim] = []
        extra_lines: list[OrderLine] = []
        expires_ms = 0
        document: OrderDocument | None = None
        for index, claim in enumerate(claims):
            outcome = await self._store.claim(
                order_id, customer.user_id, claim, index == 0, requested, address
            )
            if not outcome.ok:
                for done in reversed(taken):
                    await self._store.release(
                        done.event_id, order_id, "rollback", outcome.code or "refused"
                    )
                if outcome.code == "sale_not_open" and not await self._known_event(claim):
                    raise errors.NotFound(f"No such event: {claim.event_id}")
                raise refusal_error(outcome)
            taken.append(claim)
            document = document or outcome.document
            if index > 0:
                extra_lines.extend(outcome.lines)
                expires_ms = min(expires_ms or outcome.expires_ms, outcome.expires_ms)
        if extra_lines:
            await self._store.add_lines(order_id, extra_lines, expires_ms)
        if extra_lines or document is None:
            return await self.get(customer, order_id)
        return order_from_document(document)

    async def _known_event(self, claim: EventClaim) -> bool:
        return await self._store.is_hydrated(claim.event_id) or await self._lookups.event_exists(
            claim.event_id
        )

    async def get(self, customer: Principal, order_id: str) -> Order:
        doc = await self._store.order_document(order_id)
        order = order_from_document(doc) if doc else await self._archive.order(order_id)
        if order is None or order.customer_id != customer.user_id:
            raise errors.NotFound("No such order")
        return order

    async def _document(self, customer: Principal, order_id: str) -> OrderDocument:
        home_event_of(order_id)
        doc = await self._store.order_document(order_id)
        if doc is not None and int(doc.customer_id) == customer.user_id:
            return doc
        archived = None if doc else await self._archive.document(order_id)
        if archived is not None and int(archived.customer_id) == customer.user_id:
            # after Redis lost its data, a completed order of an event still on sale goes
            # back into Redis (hydration restored what it bought): it can be cancelled again
            if archived.status == "completed" and (
                await self._store.restore_document(order_id, archived) != "gone"
            ):
                restored = await self._store.order_document(order_id)
                if restored is not None:
                    return restored
            raise errors.InvalidState("This order is archived and can no longer change")
        raise errors.NotFound("No such order")

    async def pay(self, customer: Principal, order_id: str, payment_token: str) -> Order:
        """Pay (simulated: a token starting `tok_decline` is declined). An order kept in one
        event is paid in one script call, batched with other payments of that event; an order
        spanning events (or not in Redis) takes the steps of `_pay_in_steps`. Either way the
        order is paid and in its event's outbox in one atomic step before the job is queued,
        so a process that dies after it loses no paid order (the sync loop queues it again).
        The customer's payments bucket is charged in that same script call (the store's rate,
        lua/pay.lua), whichever path the payment then takes."""
        home_event_of(order_id)
        declined = payment_token.startswith("tok_decline")
        payment_ref = None if declined else f"sim_{order_id}"
        outcome = await self._store.pay(order_id, customer.user_id, payment_ref)
        if outcome.document is not None:
            await self._job_queue.persist_paid(order_id)
            return order_from_document(outcome.document)
        if outcome.code == "elsewhere":
            return await self._pay_in_steps(customer, order_id, payment_token)
        raise pay_refusal(outcome)

    async def _pay_in_steps(self, customer: Principal, order_id: str, payment_token: str) -> Order:
        """An order spanning events: lock each event's part, then confirm each, home first."""
        doc = await self._document(customer, order_id)
        events = [int(e) for e in doc.events]
        if doc.status != "reserved":
            if hold_lapsed(doc):
                await self._refuse_lapsed(events, order_id, int(doc.customer_id))
            raise errors.InvalidState(f"Order is {doc.status}")
        home = home_event_of(order_id)
        locked: list[int] = []
        for event_id in events:
            result = await self._store.pay_begin(event_id, order_id)
            if result != "ok":
                await self._undo_payment(events, locked, order_id, result)
            locked.append(event_id)
        if payment_token.startswith("tok_decline"):
            for event_id in sorted(events, key=lambda e: e == home):
                await self._store.release(event_id, order_id, "decline", "payment_declined")
            await self._store.record_refusal(home, customer.user_id, "payment_declined", order_id)
            raise errors.PaymentDeclined("The payment was declined; the tickets are back on sale")
        payment_ref = f"sim_{order_id}"
        # the home confirm is the commit point: it marks the order paid and writes the outbox
        for event_id in sorted(events, key=lambda e: e != home):
            await self._store.confirm(event_id, order_id, payment_ref)
        await self._job_queue.persist_paid(order_id)
        order = await self.get(customer, order_id)
        if order.status == "cancelled":
            await self._finish_cancel(events, order_id)
        return order

    async def _finish_cancel(self, events: list[int], order_id: str) -> None:
        """A cancel that came between the home confirm and another event's found that part
        still being paid and left it, and the confirm then sold it: release it now."""
        home = home_event_of(order_id)
        for event_id in events:
            if event_id != home:
                await self._store.release(event_id, order_id, "cancel", "cancelled_by_customer")

    async def _undo_payment(
        self, events: list[int], locked: list[int], order_id: str, result: str
    ) -> NoReturn:
        """A part refused the payment lock: 'hold_expired' (it lapsed just now), 'missing' (it
        is gone: the order's document says why) or 'invalid_state:<state>'."""
        doc = await self._store.order_document(order_id)
        if result == "hold_expired" or (result == "missing" and doc and hold_lapsed(doc)):
            await self._refuse_lapsed(events, order_id, int(doc.customer_id) if doc else 0)
        for event_id in locked:  # give back the locks this attempt took
            await self._store.release(event_id, order_id, "expire", "hold_expired")
        if result == "missing":
            status = doc.status if doc else "gone"
            raise errors.InvalidState(f"Order is {status}")
        raise errors.InvalidState("A payment for this order is already in progress")

    async def _refuse_lapsed(self, events: list[int], order_id: str, customer_id: int) -> NoReturn:
        """410 for an order whose hold lapsed: whatever of it is still held goes back on sale
        (the sweep may have expired one event of it only), and the refusal is recorded."""
        home = home_event_of(order_id)
        for event_id in sorted(events, key=lambda e: e == home):
            await self._store.release(event_id, order_id, "expire", "hold_expired")
        await self._store.record_refusal(home, customer_id, "hold_expired", order_id)
        raise errors.HoldExpired("The hold lapsed before payment; the tickets are back on sale")

    async def cancel(self, customer: Principal, order_id: str) -> Order:
        """Cancel, refund (simulated) and void the tickets, unless one was used at the gate.

        In each event one script checks the tickets, voids them and releases the seats, so a
        scan racing it is either admitted (and the cancel refused) or void. An order that
        spans events is cancelled by one request at a time (a lease in its home event): it
        voids its tickets in the other events first (refused if one was used), then commits
        in its home event, then releases the other events' seats; if anything refuses, the
        tickets this attempt voided are valid again. The edge this leaves: a scan of such a
        ticket between its void and the undo answers void although the order stays valid (a
        second scan admits it), and offline scanners that synced the revoked list in that
        moment keep it until their next sync; a process that dies between the two leaves
        them void until the customer cancels again."""
        doc = await self._document(customer, order_id)
        home = home_event_of(order_id)
        items = doc.items
        others = [event_id for event_id in (int(e) for e in doc.events) if event_id != home]
        if not others:
            await self._commit_cancel(home, order_id, items)
            return await self.get(customer, order_id)
        if not await self._store.lease_cancel(order_id, CANCEL_LEASE_MS):
            raise errors.InvalidState("A cancellation of this order is already under way")
        try:
            voided: list[tuple[int, str]] = []
            try:
                for event_id in others:
                    refs = order_refs(order_id, items, event_id)
                    voided.append((event_id, await self._void_first(event_id, order_id, refs)))
                await self._commit_cancel(home, order_id, items)
            except Exception:
                for event_id, voided_at in voided:
                    refs = order_refs(order_id, items, event_id)
                    await self._store.restore_tickets(event_id, order_id, voided_at, refs)
                raise
            for event_id in others:
                await self._release_cancelled(event_id, order_id, items)
        finally:
            await self._store.end_cancel(order_id)
        return await self.get(customer, order_id)

    async def _commit_cancel(self, home: int, order_id: str, items: list[DocumentLine]) -> None:
        result = await self._release_cancelled(home, order_id, items)
        if result == "started":
            raise errors.InvalidState("The event has started; the order can no longer be cancelled")
        if result != "ok":
            raise errors.InvalidState(f"Order is {result.removeprefix('invalid_state:')}")

    async def _void_first(self, event_id: int, order_id: str, refs: list[str]) -> str:
        result = await self._store.void_tickets(event_id, order_id, refs)
        if result == "not_loaded" and await self._store.load_tickets(event_id):
            result = await self._store.void_tickets(event_id, order_id, refs)
        if result == "tickets_used":
            raise errors.TicketsUsed("A ticket of this order was admitted at the gate")
        return "" if result == "not_loaded" else result  # not live: nothing to give back

    async def _release_cancelled(
        self, event_id: int, order_id: str, items: list[DocumentLine]
    ) -> str:
        refs = order_refs(order_id, items, event_id)
        reason = "cancelled_by_customer"
        result = await self._store.release(event_id, order_id, "cancel", reason, refs)
        if result == "not_loaded":
            loaded = await self._store.load_tickets(event_id)
            result = await self._store.release(
                event_id, order_id, "cancel", reason, refs if loaded else ()
            )
        if result == "tickets_used":
            raise errors.TicketsUsed("A ticket of this order was admitted at the gate")
        return result

    async def history(
        self, customer: Principal, limit: int, cursor: str | None
    ) -> tuple[list[Order], str | None]:
        return await self._archive.customer_orders(customer.user_id, limit, cursor)


def hold_lapsed(doc: OrderDocument) -> bool:
    """Whether an order that cannot be paid lost its hold to time (410 hold_expired) rather
    than to another request (409 invalid_state). Called when the order is not `reserved`, or
    when a part of it is gone from one of its events. An order is `expired` only when its hold
    lapsed (the sweep or a pay found it so). A cancel moves the order to `cancelled` in its
    home event before it releases the other events, and a declined payment needs the home
    part locked; so an order still `reserved` whose part is gone lost that part to its
    event's sweep."""
    return doc.status in ("expired", "reserved")


def check_claims(claims: list[EventClaim]) -> None:
    units = sum(claim.units for claim in claims)
    if units == 0:
        raise errors.InvalidInput("An order needs at least one seat or ticket", field="items")
    if units > MAX_UNITS_PER_ORDER:
        raise errors.InvalidInput(f"At most {MAX_UNITS_PER_ORDER} tickets per order", field="items")
    for claim in claims:
        if len(set(claim.seat_ids)) != len(claim.seat_ids):
            raise errors.InvalidInput("A seat appears twice in the order", field="seat_ids")


def requested_items(claims: list[EventClaim]) -> str:
    by_event: dict[int, dict[str, Any]] = defaultdict(dict)
    for claim in claims:
        by_event[claim.event_id] = {"seat_ids": claim.seat_ids, "pools": claim.pools}
    return msgspec.json.encode(by_event).decode()

"""What a partner sees of its event's sales."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import msgspec

from engine.errors import NotFound
from engine.exports import ATTENDEE_COLUMNS, ORDER_COLUMNS, csv_chunks
from engine.hydration import Availability
from engine.orders import Order
from engine.principal import Principal


class SalesReport(msgspec.Struct):
    available: int
    held: int
    sold: int
    revenue_cents: int
    orders_by_status: dict[str, int]
    failures_by_reason: dict[str, int]
    checked_in: int


class Customer(msgspec.Struct):
    name: str
    email: str


class ReportStore(Protocol):
    async def owner_of(self, event_id: int) -> int | None: ...

    async def stored_availability(self, event_id: int) -> Availability: ...

    async def sales_figures(self, event_id: int) -> tuple[int, dict[str, int], dict[str, int], int]:
        """revenue_cents, orders_by_status, failures_by_reason, checked_in."""

    async def event_orders(
        self,
        event_id: int,
        limit: int,
        cursor: str | None,
        status: str | None = None,
        text: str | None = None,
    ) -> tuple[list[Order], str | None]:
        """Newest first; `status` exact, `text` an order id or part of the customer's name
        or e-mail."""

    async def event_order(self, event_id: int, order_id: str) -> Order | None:
        """The order with only its lines of this event; None if it has none."""

    async def customers(self, event_id: int, customer_ids: list[int]) -> dict[int, Customer]:
        """Name and e-mail of those among `customer_ids` who ordered from this event."""

    def order_rows(self, event_id: int) -> AsyncIterator[Sequence[Any]]:
        """exports.ORDER_COLUMNS of each order of the event, oldest first, from a cursor."""

    def attendee_rows(self, event_id: int) -> AsyncIterator[Sequence[Any]]:
        """exports.ATTENDEE_COLUMNS of each valid or used ticket, from a cursor."""


class LiveCounts(Protocol):
    async def counts(self, event_ids: list[int]) -> dict[int, Availability]: ...


class Reports:
    def __init__(self, store: ReportStore, live: LiveCounts) -> None:
        self._store = store
        self._live = live

    async def _check_owner(self, partner: Principal, event_id: int) -> None:
        if await self._store.owner_of(event_id) != partner.partner_id:
            raise NotFound("No such event")

    async def sales(self, partner: Principal, event_id: int) -> SalesReport:
        await self._check_owner(partner, event_id)
        live = (await self._live.counts([event_id])).get(event_id)
        counts = live or await self._store.stored_availability(event_id)
        revenue, by_status, failures, checked_in = await self._store.sales_figures(event_id)
        return SalesReport(
            available=counts.available,
            held=counts.held,
            sold=counts.sold,
            revenue_cents=revenue,
            orders_by_status=by_status,
            failures_by_reason=failures,
            checked_in=checked_in,
        )

    async def orders(
        self,
        partner: Principal,
        event_id: int,
        limit: int,
        cursor: str | None,
        status: str | None = None,
        text: str | None = None,
    ) -> tuple[list[Order], str | None]:
        await self._check_owner(partner, event_id)
        text = (text or "").strip() or None
        return await self._store.event_orders(event_id, limit, cursor, status, text)

    async def order(self, partner: Principal, event_id: int, order_id: str) -> Order:
        await self._check_owner(partner, event_id)
        order = await self._store.event_order(event_id, order_id)
        if order is None:
            raise NotFound("No such order in this event")
        return order

    async def customers(
        self, partner: Principal, event_id: int, customer_ids: list[int]
    ) -> dict[int, Customer]:
        await self._check_owner(partner, event_id)
        return await self._store.customers(event_id, customer_ids)

    async def orders_csv(self, partner: Principal, event_id: int) -> AsyncIterator[bytes]:
        """Checks the owner now (so a refusal is an answer, not a broken download), then
        streams."""
        await self._check_owner(partner, event_id)
        return csv_chunks(ORDER_COLUMNS, self._store.order_rows(event_id))

    async def attendees_csv(self, partner: Principal, event_id: int) -> AsyncIterator[bytes]:
        await self._check_owner(partner, event_id)
        return csv_chunks(ATTENDEE_COLUMNS, self._store.attendee_rows(event_id))

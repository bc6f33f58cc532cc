"""What a partner sees of its event's sales."""

from __future__ import annotations

from typing import Protocol

import msgspec

from engine.errors import NotFound
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


class ReportStore(Protocol):
    async def owner_of(self, event_id: int) -> int | None: ...

    async def stored_availability(self, event_id: int) -> Availability: ...

    async def sales_figures(self, event_id: int) -> tuple[int, dict[str, int], dict[str, int], int]:
        """revenue_cents, orders_by_status, failures_by_reason, checked_in."""

    async def event_orders(
        self, event_id: int, limit: int, cursor: str | None
    ) -> tuple[list[Order], str | None]: ...


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
        self, partner: Principal, event_id: int, limit: int, cursor: str | None
    ) -> tuple[list[Order], str | None]:
        await self._check_owner(partner, event_id)
        return await self._store.event_orders(event_id, limit, cursor)

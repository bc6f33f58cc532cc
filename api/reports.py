"""Partner reports: sales figures and the orders of an event."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get

from api.auth import AsPartner
from api.services import services_of
from api.types import Cursor, Limit, PathId
from engine.orders import Order
from engine.pagination import Page
from engine.reports import SalesReport


class ReportController(Controller):
    path = "/partner/events/{event_id:int}"
    tags = ["partner reports"]

    @get("/sales")
    async def sales(
        self, request: Request[Any, Any, Any], partner: AsPartner, event_id: PathId
    ) -> SalesReport:
        return await services_of(request.app).reports.sales(partner, event_id)

    @get("/orders")
    async def orders(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        event_id: PathId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[Order]:
        items, next_cursor = await services_of(request.app).reports.orders(
            partner, event_id, limit, cursor
        )
        return Page(items=items, next_cursor=next_cursor)


ROUTES: list[object] = [ReportController]

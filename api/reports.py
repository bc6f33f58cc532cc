"""Partner reports: sales figures and the orders of an event."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide

from api.auth import AsPartner
from api.types import Cursor, Limit, PathId
from engine.orders import Order
from engine.pagination import Page
from engine.reports import Reports, SalesReport
from engine.store.pg_reports import PgReportStore


def provide_reports(request: Request[Any, Any, Any]) -> Reports:
    resources = request.app.state.resources
    return Reports(PgReportStore(resources.pool, resources.order_store), resources.inventory)


ReportsDep = NamedDependency[Reports]


class ReportController(Controller):
    path = "/partner/events/{event_id:int}"
    dependencies = {"reports": Provide(provide_reports, sync_to_thread=False)}
    tags = ["partner reports"]

    @get("/sales")
    async def sales(self, partner: AsPartner, event_id: PathId, reports: ReportsDep) -> SalesReport:
        return await reports.sales(partner, event_id)

    @get("/orders")
    async def orders(
        self,
        partner: AsPartner,
        event_id: PathId,
        reports: ReportsDep,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[Order]:
        items, next_cursor = await reports.orders(partner, event_id, limit, cursor)
        return Page(items=items, next_cursor=next_cursor)


ROUTES: list[object] = [ReportController]

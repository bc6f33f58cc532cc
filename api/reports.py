"""Partner reports: sales figures and the orders of an event."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Stream

from api.auth import AsPartner
from api.services import services_of
from api.types import NO_NUL, Cursor, Limit, PathId
from engine.orders import Order
from engine.pagination import Page
from engine.reports import SalesReport

OrderStatusFilter = Annotated[
    Literal["reserved", "paid", "completed", "expired", "payment_failed", "cancelled"] | None,
    QueryParameter(),
]
OrderSearch = Annotated[
    str | None,
    QueryParameter(max_length=200, pattern=NO_NUL, description="order id, customer name or e-mail"),
]


def csv_download(chunks: Any, filename: str) -> Stream:
    """A CSV answer streamed chunk by chunk as the database cursor yields rows."""
    return Stream(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


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
        status: OrderStatusFilter = None,
        q: OrderSearch = None,
    ) -> Page[Order]:
        items, next_cursor = await services_of(request.app).reports.orders(
            partner, event_id, limit, cursor, status, q
        )
        return Page(items=items, next_cursor=next_cursor)

    @get("/orders.csv", media_type="text/csv")
    async def orders_csv(
        self, request: Request[Any, Any, Any], partner: AsPartner, event_id: PathId
    ) -> Stream:
        """Every order with lines of this event, oldest first, streamed."""
        chunks = await services_of(request.app).reports.orders_csv(partner, event_id)
        return csv_download(chunks, f"event-{event_id}-orders.csv")

    @get("/attendees.csv", media_type="text/csv")
    async def attendees_csv(
        self, request: Request[Any, Any, Any], partner: AsPartner, event_id: PathId
    ) -> Stream:
        """One row per valid or used ticket: label, holder, code, status, check-in time."""
        chunks = await services_of(request.app).reports.attendees_csv(partner, event_id)
        return csv_download(chunks, f"event-{event_id}-attendees.csv")


ROUTES: list[object] = [ReportController]

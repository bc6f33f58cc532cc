"""The panel's orders of an event: search and filter, one order's lines and history, and the
CSV exports (streamed from a database cursor, as GET /partner/events/{id}/orders.csv)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import PathParameter, QueryParameter
from litestar.response import Stream, Template

from api.reports import csv_download
from api.services import services_of
from api.types import PathId
from web.panel_common import event_page, owned_event, partner_of

STATUSES = ("reserved", "paid", "completed", "expired", "payment_failed", "cancelled")
PAGE = 50
Search = Annotated[str | None, QueryParameter(max_length=200)]
StatusFilter = Annotated[str | None, QueryParameter(max_length=20)]
Cursor = Annotated[str | None, QueryParameter(max_length=1000)]
OrderId = Annotated[str, PathParameter(max_length=100)]


class PanelOrderPages(Controller):
    path = "/panel/events/{event_id:int}"
    include_in_schema = False

    @get("/orders")
    async def orders(
        self,
        request: Request[Any, Any, Any],
        event_id: PathId,
        q: Search = None,
        status: StatusFilter = None,
        cursor: Cursor = None,
    ) -> Template:
        event = await owned_event(request, event_id)
        partner = await partner_of(request)
        reports = services_of(request.app).reports
        status = status if status in STATUSES else None
        text = (q or "").replace("\x00", "").strip() or None
        orders, next_cursor = await reports.orders(partner, event_id, PAGE, cursor, status, text)
        customers = await reports.customers(
            partner, event_id, sorted({order.customer_id for order in orders})
        )
        return await event_page(
            request,
            event,
            "panel/orders.html",
            "orders",
            orders=orders,
            customers=customers,
            statuses=STATUSES,
            status_filter=status,
            q=text or "",
            next_cursor=next_cursor,
        )

    @get("/orders/{order_id:str}")
    async def order(
        self, request: Request[Any, Any, Any], event_id: PathId, order_id: OrderId
    ) -> Template:
        event = await owned_event(request, event_id)
        partner = await partner_of(request)
        reports = services_of(request.app).reports
        found = await reports.order(partner, event_id, order_id)
        customers = await reports.customers(partner, event_id, [found.customer_id])
        return await event_page(
            request,
            event,
            "panel/order.html",
            "orders",
            order=found,
            customer=customers.get(found.customer_id),
        )

    @get("/orders.csv")
    async def orders_csv(self, request: Request[Any, Any, Any], event_id: PathId) -> Stream:
        partner = await partner_of(request)
        chunks = await services_of(request.app).reports.orders_csv(partner, event_id)
        return csv_download(chunks, f"event-{event_id}-orders.csv")

    @get("/attendees.csv")
    async def attendees_csv(self, request: Request[Any, Any, Any], event_id: PathId) -> Stream:
        partner = await partner_of(request)
        chunks = await services_of(request.app).reports.attendees_csv(partner, event_id)
        return csv_download(chunks, f"event-{event_id}-attendees.csv")

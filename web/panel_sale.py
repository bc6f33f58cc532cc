"""The panel's on-sale window: open it (or change it whole), and while it runs pause or
resume the waiting room, change its rate, or close the sale early. Each is the engine's
`Catalogue.open_sale` / `change_sale`, the operations behind PUT and PATCH
/events/{id}/sale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from api.events import SaleIn, SalePatch
from api.services import services_of
from api.types import PathId
from engine.catalogue import SaleChanges, SaleWindow, WaitingRoomChanges
from engine.errors import BoxofficeError, InvalidInput
from engine.principal import Principal
from web.forms import as_utc, convert, field_errors, form_fields
from web.panel_common import event_page, form_action, owned_event, partner_of
from web.panel_events import Done

SALE_FIELDS = ("starts_at", "ends_at", "hold_seconds", "max_tickets_per_customer")
ROOM_FIELDS = ("admit_per_minute", "max_active")


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def form_of(sale: SaleWindow | None) -> dict[str, str]:
    if sale is None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        return {
            "starts_at": _moment(now + timedelta(minutes=5)),
            "ends_at": _moment(now + timedelta(days=7)),
            "hold_seconds": "900",
            "max_tickets_per_customer": "10",
            "admit_per_minute": "",
            "max_active": "",
        }
    room = sale.waiting_room
    return {
        "starts_at": _moment(sale.starts_at),
        "ends_at": _moment(sale.ends_at),
        "hold_seconds": str(sale.hold_seconds),
        "max_tickets_per_customer": str(sale.max_tickets_per_customer),
        "room_enabled": "on" if room.enabled else "",
        "admit_per_minute": str(room.admit_per_minute or ""),
        "max_active": str(room.max_active or ""),
    }


def sale_body(fields: dict[str, str]) -> dict[str, Any]:
    """The form as the JSON body of PUT /events/{id}/sale."""
    body: dict[str, Any] = {name: fields[name] for name in SALE_FIELDS if fields.get(name)}
    as_utc(body, "starts_at", "ends_at")
    room: dict[str, Any] = {"enabled": fields.get("room_enabled") == "on"}
    room.update({name: fields[name] for name in ROOM_FIELDS if fields.get(name)})
    body["waiting_room"] = room
    return body


def _errors(exc: InvalidInput) -> dict[str, str]:
    return {name.removeprefix("waiting_room."): text for name, text in field_errors(exc).items()}


class PanelSalePages(Controller):
    path = "/panel/events/{event_id:int}/sale"
    include_in_schema = False

    async def _page(
        self,
        request: Request[Any, Any, Any],
        event_id: int,
        status: int = 200,
        done: str | None = None,
        form: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        error: str | None = None,
    ) -> Template:
        event = await owned_event(request, event_id)
        return await event_page(
            request,
            event,
            "panel/sale.html",
            "sale",
            status,
            done,
            form=form or form_of(event.sale),
            errors=errors or {},
            error=error,
            now=datetime.now(UTC),
        )

    @get("/")
    async def sale(
        self, request: Request[Any, Any, Any], event_id: PathId, done: Done = None
    ) -> Template:
        return await self._page(request, event_id, done=done)

    @post("/")
    async def open_sale(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        async def open_window(partner: Principal, fields: dict[str, str]) -> None:
            window = convert(sale_body(fields), SaleIn).window()
            await services_of(request.app).catalogue.open_sale(partner, event_id, window)

        async def refused(status: int, exc: BoxofficeError, fields: dict[str, str]) -> Template:
            errors = _errors(exc) if isinstance(exc, InvalidInput) else None
            return await self._page(
                request, event_id, status, form=fields, errors=errors, error=exc.detail
            )

        page = f"/panel/events/{event_id}/sale"
        return await form_action(request, open_window, page, "sale_opened", refused)

    async def _change(
        self, request: Request[Any, Any, Any], event_id: int, changes: SaleChanges, done: str
    ) -> Response[Any]:
        """A change to the running sale from one of its buttons. Not a form_action: there are
        no typed fields to show again, and every refusal is 409 with the window's own values
        in the form."""
        partner = await partner_of(request)
        try:
            await services_of(request.app).catalogue.change_sale(partner, event_id, changes)
        except BoxofficeError as exc:
            return await self._page(request, event_id, 409, error=exc.detail)
        return Redirect(f"/panel/events/{event_id}/sale?done={done}", status_code=303)

    @post("/pause")
    async def pause(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        room = WaitingRoomChanges(paused=True)
        return await self._change(request, event_id, SaleChanges(waiting_room=room), "paused")

    @post("/resume")
    async def resume(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        room = WaitingRoomChanges(paused=False)
        return await self._change(request, event_id, SaleChanges(waiting_room=room), "resumed")

    @post("/rate")
    async def rate(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        fields = await form_fields(request)
        room = {name: fields[name] for name in ROOM_FIELDS if fields.get(name)}
        try:
            changes = convert({"waiting_room": room}, SalePatch).changes()
        except InvalidInput as exc:
            return await self._page(request, event_id, 422, errors=_errors(exc), error=exc.detail)
        return await self._change(request, event_id, changes, "rate")

    @post("/close")
    async def close(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        """Ends the window now: claims are refused from this moment (the sale engine reads
        the new end); holds already made can still be paid until they lapse."""
        event = await owned_event(request, event_id)
        now = datetime.now(UTC)
        if event.sale is None or event.sale.starts_at >= now:
            return await self._page(
                request,
                event_id,
                409,
                error="The sale has not opened yet: change its dates instead of closing it.",
            )
        if event.sale.ends_at <= now:
            return await self._page(request, event_id, 409, error="The sale is already closed.")
        return await self._change(request, event_id, SaleChanges(ends_at=now), "closed")

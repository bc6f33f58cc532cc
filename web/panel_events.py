"""The panel's events: the list, create, edit, publish, cancel, delete or archive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from api.events import EventIn, EventPatch
from api.services import services_of
from api.types import PathId
from engine.catalogue import Event, EventChanges, EventQuery, NewEvent
from engine.errors import BoxofficeError, InvalidInput
from engine.pagination import Page
from engine.principal import Principal
from web.forms import as_utc, convert, field_errors, filled, form_fields
from web.notices import notice
from web.pages import render
from web.panel_common import (
    PHASE_LABELS,
    event_page,
    form_action,
    owned_event,
    partner_of,
    phase_of,
)

Done = Annotated[str | None, QueryParameter(max_length=40)]
Show = Annotated[str, QueryParameter(max_length=20)]
Cursor = Annotated[str | None, QueryParameter(max_length=1000)]
EVENT_FIELDS = (
    "name",
    "venue",
    "time_zone",
    "starts_at",
    "ends_at",
    "description",
    "cover_image_url",
)
SHOWS = ("all", "draft", "on_sale", "sale_upcoming", "published", "past", "cancelled", "archived")


def _event_form(fields: dict[str, str]) -> dict[str, Any]:
    wanted = {name: fields.get(name, "") for name in EVENT_FIELDS}
    as_utc(wanted, "starts_at", "ends_at")
    return wanted


def _form_of(event: Event) -> dict[str, str]:
    def moment(value: datetime | None) -> str:
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if value else ""

    return {
        "name": event.name,
        "venue": event.venue,
        "time_zone": event.time_zone or "",
        "description": event.description,
        "cover_image_url": event.cover_image_url or "",
        "starts_at": moment(event.starts_at),
        "ends_at": moment(event.ends_at),
    }


class PanelEventPages(Controller):
    path = "/panel"
    include_in_schema = False

    @get("/")
    async def events(
        self,
        request: Request[Any, Any, Any],
        show: Show = "all",
        cursor: Cursor = None,
        done: Done = None,
    ) -> Template:
        partner = await partner_of(request)
        show = show if show in SHOWS else "all"
        query = EventQuery(archived=show == "archived")
        page: Page[Event] = await services_of(request.app).catalogue.list_own_events(
            partner, query, 100, cursor
        )
        now = datetime.now(UTC)
        rows = [(event, phase_of(event, now)) for event in page.items]
        if show not in ("all", "archived"):
            rows = [(event, phase) for event, phase in rows if phase == show]
        return await render(
            request,
            "panel/events.html",
            rows=rows,
            show=show,
            shows=SHOWS,
            phase_labels=PHASE_LABELS,
            next_cursor=page.next_cursor,
            notice=notice(done),
        )

    @get("/events/new")
    async def new_event(self, request: Request[Any, Any, Any]) -> Template:
        await partner_of(request)
        return await render(request, "panel/event_form.html", form={}, errors={}, event=None)

    @post("/events")
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Not a form_action: the new event's page is known only from the engine's answer,
        and the form it draws again is not an event's page."""
        partner = await partner_of(request)
        fields = await form_fields(request)
        try:
            data = convert(filled(_event_form(fields)), EventIn)
            event = await services_of(request.app).catalogue.create(
                partner, NewEvent(**msgspec.structs.asdict(data))
            )
        except InvalidInput as exc:
            return await render(
                request,
                "panel/event_form.html",
                422,
                form=fields,
                errors=field_errors(exc),
                error=exc.detail,
                event=None,
            )
        return Redirect(f"/panel/events/{event.id}?done=created", status_code=303)

    @get("/events/{event_id:int}")
    async def event(
        self, request: Request[Any, Any, Any], event_id: PathId, done: Done = None
    ) -> Template:
        event = await owned_event(request, event_id)
        return await event_page(
            request,
            event,
            "panel/event.html",
            "overview",
            done=done,
            form=_form_of(event),
            errors={},
        )

    @post("/events/{event_id:int}")
    async def update(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        async def save(partner: Principal, fields: dict[str, str]) -> None:
            wanted = _event_form(fields)
            # an emptied optional box clears the field; the required ones must stay filled
            for name in ("ends_at", "cover_image_url", "time_zone"):
                if wanted[name] == "":
                    wanted[name] = None
            data = convert(wanted, EventPatch)
            await services_of(request.app).catalogue.update(
                partner, event_id, EventChanges(**msgspec.structs.asdict(data))
            )

        async def refused(status: int, exc: BoxofficeError, fields: dict[str, str]) -> Template:
            event = await owned_event(request, event_id)
            errors = field_errors(exc) if isinstance(exc, InvalidInput) else {}
            return await event_page(
                request,
                event,
                "panel/event.html",
                "overview",
                status,
                form=fields,
                errors=errors,
                error=exc.detail,
            )

        page = f"/panel/events/{event_id}"
        return await form_action(request, save, page, "saved", refused, (InvalidInput,))

    @post("/events/{event_id:int}/publish")
    async def publish(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        partner = await partner_of(request)
        await services_of(request.app).catalogue.publish(partner, event_id)
        return Redirect(f"/panel/events/{event_id}?done=published", status_code=303)

    @post("/events/{event_id:int}/cancel")
    async def cancel(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        partner = await partner_of(request)
        await services_of(request.app).catalogue.cancel(partner, event_id)
        return Redirect(f"/panel/events/{event_id}?done=cancelled", status_code=303)

    @post("/events/{event_id:int}/delete")
    async def delete(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        """Deletes an event nobody ordered from, archives one with orders (engine rule)."""
        partner = await partner_of(request)
        removal = await services_of(request.app).catalogue.delete(partner, event_id)
        return Redirect(f"/panel/?done={removal}", status_code=303)

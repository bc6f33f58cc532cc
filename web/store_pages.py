"""The storefront: the front page, an event's page, its seat map, the waiting room, and the
language switcher.

The seat map page draws the event's seats once (SVG) and its script asks
`/event/{id}/seat-status` every two seconds which seats are held or sold; that answer comes
from one Redis read a second per process however many pages ask (engine/seat_map.py). A
reservation is made by the page's script (`POST /event/{id}/reserve`, the CSRF token in a
header); behind a waiting room, the customer's admission token is the one the room holds for
them, so no token travels through the browser.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from api.bodies import decode_body
from api.problems import status_of
from api.services import services_of
from api.types import PathId
from engine import errors
from engine.catalogue import EventDetail
from engine.locales import NATIVE_NAMES, supported_tag
from engine.orders import requested_items
from engine.principal import Principal
from engine.storefront import sale_phase
from engine.waiting_room import QueueStatus
from web.forms import form_fields
from web.i18n import LANGUAGE_COOKIE
from web.safe_paths import local_path
from web.sessions import current_session, require
from web.store_view import draw, now, shop_page, words

Search = Annotated[str | None, QueryParameter(max_length=200)]
DateText = Annotated[str | None, QueryParameter(max_length=10)]
LANGUAGE_COOKIE_DAYS = 365
MAX_TYPES_IN_RESERVE = 50


class ReserveIn(msgspec.Struct, forbid_unknown_fields=True):
    seat_ids: Annotated[list[int], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    # ticket type id (as JSON keys are text) -> quantity
    ticket_types: dict[
        Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,18}$")],
        Annotated[int, msgspec.Meta(ge=0, le=100)],
    ] = msgspec.field(default_factory=dict)


def day_bounds(value: str | None, zone: str, end: bool) -> datetime | None:
    """A date field's day as the moment it starts (or, for `end`, the next day's start) in
    the shop's zone; a malformed date is ignored like an empty field."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))


def viewer(session: Any) -> Principal | None:
    return session.principal if session is not None else None


def refusal_body(request: Request[Any, Any, Any], exc: errors.BoxofficeError) -> dict[str, Any]:
    """What the seat page's script shows for a refused reservation, in the page's language."""
    texts = words(request)
    messages = {
        "seat_unavailable": texts.gettext(
            "Someone just took a seat you picked. The map is up to date again: pick another."
        ),
        "sold_out": texts.gettext("Not enough tickets of that type are left."),
        "limit_exceeded": texts.gettext("That is more tickets than one customer may buy."),
        "sale_not_open": texts.gettext("The sale is not open."),
        "admission_required": texts.gettext(
            "Your turn in the waiting room is over: you are taken back to the queue."
        ),
        "rate_limited": texts.gettext("Too many attempts: wait a moment and try again."),
    }
    return {
        "code": exc.code,
        "message": messages.get(exc.code, exc.detail),
        "seats": exc.extra.get("seats", []),
    }


class StorePages(Controller):
    include_in_schema = False

    @get("/")
    async def front(
        self,
        request: Request[Any, Any, Any],
        q: Search = None,
        from_date: Annotated[DateText, QueryParameter(name="from")] = None,
        to_date: Annotated[DateText, QueryParameter(name="to")] = None,
    ) -> Template:
        zone = services_of(request.app).resources.settings.time_zone
        shelves = await services_of(request.app).storefront.front_page(
            now(),
            text=q,
            starts_from=day_bounds(from_date, zone, end=False),
            starts_to=day_bounds(to_date, zone, end=True),
        )
        return await shop_page(
            request,
            "store/front.html",
            shelves=shelves,
            q=q or "",
            from_date=from_date or "",
            to_date=to_date or "",
            searched=bool(q or from_date or to_date),
        )

    @get("/event/{event_id:int}")
    async def event(self, request: Request[Any, Any, Any], event_id: PathId) -> Template:
        session = await current_session(request)
        detail = await services_of(request.app).catalogue.detail(viewer(session), event_id)
        return await shop_page(
            request, "store/event.html", event=detail, phase=sale_phase(detail, now())
        )

    @get("/event/{event_id:int}/seats")
    async def seats(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        session = await require(request, "customer")
        services = services_of(request.app)
        detail = await services.catalogue.detail(session.principal, event_id)
        if await _must_queue(request, session.principal, detail):
            return Redirect(f"/events/{event_id}/waiting-room", status_code=303)
        layout = await services.seat_maps.layout(session.principal, event_id)
        return await shop_page(
            request,
            "store/seats.html",
            event=detail,
            phase=sale_phase(detail, now()),
            drawing=draw(layout),
            layout=layout,
        )

    @get("/event/{event_id:int}/seat-status")
    async def seat_status(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        session = await current_session(request)
        statuses = await services_of(request.app).seat_maps.statuses(viewer(session), event_id)
        return Response(statuses)

    @post("/event/{event_id:int}/reserve", status_code=201)
    async def reserve(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        session = await require(request, "customer")
        body = decode_body(await request.body(), ReserveIn)  # 400 / 422 as the API answers
        orders = services_of(request.app).orders
        pools = [(int(t), n) for t, n in body.ticket_types.items() if n > 0]
        if not body.seat_ids and not pools:
            message = words(request).gettext("Pick at least one seat or ticket.")
            return Response({"code": "nothing_picked", "message": message}, status_code=422)
        try:
            seats = [(event_id, body.seat_ids)] if body.seat_ids else []
            claims = await orders.group_by_event(seats, pools[:MAX_TYPES_IN_RESERVE])
            if any(claim.event_id != event_id for claim in claims):
                raise errors.NotFound("No such ticket type in this event")
            token = await _admission_token(request, session.principal, event_id)
            address = request.client.host if request.client else ""
            order = await orders.place(
                session.principal, claims, requested_items(claims), token, address
            )
        except errors.BoxofficeError as exc:
            return Response(refusal_body(request, exc), status_code=status_of(exc))
        return Response(
            {"order_id": order.id, "checkout": f"/checkout/{order.id}"}, status_code=201
        )

    @get("/events/{event_id:int}/waiting-room")
    async def waiting_room(self, request: Request[Any, Any, Any], event_id: PathId) -> Template:
        session = await current_session(request)
        detail = await services_of(request.app).catalogue.detail(viewer(session), event_id)
        return await shop_page(
            request, "store/waiting_room.html", event=detail, phase=sale_phase(detail, now())
        )

    @post("/events/{event_id:int}/waiting-room/join", status_code=200)
    async def join_queue(self, request: Request[Any, Any, Any], event_id: PathId) -> QueueStatus:
        session = await require(request, "customer")
        address = request.client.host if request.client else "unknown"
        return _without_token(
            await services_of(request.app).waiting_room.join(session.principal, event_id, address)
        )

    @get("/events/{event_id:int}/waiting-room/status")
    async def queue_status(
        self, request: Request[Any, Any, Any], event_id: PathId
    ) -> Response[QueueStatus]:
        session = await require(request, "customer")
        status = await services_of(request.app).waiting_room.status(session.principal, event_id)
        return Response(_without_token(status))

    @post("/language", status_code=303)
    async def language(self, request: Request[Any, Any, Any]) -> Response[Any]:
        fields = await form_fields(request)
        chosen = supported_tag(fields.get("language"))
        response: Response[Any] = Redirect(local_path(fields.get("next")) or "/", status_code=303)
        if chosen is None or chosen not in NATIVE_NAMES:
            return response
        response.set_cookie(
            Cookie(
                key=LANGUAGE_COOKIE,
                value=chosen,
                max_age=LANGUAGE_COOKIE_DAYS * 86400,
                path="/",
                httponly=True,
                samesite="lax",
            )
        )
        session = await current_session(request)
        if session is not None:
            await services_of(request.app).accounts.set_locale(session.principal, chosen)
        return response


def _without_token(status: QueueStatus) -> QueueStatus:
    """The page needs the state, not the token: the server uses the room's own when the
    customer reserves, so the token never reaches a script."""
    return msgspec.structs.replace(status, admission_token=None)


async def _must_queue(
    request: Request[Any, Any, Any], customer: Principal, event: EventDetail
) -> bool:
    """Whether the event's waiting room has not admitted this customer (yet)."""
    room = services_of(request.app).waiting_room
    if event.sale is None or not await room.waiting_room_on(event.id):
        return False
    try:
        status = await room.status(customer, event.id)
    except errors.NotFound:
        return True
    return status.state != "admitted"


async def _admission_token(
    request: Request[Any, Any, Any], customer: Principal, event_id: int
) -> str | None:
    room = services_of(request.app).waiting_room
    if not await room.waiting_room_on(event_id):
        return None
    try:
        return (await room.status(customer, event_id)).admission_token
    except errors.NotFound:
        return None

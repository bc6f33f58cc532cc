"""What the panel's pages share: the partner behind the page, the event it is about, the
frame every page of one event is drawn in, and how a form's post becomes an engine call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from litestar import Request, Response
from litestar.response import Redirect, Template

from api.services import services_of
from engine.catalogue import Event, EventDetail
from engine.errors import BoxofficeError, InvalidInput, NotFound
from engine.principal import Principal
from web.forms import form_fields
from web.notices import notice
from web.pages import render
from web.sessions import require

Phase = Literal[
    "draft", "cancelled", "archived", "on_sale", "sale_upcoming", "sale_ended", "published", "past"
]
FormAction = Callable[[Principal, dict[str, str]], Awaitable[object]]
"""What a form asks of the engine, given the partner and the fields as posted."""
Refused = Callable[[int, BoxofficeError, dict[str, str]], Awaitable[Template]]
"""The form's page drawn again with a refusal: the status, the engine's error, the fields."""


async def partner_of(request: Request[Any, Any, Any]) -> Principal:
    return (await require(request, "partner")).principal


async def owned_event(request: Request[Any, Any, Any], event_id: int) -> EventDetail:
    """The signed-in partner's event with its ticket types and lineup; 404 for any other
    (as the API: another partner's event is not revealed)."""
    partner = await partner_of(request)
    event = await services_of(request.app).catalogue.detail(partner, event_id)
    if event.partner_id != partner.partner_id:
        raise NotFound("No such event")
    return event


def phase_of(event: Event, now: datetime | None = None) -> Phase:
    """Where an event stands, as the events list groups them."""
    now = now or datetime.now(UTC)
    if event.status in ("draft", "cancelled", "archived"):
        return event.status
    if (event.ends_at or event.starts_at) < now:
        return "past"
    sale = event.sale
    if sale is None:
        return "published"
    if now < sale.starts_at:
        return "sale_upcoming"
    if now < sale.ends_at:
        return "on_sale"
    return "sale_ended"


PHASE_LABELS: dict[str, str] = {
    "draft": "Draft",
    "cancelled": "Cancelled",
    "archived": "Archived",
    "on_sale": "On sale",
    "sale_upcoming": "Sale soon",
    "sale_ended": "Sale ended",
    "published": "Published",
    "past": "Past",
}


async def event_page(
    request: Request[Any, Any, Any],
    event: EventDetail,
    template: str,
    tab: str,
    status: int = 200,
    done: str | None = None,
    **context: Any,
) -> Template:
    """One of an event's panel pages: `template` with what the event's heading and tabs read
    (the event, its phase and the phase labels, the open `tab`) and the notice `done` names,
    plus the page's own `context`. The caller loads `event` (owned_event) first, so another
    partner's event is a 404 before the page reads anything else about it."""
    return await render(
        request,
        template,
        status,
        event=event,
        phase=phase_of(event),
        phase_labels=PHASE_LABELS,
        tab=tab,
        notice=notice(done),
        **context,
    )


def refusal_status(exc: BoxofficeError) -> int:
    """A refused form's status: 422 when the input is what to correct, 409 when the engine
    refuses what it would do to the event as it stands."""
    return 422 if isinstance(exc, InvalidInput) else 409


async def form_action(
    request: Request[Any, Any, Any],
    action: FormAction,
    page: str,
    done: str,
    refused: Refused,
    refusals: tuple[type[BoxofficeError], ...] = (BoxofficeError,),
) -> Response[Any]:
    """Run a panel form's post: `action` gets the signed-in partner and the submitted fields
    and makes the engine call. If the engine refuses with one of `refusals`, `refused` draws
    the form's page again with the error and the fields as typed, at `refusal_status`.
    Otherwise 303 to `page` with `?done=<done>`, so the page shows its notice and a reload
    does not post again. Refusals outside `refusals` go on to the pages' error handler."""
    partner = await partner_of(request)
    fields = await form_fields(request)
    try:
        await action(partner, fields)
    except refusals as exc:
        return await refused(refusal_status(exc), exc, fields)
    return Redirect(f"{page}?done={done}", status_code=303)

"""What the panel's pages share: the partner behind the page and the event it is about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from litestar import Request

from api.services import services_of
from engine.catalogue import Event, EventDetail
from engine.errors import NotFound
from engine.principal import Principal
from web.sessions import require

Phase = Literal[
    "draft", "cancelled", "archived", "on_sale", "sale_upcoming", "sale_ended", "published", "past"
]


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

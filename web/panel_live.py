"""The panel's live dashboard of an event: the page, and the figures its script polls every
two seconds (engine/dashboard.py: Redis counters each time, PostgreSQL's report at most every
few seconds per event)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from api.services import services_of
from api.types import PathId
from engine.dashboard import REPORT_EVERY_S, Snapshot
from web.panel_common import event_page, owned_event, partner_of

POLL_MS = 2000
WithHistory = Annotated[bool, QueryParameter()]


class PanelLivePages(Controller):
    path = "/panel/events/{event_id:int}"
    include_in_schema = False

    @get("/live")
    async def live(self, request: Request[Any, Any, Any], event_id: PathId) -> Template:
        event = await owned_event(request, event_id)
        return await event_page(
            request,
            event,
            "panel/live.html",
            "live",
            poll_ms=POLL_MS,
            report_every_s=int(REPORT_EVERY_S),
        )

    @get("/live.json")
    async def figures(
        self, request: Request[Any, Any, Any], event_id: PathId, history: WithHistory = False
    ) -> Snapshot:
        partner = await partner_of(request)
        return await services_of(request.app).dashboard.snapshot(partner, event_id, history)

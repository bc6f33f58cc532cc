"""The gate scanner (staff or partner): pick the event, then scan.

The page sends each code to `scan` (cookie session and CSRF token, like every page), which
is the engine's `Gate.validate`, the same as POST /tickets/validate. For offline use it
keeps what `offline.json` gives, the event's public gate keys and its revoked codes, and
checks codes' Ed25519 signatures in the browser (web/static/js/gate.js).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import JSONBody
from litestar.response import Template

from api.services import services_of
from api.tickets import Code, GateName
from api.types import PathId
from engine.catalogue import EventQuery
from engine.gate import PublicGateKey, Scan
from engine.principal import Role
from engine.ticket_codes import parse
from web.pages import render
from web.panel_common import phase_of
from web.sessions import require

REVOKED_PAGES = 50  # 10,000 revoked codes at most in the offline list
GATE_ROLES: tuple[Role, ...] = ("staff", "partner")


class GateScanIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    gate: GateName | None = None


class ScanAnswer(msgspec.Struct):
    """What the scanner shows: `result` admitted | already_used | void | invalid |
    wrong_event, the seat or ticket label, and for already_used the first scan's time."""

    result: str
    label: str | None = None
    used_at: datetime | None = None
    ticket_id: int | None = None


class OfflineData(msgspec.Struct):
    event_id: int
    keys: list[PublicGateKey]
    revoked: list[str]  # whole codes of cancelled tickets
    complete: bool  # False when the list stopped at REVOKED_PAGES pages
    fetched_at: datetime


def answer_of(scan: Scan) -> ScanAnswer:
    ticket = scan.ticket
    used_at = scan.used_at or (ticket.used_at if ticket and scan.result != "admitted" else None)
    return ScanAnswer(
        result=scan.result,
        label=ticket.label if ticket else None,
        used_at=used_at,
        ticket_id=ticket.id if ticket else None,
    )


class GatePages(Controller):
    path = "/gate"
    include_in_schema = False

    @get("/")
    async def events(self, request: Request[Any, Any, Any]) -> Template:
        principal = (await require(request, *GATE_ROLES)).principal
        page = await services_of(request.app).catalogue.list_own_events(
            principal, EventQuery(), 200, None
        )
        now = datetime.now(UTC)
        events = [
            event
            for event in page.items
            if phase_of(event, now) not in ("draft", "cancelled", "archived", "past")
        ]
        return await render(request, "gate/events.html", events=events)

    @get("/events/{event_id:int}")
    async def scanner(self, request: Request[Any, Any, Any], event_id: PathId) -> Template:
        principal = (await require(request, *GATE_ROLES)).principal
        services = services_of(request.app)
        await services.gate.gate_keys(principal, event_id)  # NotFound unless theirs
        event = await services.catalogue.detail(principal, event_id)
        return await render(request, "gate/scanner.html", event=event)

    @post("/events/{event_id:int}/scan", status_code=200)
    async def scan(
        self, request: Request[Any, Any, Any], event_id: PathId, data: JSONBody[GateScanIn]
    ) -> ScanAnswer:
        principal = (await require(request, *GATE_ROLES)).principal
        parsed = parse(data.code)
        if parsed is not None and parsed.event_id != event_id:
            return ScanAnswer(result="wrong_event")  # not admitted: a ticket for another night
        scan = await services_of(request.app).gate.validate(principal, data.code, data.gate)
        return answer_of(scan)

    @get("/events/{event_id:int}/offline.json")
    async def offline(self, request: Request[Any, Any, Any], event_id: PathId) -> OfflineData:
        principal = (await require(request, *GATE_ROLES)).principal
        gate = services_of(request.app).gate
        listing = await gate.gate_keys(principal, event_id)
        revoked: list[str] = []
        cursor: str | None = None
        for _ in range(REVOKED_PAGES):
            page = await gate.revoked(principal, event_id, None, 200, cursor)
            revoked.extend(code.code for code in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        return OfflineData(
            event_id=event_id,
            keys=listing.keys,
            revoked=revoked,
            complete=cursor is None,
            fetched_at=datetime.now(UTC),
        )

"""Tickets: a customer's tickets and QR images; the gate (validation, keys, revoked codes).

`POST /tickets/validate` is a hot path (`serve_validate`, served before routing, see
api/hot_paths.py): a staff or partner token with a well-formed body is validated and answered
without Litestar's routing, request parsing, dependency resolution and response building,
which cost several times the validation itself. Anything else goes on to the handler with the
body replayed, so those answers (401, 403, 422, ...) come from one place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import CacheControlHeader
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.auth import AsCustomer, AsGate, AsPartner
from api.bodies import decode_body
from api.hot_paths import ASGIApp, Receive, Scope, Send, authenticated, respond_json
from api.problems import PROBLEM_JSON, problem_fields
from api.services import services_of
from api.types import NO_NUL, Cursor, Limit, PathId, PathText
from engine.gate import EventGateKeys, RevokedCode, Scan
from engine.pagination import Page
from engine.tickets import OrderTickets

MAX_CODE_LENGTH = 1000  # genuine codes are about 180 digits; longer is refused as input
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CODE_LENGTH, pattern=NO_NUL)]
PathCode = Annotated[str, PathParameter(min_length=1, max_length=MAX_CODE_LENGTH)]
GateName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_NUL)]
Since = Annotated[datetime | None, QueryParameter(description="RFC 3339; naive means UTC")]

# result -> (status, code, title, detail) of the refusals, as problem+json plus `result`
REFUSALS = {
    "invalid": (404, "invalid_ticket", "Invalid ticket", "No genuine ticket has this code"),
    "already_used": (409, "already_used", "Ticket already used", "This ticket was scanned"),
    "void": (410, "ticket_void", "Ticket void", "This ticket was cancelled"),
}


class ValidateIn(msgspec.Struct):
    code: Code
    # a typed field (not Any) also refuses a deeply nested `gate` at its first bracket
    gate: GateName | None = None


def scan_answer(scan: Scan) -> tuple[int, dict[str, Any]]:
    """The status and body of a scan: problem+json fields plus `result` for refusals."""
    if scan.result == "admitted":
        return 200, {"result": "admitted", "ticket": scan.ticket}
    status, code, title, detail = REFUSALS[scan.result]
    body = problem_fields(status, code, title, detail, result=scan.result)
    if scan.result == "already_used":
        body["used_at"] = scan.used_at
        at = scan.used_at.isoformat() if scan.used_at else "an unknown time"
        body["detail"] = f"{detail} at {at}"
    if scan.ticket is not None:
        body["ticket_id"] = scan.ticket.id
    return status, body


def scan_response(scan: Scan) -> Response[Any]:
    status, body = scan_answer(scan)
    media_type = MediaType.JSON if status == 200 else PROBLEM_JSON
    return Response(body, status_code=status, media_type=media_type)


async def serve_validate(
    scope: Scope, receive: Receive, send: Send, pass_on: ASGIApp
) -> int | None:
    served = await authenticated(scope, receive, send, pass_on, ("staff", "partner"), _scan_of)
    if served is None:
        return None
    scanner, (code, gate) = served
    scanned = await services_of(scope["app"]).gate.validate(scanner, code, gate)
    return await respond_json(send, *scan_answer(scanned))


def _scan_of(body: bytes) -> tuple[str, str | None]:
    data = decode_body(body, ValidateIn)
    return data.code, data.gate


class TicketController(Controller):
    tags = ["tickets"]

    # ticket codes admit their holder: no cache keeps them
    @get("/orders/{order_id:str}/tickets", cache_control=CacheControlHeader(no_store=True))
    async def order_tickets(
        self, request: Request[Any, Any, Any], customer: AsCustomer, order_id: PathText
    ) -> OrderTickets:
        return await services_of(request.app).tickets.of_order(customer, order_id)

    @get(
        "/orders/{order_id:str}/ticket",
        include_in_schema=False,
        cache_control=CacheControlHeader(no_store=True),
    )
    async def order_ticket(
        self, request: Request[Any, Any, Any], customer: AsCustomer, order_id: PathText
    ) -> OrderTickets:
        return await services_of(request.app).tickets.of_order(customer, order_id)

    @get("/tickets/{ticket_id:int}/qr.png", media_type="image/png")
    async def qr_png(
        self, request: Request[Any, Any, Any], customer: AsCustomer, ticket_id: PathId
    ) -> Response[bytes]:
        png = await services_of(request.app).tickets.qr_png(customer, ticket_id)
        return Response(
            png, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"}
        )


class GateController(Controller):
    tags = ["check-in"]

    # serve_validate serves the common case of this route first; this handler the rest
    @post("/tickets/validate", status_code=200)
    async def validate(
        self, request: Request[Any, Any, Any], gate: AsGate, data: JSONBody[ValidateIn]
    ) -> Response[Any]:
        scanned = await services_of(request.app).gate.validate(gate, data.code, data.gate)
        return scan_response(scanned)

    @post("/tickets/{code:str}/validate", status_code=200)
    async def validate_in_path(
        self, request: Request[Any, Any, Any], gate: AsGate, code: PathCode
    ) -> Response[Any]:
        return scan_response(await services_of(request.app).gate.validate(gate, code, None))

    @get("/events/{event_id:int}/gate-keys")
    async def gate_keys(
        self, request: Request[Any, Any, Any], gate: AsGate, event_id: PathId
    ) -> EventGateKeys:
        return await services_of(request.app).gate.gate_keys(gate, event_id)

    @post("/events/{event_id:int}/gate-keys/rotate", status_code=201)
    async def rotate_gate_keys(
        self, request: Request[Any, Any, Any], partner: AsPartner, event_id: PathId
    ) -> EventGateKeys:
        return await services_of(request.app).gate.rotate_keys(partner, event_id)

    @get("/events/{event_id:int}/revoked")
    async def revoked(
        self,
        request: Request[Any, Any, Any],
        gate: AsGate,
        event_id: PathId,
        since: Since = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[RevokedCode]:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return await services_of(request.app).gate.revoked(gate, event_id, since, limit, cursor)


ROUTES: list[object] = [TicketController, GateController]

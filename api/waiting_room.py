"""Virtual waiting room: join and poll (the page customers watch is web/store_pages.py).

Polling is the waiting room's hot path (every queued customer asks every few seconds), so
`serve_queue`, served before routing (api/hot_paths.py), answers a customer's join or poll
with a valid token without Litestar's routing, request parsing, dependency resolution and
response building. Anything else (no token, another role) goes on to the handlers, so those
answers come from one place; domain errors use the same problem+json.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post

from api.auth import AsCustomer
from api.hot_paths import (
    UNSERVED,
    ASGIApp,
    Receive,
    Scope,
    Send,
    caller,
    read_body,
    respond_error,
    respond_json,
)
from api.services import services_of
from api.types import PathId
from engine.errors import BoxofficeError
from engine.waiting_room import QueueStatus

# a poll may be answered from a cache for a second: the page polls every few seconds anyway
STATUS_HEADERS = {"Cache-Control": "private, max-age=1", "Vary": "Authorization"}
# ...but one that carries an admission token is kept by no cache
ADMITTED_HEADERS = {"Cache-Control": "no-store", "Vary": "Authorization"}
_RAW_STATUS_HEADERS = [(k.lower().encode(), v.encode()) for k, v in STATUS_HEADERS.items()]
_RAW_ADMITTED_HEADERS = [(k.lower().encode(), v.encode()) for k, v in ADMITTED_HEADERS.items()]


_CUSTOMER = ("customer",)


def headers_of(status: QueueStatus) -> dict[str, str]:
    return STATUS_HEADERS if status.admission_token is None else ADMITTED_HEADERS


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


async def serve_queue(scope: Scope, receive: Receive, send: Send, pass_on: ASGIApp) -> int | None:
    try:
        principal = caller(scope, dict(scope["headers"]).get(b"authorization"), _CUSTOMER)
    except UNSERVED:
        principal = None
    if principal is None:
        await pass_on(scope, receive, send)
        return None
    room = services_of(scope["app"]).waiting_room
    event_id = scope["path_params"]["event_id"]
    try:
        if scope["method"] == "POST":
            await read_body(receive)
            client = scope.get("client")
            status = await room.join(principal, event_id, client[0] if client else "unknown")
        else:
            status = await room.status(principal, event_id)
    except BoxofficeError as exc:
        return await respond_error(send, exc)
    raw = _RAW_STATUS_HEADERS if status.admission_token is None else _RAW_ADMITTED_HEADERS
    return await respond_json(send, 200, status, raw)


class QueueController(Controller):
    path = "/events/{event_id:int}"
    tags = ["waiting room"]

    # serve_queue serves customers' joins and polls first; these handlers the rest
    @post("/queue", status_code=200)
    async def join(
        self, request: Request[Any, Any, Any], customer: AsCustomer, event_id: PathId
    ) -> Response[QueueStatus]:
        room = services_of(request.app).waiting_room
        status = await room.join(customer, event_id, client_address(request))
        return Response(status, headers=headers_of(status))

    @get("/queue")
    async def status(
        self, request: Request[Any, Any, Any], customer: AsCustomer, event_id: PathId
    ) -> Response[QueueStatus]:
        status = await services_of(request.app).waiting_room.status(customer, event_id)
        return Response(status, headers=headers_of(status))


ROUTES: list[object] = [QueueController]

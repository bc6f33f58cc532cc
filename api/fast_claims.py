"""The claim hot path: a customer's `POST /orders`, served before routing (api/hot_paths.py).

For a customer's request with a valid token, a well-formed body and no Idempotency-Key, it
calls the engine directly and writes the response itself. Everything else (missing or bad
token, a body the schema refuses, idempotent requests) is passed on to the documented handler
with the body replayed, so those answers come from one place. Domain errors use the same
problem+json mapping.
"""

from __future__ import annotations

import msgspec

from api.bodies import decode_body
from api.hot_paths import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    authenticated,
    problem_body,
    respond,
    retry_after_header,
)
from api.orders import OrderIn, split_items
from api.problems import PROBLEM_JSON, status_of
from api.services import services_of
from engine.errors import BoxofficeError
from engine.orders import requested_items

_encode = msgspec.json.Encoder().encode
_JSON = b"application/json"
_PROBLEM = PROBLEM_JSON.encode()


async def serve_claim(scope: Scope, receive: Receive, send: Send, pass_on: ASGIApp) -> int | None:
    headers = dict(scope["headers"])
    if any(name.lower() == b"idempotency-key" for name in headers):  # keys live in the handler
        await pass_on(scope, receive, send)
        return None
    served = await authenticated(scope, receive, send, pass_on, ("customer",), _items)
    if served is None:
        return None
    customer, (seats, pools) = served
    orders = services_of(scope["app"]).orders
    try:
        claims = await orders.group_by_event(seats, pools)
        admission = headers.get(b"x-admission-token")
        ticket = admission.decode("latin-1") if admission is not None else None
        client = scope.get("client")
        address = client[0] if client else ""
        order = await orders.place(customer, claims, requested_items(claims), ticket, address)
    except BoxofficeError as exc:
        return await respond(
            send, status_of(exc), problem_body(exc), _PROBLEM, retry_after_header(exc)
        )
    return await respond(send, 201, _encode(order), _JSON)


def _items(body: bytes) -> tuple[list[tuple[int, list[int]]], list[tuple[int, int]]]:
    return split_items(decode_body(body, OrderIn).items)

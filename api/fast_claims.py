"""The claim hot path: POST /orders without Litestar's per-request machinery.

A route middleware on the documented `POST /orders` handler. For a customer's request with a
valid token and a well-formed body and no Idempotency-Key, it calls the engine directly and
writes the response itself, skipping request parsing, dependency resolution and response
building, which cost more than the claim. Everything else (missing or bad token, a body the
schema refuses, idempotent requests) goes to the handler with the body replayed, so those
answers come from one place. Domain errors use the same problem+json mapping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from api.orders import OrderIn, split_items
from api.problems import PROBLEM_JSON, status_of
from engine.errors import AuthenticationRequired, BoxofficeError
from engine.orders import Orders, requested_items
from engine.tokens import read_access_token

# plain ASGI, typed loosely: this module speaks the protocol directly
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_decode_order = msgspec.json.Decoder(OrderIn).decode
_encode = msgspec.json.Encoder().encode


class FastClaims:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        token = headers.get(b"authorization", b"")
        if (
            scope["method"] != "POST"
            or b"idempotency-key" in headers
            or not token.startswith(b"Bearer ")
        ):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        state = scope["app"].state
        try:
            principal = read_access_token(token[7:].decode(), state.resources.settings.jwt_secret)
            data = _decode_order(body)
            seats, pools = split_items(data.items)
        except (
            AuthenticationRequired,
            msgspec.DecodeError,
            msgspec.ValidationError,
            BoxofficeError,
            UnicodeDecodeError,
        ):
            principal = None
        if principal is None or principal.role != "customer":
            await self.app(scope, _replay(body), send)
            return
        orders: Orders = state.orders
        try:
            claims = await orders.group_by_event(seats, pools)
            admission = headers.get(b"x-admission-token")
            token = admission.decode("latin-1") if admission is not None else None
            order = await orders.place(principal, claims, requested_items(claims), token)
        except BoxofficeError as exc:
            await _send(send, status_of(exc), _problem(exc), PROBLEM_JSON)
            return
        await _send(send, 201, _encode(order), "application/json")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _problem(exc: BoxofficeError) -> bytes:
    extra: dict[str, Any] = {k: v for k, v in exc.extra.items() if k != "retry_after"}
    return _encode(
        {
            "type": f"https://boxoffice.dev/problems/{exc.code}",
            "title": exc.title,
            "status": status_of(exc),
            "detail": exc.detail,
            "code": exc.code,
            **extra,
        }
    )


async def _send(send: Send, status: int, body: bytes, media_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""Orders: reserve, pay, cancel, read.

Claims (`POST /orders`) and payments (`POST /orders/{id}/pay`) are hot paths: `serve_claim`
and `serve_pay`, served before routing (see api/hot_paths.py), answer a customer's request
with a valid token, a well-formed body and no Idempotency-Key by calling the engine directly
and writing the response itself. Everything
else (missing or bad token, a body the schema refuses, idempotent requests) is passed on to
the documented handler with the body replayed, so those answers come from one place; domain
errors use the same problem+json.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody

from api.auth import AsCustomer
from api.bodies import decode_body
from api.hot_paths import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    authenticated,
    respond_error,
    respond_json,
)
from api.idempotency import idempotent
from api.services import services_of
from api.types import Cursor, Id, Limit, PathText
from engine import errors
from engine.orders import Order, requested_items
from engine.pagination import Page

Qty = Annotated[int, msgspec.Meta(ge=1, le=100)]
SeatIds = Annotated[list[Id], msgspec.Meta(min_length=1, max_length=100)]


class OrderItemIn(msgspec.Struct, forbid_unknown_fields=True):
    """Either `{event_id, seat_ids}` or `{ticket_type_id, quantity}`."""

    event_id: Id | None = None
    seat_ids: SeatIds | None = None
    ticket_type_id: Id | None = None
    quantity: Qty | None = None


class OrderIn(msgspec.Struct):
    items: Annotated[list[OrderItemIn], msgspec.Meta(min_length=1, max_length=100)]


class PayIn(msgspec.Struct):
    payment_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


def split_items(
    items: list[OrderItemIn],
) -> tuple[list[tuple[int, list[int]]], list[tuple[int, int]]]:
    seats, pools = [], []
    for index, item in enumerate(items):
        if item.event_id is not None and item.seat_ids and item.ticket_type_id is None:
            seats.append((item.event_id, list(item.seat_ids)))
        elif item.ticket_type_id is not None and item.quantity and item.event_id is None:
            pools.append((item.ticket_type_id, item.quantity))
        else:
            raise errors.InvalidInput(
                f"items[{index}] must be {{event_id, seat_ids}} or {{ticket_type_id, quantity}}",
                field=f"items[{index}]",
            )
    return seats, pools


_CUSTOMER = ("customer",)


async def serve_claim(scope: Scope, receive: Receive, send: Send, pass_on: ASGIApp) -> int | None:
    headers = dict(scope["headers"])
    if any(name.lower() == b"idempotency-key" for name in headers):  # keys live in the handler
        await pass_on(scope, receive, send)
        return None
    served = await authenticated(scope, receive, send, pass_on, _CUSTOMER, claimed_items)
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
    except errors.BoxofficeError as exc:
        return await respond_error(send, exc)
    return await respond_json(send, 201, order)


def claimed_items(body: bytes) -> tuple[list[tuple[int, list[int]]], list[tuple[int, int]]]:
    """The seats and pools a claim's body asks for, as `serve_claim` reads it."""
    return split_items(decode_body(body, OrderIn).items)


async def serve_pay(scope: Scope, receive: Receive, send: Send, pass_on: ASGIApp) -> int | None:
    if any(name.lower() == b"idempotency-key" for name, _ in scope["headers"]):
        await pass_on(scope, receive, send)
        return None
    served = await authenticated(scope, receive, send, pass_on, _CUSTOMER, _payment_token)
    if served is None:
        return None
    customer, payment_token = served
    orders = services_of(scope["app"]).orders
    try:
        order = await orders.pay(customer, scope["path_params"]["order_id"], payment_token)
    except errors.BoxofficeError as exc:
        return await respond_error(send, exc)
    return await respond_json(send, 202, order)


def _payment_token(body: bytes) -> str:
    return decode_body(body, PayIn).payment_token


class OrderController(Controller):
    tags = ["orders"]

    # serve_claim serves the common case of this route first; this handler the rest
    @post("/orders", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        customer: AsCustomer,
        data: JSONBody[OrderIn],
    ) -> Response[Any]:
        orders = services_of(request.app).orders

        async def place() -> Order:
            claims = await orders.group_by_event(*split_items(data.items))
            token = request.headers.get("x-admission-token")
            address = request.client.host if request.client else ""
            return await orders.place(customer, claims, requested_items(claims), token, address)

        return await idempotent(request, customer.user_id, 201, place)

    @get("/orders/{order_id:str}")
    async def read(
        self, request: Request[Any, Any, Any], customer: AsCustomer, order_id: PathText
    ) -> Order:
        return await services_of(request.app).orders.get(customer, order_id)

    @post("/orders/{order_id:str}/pay", status_code=202)
    async def pay(
        self,
        request: Request[Any, Any, Any],
        customer: AsCustomer,
        order_id: PathText,
        data: JSONBody[PayIn],
    ) -> Response[Any]:
        orders = services_of(request.app).orders
        return await idempotent(
            request,
            customer.user_id,
            202,
            lambda: orders.pay(customer, order_id, data.payment_token),
        )

    @post("/orders/{order_id:str}/cancel", status_code=200)
    async def cancel(
        self, request: Request[Any, Any, Any], customer: AsCustomer, order_id: PathText
    ) -> Order:
        return await services_of(request.app).orders.cancel(customer, order_id)

    @get("/me/orders")
    async def history(
        self,
        request: Request[Any, Any, Any],
        customer: AsCustomer,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[Order]:
        items, next_cursor = await services_of(request.app).orders.history(customer, limit, cursor)
        return Page(items=items, next_cursor=next_cursor)


ROUTES: list[object] = [OrderController]

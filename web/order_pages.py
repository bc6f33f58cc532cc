"""Checkout and the customer's account: pay a reservation with the simulated card form, follow
the order from paid to completed, see every order with its history, show and print tickets
with their QR codes, cancel.

Every page here is the signed-in customer's own: another customer's order or ticket is 404,
as in the API. QR images are served by the session cookie (`/account/tickets/{id}/qr.png`),
so an `<img>` shows them with no token in the page.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from api.services import services_of
from api.types import Cursor, PathId, PathText
from engine import errors
from engine.orders import Order
from engine.simulated_cards import DECLINE_CARD, SUCCESS_CARD, payment_token
from engine.tickets import OrderTickets
from web.forms import form_fields
from web.sessions import require
from web.store_view import now, shop_page, words

ORDERS_PER_PAGE = 20
Flag = Annotated[bool, QueryParameter()]


def card_groups(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


TEST_CARDS = {"success": card_groups(SUCCESS_CARD), "decline": card_groups(DECLINE_CARD)}


def event_ids(order: Order) -> list[int]:
    return sorted({line.event_id for line in order.items})


class OrderPages(Controller):
    include_in_schema = False

    @get("/checkout/{order_id:str}")
    async def checkout(self, request: Request[Any, Any, Any], order_id: PathText) -> Response[Any]:
        session = await require(request, "customer")
        order = await services_of(request.app).orders.get(session.principal, order_id)
        if order.status != "reserved":
            return Redirect(f"/account/orders/{order_id}", status_code=303)
        return await self._checkout_page(request, order)

    @post("/checkout/{order_id:str}/pay")
    async def pay(self, request: Request[Any, Any, Any], order_id: PathText) -> Response[Any]:
        session = await require(request, "customer")
        orders = services_of(request.app).orders
        fields = await form_fields(request)
        texts = words(request)
        try:
            token = payment_token(
                fields.get("card_number", ""),
                fields.get("expiry", ""),
                fields.get("security_code", ""),
                now().date(),
            )
        except errors.InvalidInput as exc:
            order = await orders.get(session.principal, order_id)
            field = str(exc.extra.get("field", ""))
            shown = {
                "card_number": texts.gettext("This card number is not valid."),
                "expiry": texts.gettext("Write a month and year that have not passed, as MM/YY."),
                "security_code": texts.gettext("The security code has 3 or 4 digits."),
            }
            return await self._checkout_page(
                request, order, 422, form=fields, errors={field: shown.get(field, exc.detail)}
            )
        try:
            await orders.pay(session.principal, order_id, token)
        except errors.PaymentDeclined:
            order = await orders.get(session.principal, order_id)
            return await shop_page(request, "store/declined.html", 402, order=order)
        except errors.HoldExpired:
            order = await orders.get(session.principal, order_id)
            return await shop_page(request, "store/declined.html", 410, order=order, lapsed=True)
        return Redirect(f"/account/orders/{order_id}?paid=1", status_code=303)

    @get("/account/")
    async def account(self, request: Request[Any, Any, Any], cursor: Cursor = None) -> Template:
        session = await require(request, "customer")
        services = services_of(request.app)
        orders, next_cursor = await services.orders.history(
            session.principal, ORDERS_PER_PAGE, cursor
        )
        named = [event_id for order in orders for event_id in event_ids(order)]
        return await shop_page(
            request,
            "store/account.html",
            orders=orders,
            next_cursor=next_cursor,
            events=await services.catalogue.of_orders(named),
        )

    @get("/account/orders/{order_id:str}")
    async def order(
        self,
        request: Request[Any, Any, Any],
        order_id: PathText,
        paid: Flag = False,
        cancelled: Flag = False,
    ) -> Template:
        session = await require(request, "customer")
        services = services_of(request.app)
        order = await services.orders.get(session.principal, order_id)
        tickets = await services.tickets.of_order(session.principal, order_id)
        return await shop_page(
            request,
            "store/order.html",
            order=order,
            tickets=tickets,
            events=await services.catalogue.of_orders(event_ids(order)),
            just_paid=paid,
            just_cancelled=cancelled,
        )

    @get("/account/orders/{order_id:str}/status")
    async def order_status(
        self, request: Request[Any, Any, Any], order_id: PathText
    ) -> Response[dict[str, Any]]:
        session = await require(request, "customer")
        order = await services_of(request.app).orders.get(session.principal, order_id)
        return Response({"status": order.status, "history": [h.status for h in order.history]})

    @get("/account/orders/{order_id:str}/print")
    async def print_tickets(self, request: Request[Any, Any, Any], order_id: PathText) -> Template:
        session = await require(request, "customer")
        services = services_of(request.app)
        order = await services.orders.get(session.principal, order_id)
        tickets: OrderTickets = await services.tickets.of_order(session.principal, order_id)
        events = await services.catalogue.of_orders(event_ids(order))
        return await shop_page(
            request, "store/print.html", order=order, tickets=tickets, events=events
        )

    @post("/account/orders/{order_id:str}/cancel")
    async def cancel(self, request: Request[Any, Any, Any], order_id: PathText) -> Response[Any]:
        session = await require(request, "customer")
        services = services_of(request.app)
        try:
            await services.orders.cancel(session.principal, order_id)
        except (errors.TicketsUsed, errors.InvalidState) as exc:
            order = await services.orders.get(session.principal, order_id)
            tickets = await services.tickets.of_order(session.principal, order_id)
            texts = words(request)
            message = (
                texts.gettext(
                    "A ticket of this order was already used at the gate, so the order can no "
                    "longer be cancelled."
                )
                if isinstance(exc, errors.TicketsUsed)
                else texts.gettext("This order can no longer be cancelled.")
            )
            events = await services.catalogue.of_orders(event_ids(order))
            return await shop_page(
                request,
                "store/order.html",
                409,
                order=order,
                tickets=tickets,
                events=events,
                error=message,
            )
        return Redirect(f"/account/orders/{order_id}?cancelled=1", status_code=303)

    @get("/account/tickets/{ticket_id:int}/qr.png")
    async def qr(self, request: Request[Any, Any, Any], ticket_id: PathId) -> Response[bytes]:
        session = await require(request, "customer")
        png = await services_of(request.app).tickets.qr_png(session.principal, ticket_id)
        # kept by no cache (the pages' router says no-store): the image admits its holder
        return Response(png, media_type="image/png")

    async def _checkout_page(
        self,
        request: Request[Any, Any, Any],
        order: Order,
        status: int = 200,
        form: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
    ) -> Template:
        return await shop_page(
            request,
            "store/checkout.html",
            status,
            order=order,
            form=form or {},
            errors=errors or {},
            test_cards=TEST_CARDS,
            events=event_ids(order),
        )

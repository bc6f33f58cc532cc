"""A customer's tickets: the tickets of an order and each ticket's QR image.

Tickets exist once a worker has completed the order (engine/persistence.py mints their codes);
until then an order shows none. A QR image is rendered once, by the mail worker right after
completion or on the first request, and then served from PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal, Protocol

import msgspec

from engine.errors import NotFound
from engine.live_tickets import parse_state
from engine.order_document import OrderStatus
from engine.orders import Order
from engine.principal import Principal
from engine.ticket_codes import parse
from engine.ticket_qr import render_qr

TicketStatus = Literal["valid", "used", "void"]
# an order shows tickets once they were issued; a cancelled order shows them void
ORDER_STATUSES_WITH_TICKETS = ("completed", "cancelled")


class OrderTicket(msgspec.Struct):
    id: int
    event_id: int
    label: str
    code: str
    status: TicketStatus
    qr_url: str


class OrderTickets(msgspec.Struct):
    status: OrderStatus
    items: list[OrderTicket]


class IssuedTicket(msgspec.Struct, frozen=True):
    id: int
    event_id: int
    label: str
    code: str
    status: TicketStatus


class CustomerTicketStore(Protocol):
    async def order_tickets(self, order_id: str) -> list[IssuedTicket]: ...

    async def customer_ticket_qr(
        self, ticket_id: int, customer_id: int
    ) -> tuple[str, bytes | None] | None:
        """The ticket's code and cached image, if this customer owns the ticket."""

    async def save_qr(self, images: dict[int, bytes]) -> None: ...


class LiveStates(Protocol):
    async def states(self, event_id: int, refs: list[str]) -> list[str | None]:
        """The Redis states ("v", "u:<ms>", "x:<ms>") of these tickets of a live event."""


class OrderReader(Protocol):
    async def get(self, customer: Principal, order_id: str) -> Order: ...


def qr_url(ticket_id: int) -> str:
    return f"/tickets/{ticket_id}/qr.png"


class Tickets:
    def __init__(
        self,
        store: CustomerTicketStore,
        orders: OrderReader,
        render: Callable[[str], bytes] = render_qr,
        live: LiveStates | None = None,
    ) -> None:
        self._store = store
        self._orders = orders
        self._render = render
        self._live = live

    async def of_order(self, customer: Principal, order_id: str) -> OrderTickets:
        order = await self._orders.get(customer, order_id)  # NotFound unless the owner asks
        if order.status not in ORDER_STATUSES_WITH_TICKETS:
            return OrderTickets(status=order.status, items=[])
        issued = await self._store.order_tickets(order_id)
        statuses = await self._live_statuses(issued)
        return OrderTickets(
            status=order.status,
            items=[
                OrderTicket(t.id, t.event_id, t.label, t.code, statuses[t.id], qr_url(t.id))
                for t in issued
            ],
        )

    async def _live_statuses(self, issued: list[IssuedTicket]) -> dict[int, TicketStatus]:
        """PostgreSQL's statuses, where a live event knows better: a scan or a void there
        reaches PostgreSQL only with the worker's next batch."""
        statuses: dict[int, TicketStatus] = {t.id: t.status for t in issued}
        if self._live is None:
            return statuses
        by_event: dict[int, list[tuple[int, str]]] = {}
        for t in issued:
            parsed = parse(t.code)
            if t.status == "valid" and parsed is not None:
                by_event.setdefault(t.event_id, []).append((t.id, parsed.ref.hex()))
        for event_id, tickets in by_event.items():
            states = await self._live.states(event_id, [ref for _, ref in tickets])
            for (ticket_id, _), state in zip(tickets, states, strict=True):
                if state:
                    statuses[ticket_id] = parse_state(state)[0]
        return statuses

    async def qr_png(self, customer: Principal, ticket_id: int) -> bytes:
        found = await self._store.customer_ticket_qr(ticket_id, customer.user_id)
        if found is None:
            raise NotFound("No such ticket")
        code, png = found
        if png is None:
            # CPU work: off the event loop, so other requests keep flowing while it renders
            png = await asyncio.to_thread(self._render, code)
            await self._store.save_qr({ticket_id: png})
        return png

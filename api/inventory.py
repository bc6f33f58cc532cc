"""Inventory: reserved seats and general-admission ticket types of an event."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter

from api.auth import AsPartner, AsViewer
from api.services import services_of
from api.types import Cents, Cursor, Limit, PathId, Quantity
from engine.errors import InvalidInput
from engine.inventory import (
    MAX_LABEL_LENGTH,
    MAX_SEATS_PER_REQUEST,
    Created,
    NewSeat,
    NewTicketType,
    Seat,
    SeatChanges,
    SeatRows,
    SeatStatus,
    TicketType,
    TicketTypeChanges,
    seats_from_rows,
)
from engine.pagination import Page

# printable text without surrounding blanks: PostgreSQL refuses NUL, and " A1" vs "A1" would
# be two seats nobody can tell apart
_TRIMMED = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LABEL_LENGTH, pattern=_TRIMMED)]
# row + seat number (at most 5 digits) must still fit a label
RowLabel = Annotated[str, msgspec.Meta(min_length=1, max_length=30, pattern=_TRIMMED)]
Section = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=_TRIMMED)]
TypeName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_TRIMMED)]
SeatsPerRow = Annotated[int, msgspec.Meta(ge=1, le=MAX_SEATS_PER_REQUEST)]
StatusFilter = Annotated[SeatStatus | None, QueryParameter()]


class SeatIn(msgspec.Struct, forbid_unknown_fields=True):
    label: Label
    price_cents: Cents
    section: Section | None = None


class SeatsIn(msgspec.Struct, forbid_unknown_fields=True):
    """Either `{seats: [...]}` or `{rows, seats_per_row, price_cents, section?}`."""

    seats: (
        Annotated[list[SeatIn], msgspec.Meta(min_length=1, max_length=MAX_SEATS_PER_REQUEST)] | None
    ) = None
    rows: (
        Annotated[list[RowLabel], msgspec.Meta(min_length=1, max_length=MAX_SEATS_PER_REQUEST)]
        | None
    ) = None
    seats_per_row: SeatsPerRow | None = None
    price_cents: Cents | None = None
    section: Section | None = None

    def new_seats(self) -> list[NewSeat]:
        rows, per_row, price = self.rows, self.seats_per_row, self.price_cents
        if self.seats is not None and rows is None and per_row is None and price is None:
            if self.section is None:
                return [NewSeat(s.label, s.price_cents, s.section) for s in self.seats]
        elif self.seats is None and rows is not None and per_row is not None and price is not None:
            return seats_from_rows(SeatRows(rows, per_row, price, self.section))
        raise InvalidInput(
            "send either {seats: [{label, price_cents, section?}]} "
            "or {rows, seats_per_row, price_cents, section?}",
            field="seats",
        )


class SeatPatch(msgspec.Struct, forbid_unknown_fields=True):
    price_cents: Cents | msgspec.UnsetType = msgspec.UNSET
    section: Section | msgspec.UnsetType | None = msgspec.UNSET


class TicketTypeIn(msgspec.Struct, forbid_unknown_fields=True):
    name: TypeName
    price_cents: Cents
    quantity: Quantity


class TicketTypePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: TypeName | msgspec.UnsetType = msgspec.UNSET
    price_cents: Cents | msgspec.UnsetType = msgspec.UNSET
    quantity: Quantity | msgspec.UnsetType = msgspec.UNSET


class EventInventoryController(Controller):
    path = "/events/{event_id:int}"
    tags = ["inventory"]

    @post("/seats", status_code=201)
    async def create_seats(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        event_id: PathId,
        data: JSONBody[SeatsIn],
    ) -> Created:
        return await services_of(request.app).inventory.create_seats(
            partner, event_id, data.new_seats()
        )

    @get("/seats")
    async def list_seats(
        self,
        request: Request[Any, Any, Any],
        viewer: AsViewer,
        event_id: PathId,
        status: StatusFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[Seat]:
        return await services_of(request.app).inventory.list_seats(
            viewer, event_id, status, limit, cursor
        )

    @post("/ticket-types", status_code=201)
    async def create_ticket_type(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        event_id: PathId,
        data: JSONBody[TicketTypeIn],
    ) -> TicketType:
        new = NewTicketType(data.name, data.price_cents, data.quantity)
        return await services_of(request.app).inventory.create_ticket_type(partner, event_id, new)

    @get("/ticket-types")
    async def list_ticket_types(
        self,
        request: Request[Any, Any, Any],
        viewer: AsViewer,
        event_id: PathId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[TicketType]:
        return await services_of(request.app).inventory.list_ticket_types(
            viewer, event_id, limit, cursor
        )


class SeatController(Controller):
    path = "/seats/{seat_id:int}"
    tags = ["inventory"]

    @patch("/")
    async def update(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        seat_id: PathId,
        data: JSONBody[SeatPatch],
    ) -> Seat:
        changes = SeatChanges(price_cents=data.price_cents, section=data.section)
        return await services_of(request.app).inventory.update_seat(partner, seat_id, changes)

    @delete("/", status_code=204)
    async def remove(
        self, request: Request[Any, Any, Any], partner: AsPartner, seat_id: PathId
    ) -> None:
        await services_of(request.app).inventory.delete_seat(partner, seat_id)


class TicketTypeController(Controller):
    path = "/ticket-types/{type_id:int}"
    tags = ["inventory"]

    @patch("/")
    async def update(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        type_id: PathId,
        data: JSONBody[TicketTypePatch],
    ) -> TicketType:
        changes = TicketTypeChanges(
            name=data.name, price_cents=data.price_cents, quantity=data.quantity
        )
        return await services_of(request.app).inventory.update_ticket_type(
            partner, type_id, changes
        )

    @delete("/", status_code=204)
    async def remove(
        self, request: Request[Any, Any, Any], partner: AsPartner, type_id: PathId
    ) -> None:
        await services_of(request.app).inventory.delete_ticket_type(partner, type_id)


ROUTES: list[object] = [EventInventoryController, SeatController, TicketTypeController]

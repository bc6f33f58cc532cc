"""The panel's inventory of an event: seats (rows x seats, or a pasted list) with a seat map
coloured by live status, general-admission ticket types, and the lineup."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from api.inventory import SeatPatch, SeatsIn, TicketTypeIn, TicketTypePatch
from api.lineup import AttractionIn, LineupIn
from api.services import services_of
from api.types import PathId
from engine.errors import BoxofficeError, Conflict, InvalidInput
from engine.inventory import NewTicketType, Seat, SeatChanges, TicketTypeChanges
from engine.lineup import NewAttraction
from engine.principal import Principal
from web.forms import as_cents, as_utc, convert, field_errors, filled, form_fields
from web.panel_common import (
    FormAction,
    event_page,
    form_action,
    owned_event,
    partner_of,
    refusal_status,
)
from web.panel_events import Done
from web.seat_map import draw

MAP_LIMIT = 5000  # seats drawn on the preview; larger halls show the first ones
PAGE = 200
_ROW_RANGE = re.compile(r"^([A-Z])\s*-\s*([A-Z])$")


def row_names(text: str) -> list[str]:
    """'A-C' -> A, B, C; otherwise names separated by commas or blanks ('A, B, AA')."""
    found = _ROW_RANGE.match(text.strip().upper())
    if found:
        first, last = ord(found.group(1)), ord(found.group(2))
        return [chr(code) for code in range(first, last + 1)] if first <= last else []
    return [name for name in re.split(r"[,\s]+", text) if name]


def pasted_seats(text: str) -> list[dict[str, Any]]:
    """One seat a line: `label, price[, section]` ('A1, 45.00, Stalls')."""
    seats: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) not in (2, 3):
            raise InvalidInput(
                f"Line {number}: write `label, price` or `label, price, section`", field="list"
            )
        seat: dict[str, Any] = {"label": parts[0], "price": parts[1]}
        try:
            as_cents(seat, "price", "price_cents")
        except InvalidInput as exc:
            raise InvalidInput(f"Line {number}: {exc.detail}", field="list") from exc
        if len(parts) == 3 and parts[2]:
            seat["section"] = parts[2]
        seats.append(seat)
    if not seats:
        raise InvalidInput("Paste at least one line", field="list")
    return seats


async def all_seats(request: Request[Any, Any, Any], event_id: int) -> tuple[list[Seat], bool]:
    """The event's seats with live status, up to MAP_LIMIT; and whether there are more."""
    partner = await partner_of(request)
    inventory = services_of(request.app).inventory
    seats: list[Seat] = []
    cursor: str | None = None
    while len(seats) < MAP_LIMIT:
        page = await inventory.list_seats(partner, event_id, None, PAGE, cursor)
        seats.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seats, False
    return seats[:MAP_LIMIT], True


def _errors_for(exc: InvalidInput, form: str) -> dict[str, str]:
    errors = field_errors(exc)
    if "price_cents" in errors:
        errors["price"] = errors.pop("price_cents")
    return {f"{form}.{name}": message for name, message in errors.items()} | {form: exc.detail}


# what a ticket type's own form shows beside it; a type the partner does not have (NotFound)
# has no form on the page to show it beside: the pages' error handler answers 404
_TYPE_REFUSALS: tuple[type[BoxofficeError], ...] = (InvalidInput, Conflict)


class PanelInventoryPages(Controller):
    path = "/panel/events/{event_id:int}"
    include_in_schema = False

    async def _page(
        self,
        request: Request[Any, Any, Any],
        event_id: int,
        status: int = 200,
        done: str | None = None,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Template:
        event = await owned_event(request, event_id)
        seats, more = await all_seats(request, event_id)
        return await event_page(
            request,
            event,
            "panel/inventory.html",
            "inventory",
            status,
            done,
            seat_map=draw(seats),
            seat_total=len(seats),
            more_seats=more,
            map_limit=MAP_LIMIT,
            errors=errors or {},
            form=form or {},
        )

    async def _refused(
        self,
        request: Request[Any, Any, Any],
        event_id: int,
        form: str,
        status: int,
        exc: BoxofficeError,
        fields: dict[str, str],
    ) -> Template:
        """The page again with the refusal beside the form named `form` (each field's error
        and the typed values under `form.<field>`, the message under `form`)."""
        errors = _errors_for(exc, form) if isinstance(exc, InvalidInput) else {form: exc.detail}
        prefixed = {f"{form}.{name}": value for name, value in fields.items()}
        return await self._page(request, event_id, status, errors=errors, form=prefixed)

    async def _submit(
        self,
        request: Request[Any, Any, Any],
        event_id: int,
        form: str,
        done: str,
        action: FormAction,
        refusals: tuple[type[BoxofficeError], ...] = (BoxofficeError,),
    ) -> Response[Any]:
        """`action` posted from the inventory's form `form`, ending on the notice `done`."""
        return await form_action(
            request,
            action,
            f"/panel/events/{event_id}/inventory",
            done,
            lambda status, exc, fields: self._refused(request, event_id, form, status, exc, fields),
            refusals,
        )

    @get("/inventory")
    async def inventory(
        self, request: Request[Any, Any, Any], event_id: PathId, done: Done = None
    ) -> Template:
        return await self._page(request, event_id, done=done)

    @post("/seats/rows")
    async def add_rows(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        async def create(partner: Principal, fields: dict[str, str]) -> None:
            wanted = filled(dict(fields))
            wanted["rows"] = row_names(fields.get("rows", ""))
            as_cents(wanted, "price", "price_cents")
            data = convert(wanted, SeatsIn)
            await services_of(request.app).inventory.create_seats(
                partner, event_id, data.new_seats()
            )

        return await self._submit(request, event_id, "rows", "seats", create)

    @post("/seats/list")
    async def add_list(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        async def create(partner: Principal, fields: dict[str, str]) -> None:
            data = convert({"seats": pasted_seats(fields.get("list", ""))}, SeatsIn)
            await services_of(request.app).inventory.create_seats(
                partner, event_id, data.new_seats()
            )

        return await self._submit(request, event_id, "list", "seats", create)

    @post("/seats/change")
    async def change_seat(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        """Reprice, move to another section or remove one available seat, named by label.
        Not a form_action: removing and saving end on different notices."""
        partner = await partner_of(request)
        fields = await form_fields(request)
        inventory = services_of(request.app).inventory
        label = fields.get("label", "")
        try:
            seats, _ = await all_seats(request, event_id)
            found = next((seat for seat in seats if seat.label == label), None)
            if found is None:
                raise InvalidInput(f"No seat labelled {label!r} in this event", field="label")
            if fields.get("remove") == "yes":
                await inventory.delete_seat(partner, found.id)
                return Redirect(
                    f"/panel/events/{event_id}/inventory?done=seat_removed", status_code=303
                )
            wanted = filled(
                {"price": fields.get("price", ""), "section": fields.get("section", "")}
            )
            as_cents(wanted, "price", "price_cents")
            data = convert(wanted, SeatPatch)
            await inventory.update_seat(
                partner, found.id, SeatChanges(data.price_cents, data.section)
            )
        except BoxofficeError as exc:
            status = refusal_status(exc)
            return await self._refused(request, event_id, "seat", status, exc, fields)
        return Redirect(f"/panel/events/{event_id}/inventory?done=seat_saved", status_code=303)

    @post("/ticket-types")
    async def add_type(self, request: Request[Any, Any, Any], event_id: PathId) -> Response[Any]:
        async def create(partner: Principal, fields: dict[str, str]) -> None:
            wanted = filled(dict(fields))
            as_cents(wanted, "price", "price_cents")
            data = convert(wanted, TicketTypeIn)
            await services_of(request.app).inventory.create_ticket_type(
                partner, event_id, NewTicketType(data.name, data.price_cents, data.quantity)
            )

        return await self._submit(request, event_id, "type", "type_added", create)

    @post("/ticket-types/{type_id:int}")
    async def change_type(
        self, request: Request[Any, Any, Any], event_id: PathId, type_id: PathId
    ) -> Response[Any]:
        async def change(partner: Principal, fields: dict[str, str]) -> None:
            wanted = filled(dict(fields))
            as_cents(wanted, "price", "price_cents")
            data = convert(wanted, TicketTypePatch)
            await services_of(request.app).inventory.update_ticket_type(
                partner,
                type_id,
                TicketTypeChanges(data.name, data.price_cents, data.quantity),
            )

        return await self._submit(
            request, event_id, f"type{type_id}", "type_saved", change, _TYPE_REFUSALS
        )

    @post("/ticket-types/{type_id:int}/delete")
    async def remove_type(
        self, request: Request[Any, Any, Any], event_id: PathId, type_id: PathId
    ) -> Response[Any]:
        async def remove(partner: Principal, _: dict[str, str]) -> None:
            await services_of(request.app).inventory.delete_ticket_type(partner, type_id)

        return await self._submit(
            request, event_id, f"type{type_id}", "type_removed", remove, _TYPE_REFUSALS
        )

    @post("/lineup")
    async def add_to_lineup(
        self, request: Request[Any, Any, Any], event_id: PathId
    ) -> Response[Any]:
        async def add(partner: Principal, fields: dict[str, str]) -> None:
            attraction = convert(
                filled({"name": fields.get("name", ""), "genre": fields.get("genre", "")}),
                AttractionIn,
            )
            when: dict[str, Any] = {"attraction_id": 1}  # the one created below
            if fields.get("performs_at"):
                when["performs_at"] = fields["performs_at"]
            as_utc(when, "performs_at")
            performs_at = convert(when, LineupIn).performs_at
            lineup = services_of(request.app).lineup
            created = await lineup.create_attraction(
                partner, NewAttraction(attraction.name, attraction.genre)
            )
            await lineup.add(partner, event_id, created.id, performs_at)

        return await self._submit(request, event_id, "lineup", "lineup_added", add)

    @post("/lineup/{attraction_id:int}/delete")
    async def remove_from_lineup(
        self, request: Request[Any, Any, Any], event_id: PathId, attraction_id: PathId
    ) -> Response[Any]:
        partner = await partner_of(request)
        await services_of(request.app).lineup.remove(partner, event_id, attraction_id)
        return Redirect(f"/panel/events/{event_id}/inventory?done=lineup_removed", status_code=303)

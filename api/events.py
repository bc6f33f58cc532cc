"""Events (catalogue): browse, create, edit, publish, open and change the on-sale window."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import JSONBody, QueryParameter

from api.auth import AsPartner, AsViewer
from api.services import services_of
from api.types import NO_NUL, Cursor, Limit, LongText, Name, PathId, Timestamp, Url
from engine.catalogue import (
    DEFAULT_HOLD_SECONDS,
    DEFAULT_MAX_TICKETS_PER_CUSTOMER,
    Event,
    EventChanges,
    EventDetail,
    EventQuery,
    NewEvent,
    SaleChanges,
    SaleWindow,
    WaitingRoom,
    WaitingRoomChanges,
)
from engine.pagination import Page

Venue = Annotated[str, msgspec.Meta(min_length=1, max_length=300, pattern=NO_NUL)]
# an IANA zone name (the engine checks it is a known one)
TimeZone = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$", examples=["America/Sao_Paulo"]
    ),
]
HoldSeconds = Annotated[int, msgspec.Meta(ge=1, le=86_400)]
MaxTickets = Annotated[int, msgspec.Meta(ge=1, le=1000)]
AdmitPerMinute = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
MaxActive = Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
SearchText = Annotated[str | None, QueryParameter(max_length=200, pattern=NO_NUL)]
StartsFrom = Annotated[datetime | None, QueryParameter(name="from")]
StartsTo = Annotated[datetime | None, QueryParameter(name="to")]
OwnStatus = Annotated[
    Literal["archived"] | None,
    QueryParameter(description="`archived`: the events deleted while they had orders"),
]
Unset = msgspec.UnsetType
UNSET = msgspec.UNSET


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    venue: Venue
    starts_at: Timestamp
    description: LongText = ""
    ends_at: Timestamp | None = None
    cover_image_url: Url | None = None
    time_zone: TimeZone | None = None


class EventPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | Unset = UNSET
    description: LongText | Unset = UNSET
    venue: Venue | Unset = UNSET
    starts_at: Timestamp | Unset = UNSET
    ends_at: Timestamp | Unset | None = UNSET
    cover_image_url: Url | Unset | None = UNSET
    time_zone: TimeZone | Unset | None = UNSET


class WaitingRoomIn(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = False
    admit_per_minute: AdmitPerMinute | None = None
    max_active: MaxActive | None = None
    paused: bool = False


class SaleIn(msgspec.Struct, forbid_unknown_fields=True):
    starts_at: Timestamp
    ends_at: Timestamp
    hold_seconds: HoldSeconds = DEFAULT_HOLD_SECONDS
    max_tickets_per_customer: MaxTickets = DEFAULT_MAX_TICKETS_PER_CUSTOMER
    waiting_room: WaitingRoomIn = msgspec.field(default_factory=WaitingRoomIn)

    def window(self) -> SaleWindow:
        room = WaitingRoom(**msgspec.structs.asdict(self.waiting_room))
        fields = msgspec.structs.asdict(self)
        return SaleWindow(**{**fields, "waiting_room": room})


class WaitingRoomPatch(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool | Unset = UNSET
    admit_per_minute: AdmitPerMinute | Unset | None = UNSET
    max_active: MaxActive | Unset | None = UNSET
    paused: bool | Unset = UNSET


class SalePatch(msgspec.Struct, forbid_unknown_fields=True):
    starts_at: Timestamp | Unset = UNSET
    ends_at: Timestamp | Unset = UNSET
    hold_seconds: HoldSeconds | Unset = UNSET
    max_tickets_per_customer: MaxTickets | Unset = UNSET
    waiting_room: WaitingRoomPatch | Unset = UNSET

    def changes(self) -> SaleChanges:
        fields: dict[str, Any] = msgspec.structs.asdict(self)
        if self.waiting_room is not UNSET:
            fields["waiting_room"] = WaitingRoomChanges(**msgspec.structs.asdict(self.waiting_room))
        return SaleChanges(**fields)


class EventController(Controller):
    path = "/events"
    tags = ["events"]

    @get("/")
    async def list_events(
        self,
        request: Request[Any, Any, Any],
        q: SearchText = None,
        starts_from: StartsFrom = None,
        starts_to: StartsTo = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[Event]:
        query = EventQuery(text=q, starts_from=starts_from, starts_to=starts_to)
        return await services_of(request.app).catalogue.list_events(query, limit, cursor)

    @post("/", status_code=201)
    async def create(
        self, request: Request[Any, Any, Any], partner: AsPartner, data: JSONBody[EventIn]
    ) -> Event:
        return await services_of(request.app).catalogue.create(
            partner, NewEvent(**msgspec.structs.asdict(data))
        )

    @get("/{event_id:int}")
    async def detail(
        self, request: Request[Any, Any, Any], viewer: AsViewer, event_id: PathId
    ) -> EventDetail:
        return await services_of(request.app).catalogue.detail(viewer, event_id)

    @patch("/{event_id:int}")
    async def update(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        event_id: PathId,
        data: JSONBody[EventPatch],
    ) -> Event:
        changes = EventChanges(**msgspec.structs.asdict(data))
        return await services_of(request.app).catalogue.update(partner, event_id, changes)

    @delete("/{event_id:int}", status_code=204)
    async def remove(
        self, request: Request[Any, Any, Any], partner: AsPartner, event_id: PathId
    ) -> None:
        await services_of(request.app).catalogue.delete(partner, event_id)

    @post("/{event_id:int}/publish", status_code=200)
    async def publish(
        self, request: Request[Any, Any, Any], partner: AsPartner, event_id: PathId
    ) -> Event:
        return await services_of(request.app).catalogue.publish(partner, event_id)

    @post("/{event_id:int}/cancel", status_code=200)
    async def cancel(
        self, request: Request[Any, Any, Any], partner: AsPartner, event_id: PathId
    ) -> Event:
        """Call the event off: status `cancelled`, its sale stops; orders stay as they are."""
        return await services_of(request.app).catalogue.cancel(partner, event_id)

    @put("/{event_id:int}/sale")
    async def open_sale(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        event_id: PathId,
        data: JSONBody[SaleIn],
    ) -> Event:
        return await services_of(request.app).catalogue.open_sale(partner, event_id, data.window())

    @patch("/{event_id:int}/sale")
    async def change_sale(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        event_id: PathId,
        data: JSONBody[SalePatch],
    ) -> Event:
        return await services_of(request.app).catalogue.change_sale(
            partner, event_id, data.changes()
        )


class PartnerEventController(Controller):
    path = "/partner/events"
    tags = ["events"]

    @get("/")
    async def own_events(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        q: SearchText = None,
        starts_from: StartsFrom = None,
        starts_to: StartsTo = None,
        status: OwnStatus = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[Event]:
        query = EventQuery(
            text=q, starts_from=starts_from, starts_to=starts_to, archived=status == "archived"
        )
        return await services_of(request.app).catalogue.list_own_events(
            partner, query, limit, cursor
        )


ROUTES: list[object] = [EventController, PartnerEventController]

"""Lineup: attractions, and the attractions performing at an event."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import JSONBody

from api.auth import AsPartner, AsViewer
from api.services import services_of
from api.types import NO_NUL, Cursor, Id, Limit, Name, PathId, Timestamp
from engine.catalogue import LineupEntry
from engine.lineup import Attraction, AttractionChanges, NewAttraction
from engine.pagination import Page

Genre = Annotated[str, msgspec.Meta(max_length=100, pattern=NO_NUL)]


class AttractionIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    genre: Genre | None = None


class AttractionPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    genre: Genre | msgspec.UnsetType | None = msgspec.UNSET


class LineupIn(msgspec.Struct, forbid_unknown_fields=True):
    attraction_id: Id
    performs_at: Timestamp | None = None


class AttractionController(Controller):
    path = "/attractions"
    tags = ["lineup"]

    @post("/", status_code=201)
    async def create(
        self, request: Request[Any, Any, Any], partner: AsPartner, data: JSONBody[AttractionIn]
    ) -> Attraction:
        return await services_of(request.app).lineup.create_attraction(
            partner, NewAttraction(data.name, data.genre)
        )

    @get("/")
    async def list_attractions(
        self, request: Request[Any, Any, Any], limit: Limit = 50, cursor: Cursor = None
    ) -> Page[Attraction]:
        return await services_of(request.app).lineup.list_attractions(limit, cursor)

    @get("/{attraction_id:int}")
    async def detail(self, request: Request[Any, Any, Any], attraction_id: PathId) -> Attraction:
        return await services_of(request.app).lineup.attraction(attraction_id)

    @patch("/{attraction_id:int}")
    async def update(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        attraction_id: PathId,
        data: JSONBody[AttractionPatch],
    ) -> Attraction:
        changes = AttractionChanges(name=data.name, genre=data.genre)
        return await services_of(request.app).lineup.update_attraction(
            partner, attraction_id, changes
        )

    @delete("/{attraction_id:int}", status_code=204)
    async def remove(
        self, request: Request[Any, Any, Any], partner: AsPartner, attraction_id: PathId
    ) -> None:
        await services_of(request.app).lineup.delete_attraction(partner, attraction_id)


class EventLineupController(Controller):
    path = "/events/{event_id:int}/lineup"
    tags = ["lineup"]

    @post("/", status_code=201)
    async def add(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        event_id: PathId,
        data: JSONBody[LineupIn],
    ) -> LineupEntry:
        return await services_of(request.app).lineup.add(
            partner, event_id, data.attraction_id, data.performs_at
        )

    @get("/")
    async def entries(
        self,
        request: Request[Any, Any, Any],
        viewer: AsViewer,
        event_id: PathId,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[LineupEntry]:
        return await services_of(request.app).lineup.entries(viewer, event_id, limit, cursor)

    @delete("/{attraction_id:int}", status_code=204)
    async def remove(
        self,
        request: Request[Any, Any, Any],
        partner: AsPartner,
        event_id: PathId,
        attraction_id: PathId,
    ) -> None:
        await services_of(request.app).lineup.remove(partner, event_id, attraction_id)


ROUTES: list[object] = [AttractionController, EventLineupController]

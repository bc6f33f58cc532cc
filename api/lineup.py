"""Lineup: attractions, and the attractions performing at an event."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from api.auth import AsPartner, AsViewer
from api.types import NO_NUL, Cursor, Id, Limit, Name, PathId, Timestamp
from engine.catalogue import LineupEntry
from engine.lineup import Attraction, AttractionChanges, Lineup, NewAttraction
from engine.pagination import Page
from engine.store.pg_lineup import PgLineupStore

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


def provide_lineup(request: Request[Any, Any, Any]) -> Lineup:
    return Lineup(PgLineupStore(request.app.state.resources.pool))


LineupDep = NamedDependency[Lineup]
_DEPENDENCIES = {"lineup": Provide(provide_lineup, sync_to_thread=False)}


class AttractionController(Controller):
    path = "/attractions"
    dependencies = _DEPENDENCIES
    tags = ["lineup"]

    @post("/", status_code=201)
    async def create(
        self, partner: AsPartner, data: JSONBody[AttractionIn], lineup: LineupDep
    ) -> Attraction:
        return await lineup.create_attraction(partner, NewAttraction(data.name, data.genre))

    @get("/")
    async def list_attractions(
        self, lineup: LineupDep, limit: Limit = 50, cursor: Cursor = None
    ) -> Page[Attraction]:
        return await lineup.list_attractions(limit, cursor)

    @get("/{attraction_id:int}")
    async def detail(self, attraction_id: PathId, lineup: LineupDep) -> Attraction:
        return await lineup.attraction(attraction_id)

    @patch("/{attraction_id:int}")
    async def update(
        self,
        partner: AsPartner,
        attraction_id: PathId,
        data: JSONBody[AttractionPatch],
        lineup: LineupDep,
    ) -> Attraction:
        changes = AttractionChanges(name=data.name, genre=data.genre)
        return await lineup.update_attraction(partner, attraction_id, changes)

    @delete("/{attraction_id:int}", status_code=204)
    async def remove(self, partner: AsPartner, attraction_id: PathId, lineup: LineupDep) -> None:
        await lineup.delete_attraction(partner, attraction_id)


class EventLineupController(Controller):
    path = "/events/{event_id:int}/lineup"
    dependencies = _DEPENDENCIES
    tags = ["lineup"]

    @post("/", status_code=201)
    async def add(
        self, partner: AsPartner, event_id: PathId, data: JSONBody[LineupIn], lineup: LineupDep
    ) -> LineupEntry:
        return await lineup.add(partner, event_id, data.attraction_id, data.performs_at)

    @get("/")
    async def entries(
        self,
        viewer: AsViewer,
        event_id: PathId,
        lineup: LineupDep,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[LineupEntry]:
        return await lineup.entries(viewer, event_id, limit, cursor)

    @delete("/{attraction_id:int}", status_code=204)
    async def remove(
        self, partner: AsPartner, event_id: PathId, attraction_id: PathId, lineup: LineupDep
    ) -> None:
        await lineup.remove(partner, event_id, attraction_id)


ROUTES: list[object] = [AttractionController, EventLineupController]

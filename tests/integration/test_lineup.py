"""Lineup (seed 003) over HTTP: attractions, and the attractions performing at an event."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import Actor, make_staff
from tests.integration.test_events import assert_problem, create_event, list_all, published_event

ATTRACTION_KEYS = {"id", "partner_id", "name", "genre", "created_at"}
ENTRY_KEYS = {"attraction_id", "name", "genre", "performs_at"}


async def create_attraction(
    client: AsyncTestClient[Any], actor: Actor, name: str = "The Band", genre: str | None = "rock"
) -> dict[str, Any]:
    response = await client.post(
        "/attractions", headers=actor.headers, json={"name": name, "genre": genre}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def book(
    client: AsyncTestClient[Any],
    actor: Actor,
    event_id: int,
    attraction_id: int,
    performs_at: str | None = None,
) -> Any:
    body: dict[str, Any] = {"attraction_id": attraction_id}
    if performs_at is not None:
        body["performs_at"] = performs_at
    return await client.post(f"/events/{event_id}/lineup", headers=actor.headers, json=body)


# --- attractions ---


async def test_create_attraction_returns_the_contract_shape(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    attraction = await create_attraction(client, partner, name=" Los Hermanos ", genre="rock")
    assert set(attraction) == ATTRACTION_KEYS
    assert attraction["partner_id"] == partner.id
    assert attraction["name"] == "Los Hermanos"
    assert attraction["genre"] == "rock"
    no_genre = await client.post("/attractions", headers=partner.headers, json={"name": "Solo"})
    assert no_genre.status_code == 201, no_genre.text
    assert no_genre.json()["genre"] is None
    seen = await client.get(f"/attractions/{attraction['id']}")
    assert seen.json() == attraction


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": None}, "name"),
        ({"name": ["Band"]}, "name"),
        ({"genre": "rock"}, "name"),
        ({"name": "Band", "genre": "g" * 101}, "genre"),
        ({"name": "Band", "genre": 7}, "genre"),
        ({"name": "Band\x00"}, "name"),
        ({"name": "Band", "partner_id": 1}, "partner_id"),
    ],
)
async def test_create_attraction_refuses_bad_fields(
    client: AsyncTestClient[Any], partner: Actor, body: dict[str, Any], mentions: str
) -> None:
    response = await client.post("/attractions", headers=partner.headers, json=body)
    assert_problem(response, 422, "validation_error", mentions)


async def test_attractions_are_a_public_list_in_pages(
    client: AsyncTestClient[Any], partner: Actor, other_partner: Actor
) -> None:
    mine = [
        (await create_attraction(client, p, name=f"Act {i}"))["id"]
        for i, p in enumerate((partner, other_partner, partner))
    ]
    listed = await list_all(client, "/attractions", limit=2)
    ids = [a["id"] for a in listed]
    assert ids == sorted(set(ids))
    assert set(mine) <= set(ids)
    first = await client.get("/attractions", params={"limit": 1})
    assert len(first.json()["items"]) == 1
    assert first.json()["next_cursor"]


async def test_only_the_creator_edits_an_attraction(
    client: AsyncTestClient[Any], partner: Actor, other_partner: Actor, customer: Actor
) -> None:
    attraction = await create_attraction(client, partner)
    url = f"/attractions/{attraction['id']}"
    staff = await make_staff(client, partner)
    for method, body in (("PATCH", {"name": "Stolen"}), ("DELETE", None)):
        for headers, status, code in (
            ({}, 401, "not_authenticated"),
            (customer.headers, 403, "forbidden"),
            (staff.headers, 403, "forbidden"),
            (other_partner.headers, 404, "not_found"),
        ):
            response = await client.request(method, url, headers=headers, json=body)
            assert_problem(response, status, code)
        unknown = await client.request(
            method, f"/attractions/{2**62}", headers=partner.headers, json=body
        )
        assert_problem(unknown, 404, "not_found")
    assert (await client.get(url)).json() == attraction


async def test_patch_attraction_changes_only_what_is_sent(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    attraction = await create_attraction(client, partner, name="Old", genre="jazz")
    url = f"/attractions/{attraction['id']}"
    renamed = await client.patch(url, headers=partner.headers, json={"name": "New"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() == {**attraction, "name": "New"}
    cleared = await client.patch(url, headers=partner.headers, json={"genre": None})
    assert cleared.json() == {**attraction, "name": "New", "genre": None}
    same = await client.patch(url, headers=partner.headers, json={})
    assert same.json() == cleared.json()
    for body, mentions in (({"name": None}, "name"), ({"name": " "}, "name"), ({"x": 1}, "x")):
        response = await client.patch(url, headers=partner.headers, json=body)
        assert_problem(response, 422, "validation_error", mentions)


async def test_attraction_in_a_lineup_cannot_be_deleted(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    event = await create_event(client, partner)
    attraction = await create_attraction(client, partner)
    assert (await book(client, partner, event["id"], attraction["id"])).status_code == 201
    url = f"/attractions/{attraction['id']}"
    assert_problem(await client.delete(url, headers=partner.headers), 409, "attraction_in_use")
    removed = await client.delete(
        f"/events/{event['id']}/lineup/{attraction['id']}", headers=partner.headers
    )
    assert removed.status_code == 204, removed.text
    deleted = await client.delete(url, headers=partner.headers)
    assert deleted.status_code == 204, deleted.text
    assert_problem(await client.get(url), 404, "not_found")


async def test_deleting_an_event_frees_its_attractions(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    event = await create_event(client, partner)
    attraction = await create_attraction(client, partner)
    assert (await book(client, partner, event["id"], attraction["id"])).status_code == 201
    assert (
        await client.delete(f"/events/{event['id']}", headers=partner.headers)
    ).status_code == 204
    deleted = await client.delete(f"/attractions/{attraction['id']}", headers=partner.headers)
    assert deleted.status_code == 204, deleted.text


# --- an event's lineup ---


async def test_lineup_is_in_order_of_performance_and_shows_in_the_event(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    event = await published_event(client, partner)
    closing = await create_attraction(client, partner, name="Closer", genre="pop")
    opening = await create_attraction(client, partner, name="Opener", genre=None)
    surprise = await create_attraction(client, partner, name="Guest")
    unknown_time = await create_attraction(client, partner, name="TBA")
    for attraction, at in (
        (closing, "2031-05-01T23:00:00+00:00"),
        (unknown_time, None),
        (opening, "2031-05-01T17:30:00-03:00"),
        (surprise, None),
    ):
        added = await book(client, partner, event["id"], attraction["id"], at)
        assert added.status_code == 201, added.text
        assert set(added.json()) == ENTRY_KEYS
    expected = [opening["id"], closing["id"], *sorted([unknown_time["id"], surprise["id"]])]

    walked = await list_all(client, f"/events/{event['id']}/lineup", limit=1)
    assert [e["attraction_id"] for e in walked] == expected
    assert walked[0] == {
        "attraction_id": opening["id"],
        "name": "Opener",
        "genre": None,
        "performs_at": "2031-05-01T20:30:00Z",
    }
    detail = await client.get(f"/events/{event['id']}")
    assert detail.json()["lineup"] == walked


async def test_lineup_add_refusals(
    client: AsyncTestClient[Any], partner: Actor, other_partner: Actor, customer: Actor
) -> None:
    event = await create_event(client, partner)
    attraction = await create_attraction(client, partner)
    assert (await book(client, partner, event["id"], attraction["id"])).status_code == 201
    duplicate = await book(client, partner, event["id"], attraction["id"])
    assert_problem(duplicate, 409, "lineup_exists")
    assert_problem(await book(client, partner, event["id"], 2**62), 404, "not_found")
    assert_problem(
        await book(client, other_partner, event["id"], attraction["id"]), 404, "not_found"
    )
    assert_problem(await book(client, partner, 2**62, attraction["id"]), 404, "not_found")
    assert_problem(await book(client, customer, event["id"], attraction["id"]), 403, "forbidden")
    anonymous = await client.post(
        f"/events/{event['id']}/lineup", json={"attraction_id": attraction["id"]}
    )
    assert_problem(anonymous, 401, "not_authenticated")
    for body, mentions in (
        ({"attraction_id": attraction["id"], "performs_at": "2031-05-01T20:00:00"}, "performs_at"),
        ({"attraction_id": attraction["id"], "performs_at": "0001-01-01T00:00:00Z"}, "performs_at"),
        ({"attraction_id": 0}, "attraction_id"),
        ({"attraction_id": -3}, "attraction_id"),
        ({"attraction_id": 10**30}, "attraction_id"),
        ({"attraction_id": [1]}, "attraction_id"),
        ({}, "attraction_id"),
    ):
        response = await client.post(
            f"/events/{event['id']}/lineup", headers=partner.headers, json=body
        )
        assert_problem(response, 422, "validation_error", mentions)
    lineup = await client.get(f"/events/{event['id']}/lineup", headers=partner.headers)
    assert [e["attraction_id"] for e in lineup.json()["items"]] == [attraction["id"]]


async def test_another_partners_attraction_cannot_be_booked(
    client: AsyncTestClient[Any], partner: Actor, other_partner: Actor
) -> None:
    """Attractions are public to read, but only their partner books them: another
    partner's is 404, as any foreign resource, and its lineup stays empty."""
    event = await create_event(client, partner)
    theirs = await create_attraction(client, other_partner, name="Not yours")
    assert (await client.get(f"/attractions/{theirs['id']}")).status_code == 200
    assert_problem(await book(client, partner, event["id"], theirs["id"]), 404, "not_found")
    lineup = await client.get(f"/events/{event['id']}/lineup", headers=partner.headers)
    assert lineup.json()["items"] == []


async def test_draft_lineup_is_seen_only_by_its_owner(
    client: AsyncTestClient[Any], partner: Actor, other_partner: Actor, customer: Actor
) -> None:
    draft = await create_event(client, partner)
    url = f"/events/{draft['id']}/lineup"
    assert (await client.get(url, headers=partner.headers)).status_code == 200
    for headers in ({}, other_partner.headers, customer.headers):
        assert_problem(await client.get(url, headers=headers), 404, "not_found")
    assert_problem(await client.get(f"/events/{2**62}/lineup"), 404, "not_found")


async def test_remove_from_lineup(
    client: AsyncTestClient[Any], partner: Actor, other_partner: Actor, customer: Actor
) -> None:
    event = await published_event(client, partner)
    attraction = await create_attraction(client, partner)
    assert (await book(client, partner, event["id"], attraction["id"])).status_code == 201
    url = f"/events/{event['id']}/lineup/{attraction['id']}"
    for headers, status, code in (
        ({}, 401, "not_authenticated"),
        (customer.headers, 403, "forbidden"),
        (other_partner.headers, 404, "not_found"),
    ):
        assert_problem(await client.delete(url, headers=headers), status, code)
    assert (await client.delete(url, headers=partner.headers)).status_code == 204
    assert_problem(await client.delete(url, headers=partner.headers), 404, "not_found")
    assert (await client.get(f"/events/{event['id']}/lineup")).json()["items"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/attractions/99999999999999999999",
        "/attractions/0",
        "/attractions/abc",
        "/events/99999999999999999999/lineup",
        "/events/1/lineup?limit=0",
        "/events/1/lineup?cursor=%%%",
        "/events/1/lineup?cursor=WyJub3QgYSBkYXRlIiwxXQ",
        "/attractions?limit=500",
        "/attractions?cursor=WyJ4Il0",
    ],
)
async def test_bad_paths_and_queries_are_4xx(client: AsyncTestClient[Any], path: str) -> None:
    response = await client.get(path)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/attractions/99999999999999999999"),
        ("DELETE", "/attractions/99999999999999999999"),
        ("POST", "/events/99999999999999999999/lineup"),
        ("DELETE", "/events/1/lineup/99999999999999999999"),
    ],
)
async def test_huge_ids_in_writes_are_4xx(
    client: AsyncTestClient[Any], partner: Actor, method: str, path: str
) -> None:
    body = {"attraction_id": 1} if method != "DELETE" else None
    response = await client.request(method, path, headers=partner.headers, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"]


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b'{"name": ', b"\xff"])
async def test_malformed_bodies_are_4xx(
    client: AsyncTestClient[Any], partner: Actor, raw: bytes
) -> None:
    event = await create_event(client, partner)
    attraction = await create_attraction(client, partner)
    headers = {**partner.headers, "content-type": "application/json"}
    for method, path in (
        ("POST", "/attractions"),
        ("PATCH", f"/attractions/{attraction['id']}"),
        ("POST", f"/events/{event['id']}/lineup"),
    ):
        response = await client.request(method, path, headers=headers, content=raw)
        assert 400 <= response.status_code < 500, (method, path, response.text)
        assert response.json()["code"]

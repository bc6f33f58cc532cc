"""Events (catalogue) over HTTP on real PostgreSQL and Redis: create, publish, browse, search,
filter, paginate, edit, delete, and the on-sale window the sale engine reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine.store.resources import Resources
from tests.conftest import Actor, make_staff

EVENT_KEYS = {
    "id",
    "partner_id",
    "name",
    "description",
    "venue",
    "starts_at",
    "ends_at",
    "cover_image_url",
    "status",
    "sale",
    "availability",
    "time_zone",
}
START = datetime(2031, 5, 1, 20, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def token() -> str:
    """A word no other test uses, to find this test's events among everyone's."""
    return "tok" + uuid.uuid4().hex[:12]


async def create_event(client: AsyncTestClient[Any], actor: Actor, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Summer Show",
        "description": "Open air",
        "venue": "City Park",
        "starts_at": iso(START),
        **fields,
    }
    response = await client.post("/events", headers=actor.headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def published_event(
    client: AsyncTestClient[Any], actor: Actor, **fields: Any
) -> dict[str, Any]:
    event = await create_event(client, actor, **fields)
    response = await client.post(f"/events/{event['id']}/publish", headers=actor.headers)
    assert response.status_code == 200, response.text
    published: dict[str, Any] = response.json()
    return published


async def list_all(
    client: AsyncTestClient[Any], path: str, headers: dict[str, str] | None = None, **params: Any
) -> list[dict[str, Any]]:
    """Every item of a list, walking its cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query, headers=headers or {})
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


def assert_problem(response: Any, status: int, code: str, mentions: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    if mentions is not None:
        assert mentions in response.text, body


def sale_window(opens: datetime, closes: datetime, **fields: Any) -> dict[str, Any]:
    return {"starts_at": iso(opens), "ends_at": iso(closes), **fields}


# --- create and read ---


async def test_create_returns_a_draft_in_the_contract_shape(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    event = await create_event(
        client,
        partner,
        starts_at="2031-05-01T17:00:00-03:00",
        ends_at="2031-05-01T23:00:00-03:00",
        cover_image_url="https://img.example.com/a.jpg",
    )
    assert set(event) == EVENT_KEYS
    assert event["partner_id"] == partner.id
    assert event["status"] == "draft"
    assert event["sale"] is None
    assert event["availability"] == {"available": 0, "held": 0, "sold": 0}
    assert event["cover_image_url"] == "https://img.example.com/a.jpg"
    starts = datetime.fromisoformat(event["starts_at"])
    assert starts.utcoffset() is not None
    assert starts == START
    assert datetime.fromisoformat(event["ends_at"]) == START + timedelta(hours=6)

    detail = await client.get(f"/events/{event['id']}", headers=partner.headers)
    assert detail.status_code == 200, detail.text
    assert detail.json() == {**event, "ticket_types": [], "lineup": []}


async def test_create_trims_names_and_defaults_optional_fields(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    response = await client.post(
        "/events",
        headers=partner.headers,
        json={"name": "  Jazz Night ", "venue": " Blue Note", "starts_at": iso(START)},
    )
    assert response.status_code == 201, response.text
    event = response.json()
    assert (event["name"], event["venue"], event["description"]) == ("Jazz Night", "Blue Note", "")
    assert event["ends_at"] is None
    assert event["cover_image_url"] is None
    assert event["time_zone"] is None  # the site's TIME_ZONE


async def test_an_event_keeps_the_time_zone_of_its_venue(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    body = {"name": "Forró", "venue": "Recife", "starts_at": iso(START)}
    created = await client.post(
        "/events", headers=partner.headers, json={**body, "time_zone": "America/Recife"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["time_zone"] == "America/Recife"
    path = f"/events/{created.json()['id']}"
    moved = await client.patch(path, headers=partner.headers, json={"time_zone": "Europe/Lisbon"})
    assert moved.status_code == 200 and moved.json()["time_zone"] == "Europe/Lisbon"
    refused = await client.patch(path, headers=partner.headers, json={"time_zone": "Nowhere/X"})
    assert_problem(refused, 422, "validation_error", "time_zone")
    cleared = await client.patch(path, headers=partner.headers, json={"time_zone": None})
    assert cleared.json()["time_zone"] is None


@pytest.mark.parametrize(
    ("fields", "status", "mentions"),
    [
        ({"ends_at": iso(START - timedelta(minutes=1))}, 422, "ends_at"),
        ({"starts_at": "2031-05-01T20:00:00"}, 422, "starts_at"),
        ({"ends_at": "2031-05-01T23:00:00"}, 422, "ends_at"),
        ({"starts_at": "0001-01-01T00:00:00+05:00"}, 422, "starts_at"),
        ({"starts_at": "not a date"}, 422, "starts_at"),
        ({"starts_at": ["2031-05-01T20:00:00+00:00"]}, 422, "starts_at"),
        ({"name": "   "}, 422, "name"),
        ({"name": ""}, 422, "name"),
        ({"name": "x" * 201}, 422, "name"),
        ({"name": 42}, 422, "name"),
        ({"name": None}, 422, "name"),
        ({"venue": "v" * 301}, 422, "venue"),
        ({"description": "d" * 10_001}, 422, "description"),
        ({"description": "nul\x00byte"}, 422, "description"),
        ({"cover_image_url": "javascript:alert(1)"}, 422, "cover_image_url"),
        ({"status": "published"}, 422, "status"),
        ({"time_zone": "Mars/Olympus_Mons"}, 422, "time_zone"),
        ({"time_zone": "America/Sao Paulo"}, 422, "time_zone"),
    ],
)
async def test_create_refuses_invalid_fields(
    client: AsyncTestClient[Any],
    partner: Actor,
    fields: dict[str, Any],
    status: int,
    mentions: str,
) -> None:
    body = {"name": "Show", "venue": "Hall", "starts_at": iso(START), **fields}
    response = await client.post("/events", headers=partner.headers, json=body)
    assert_problem(response, status, "validation_error", mentions)


async def test_create_requires_name_venue_and_start(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    for missing in ("name", "venue", "starts_at"):
        body = {"name": "Show", "venue": "Hall", "starts_at": iso(START)}
        del body[missing]
        response = await client.post("/events", headers=partner.headers, json=body)
        assert_problem(response, 422, "validation_error", missing)


async def test_draft_is_seen_only_by_its_owner(
    client: AsyncTestClient[Any], partner: Actor, other_partner: Actor, customer: Actor
) -> None:
    word = token()
    draft = await create_event(client, partner, name=f"Secret {word}")
    staff = await make_staff(client, partner)
    assert (await client.get(f"/events/{draft['id']}", headers=partner.headers)).status_code == 200
    for headers in ({}, other_partner.headers, customer.headers, staff.headers):
        response = await client.get(f"/events/{draft['id']}", headers=headers)
        assert_problem(response, 404, "not_found")
    assert await list_all(client, "/events", q=word) == []
    own = await list_all(client, "/partner/events", partner.headers, q=word)
    assert [e["id"] for e in own] == [draft["id"]]


async def test_publish_puts_the_event_in_the_public_list(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    word = token()
    event = await create_event(client, partner, name=f"Gala {word}")
    published = await client.post(f"/events/{event['id']}/publish", headers=partner.headers)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    again = await client.post(f"/events/{event['id']}/publish", headers=partner.headers)
    assert again.status_code == 200
    listed = await list_all(client, "/events", q=word)
    assert [e["id"] for e in listed] == [event["id"]]
    assert set(listed[0]) == EVENT_KEYS
    anonymous = await client.get(f"/events/{event['id']}")
    assert anonymous.status_code == 200
    assert anonymous.json()["status"] == "published"


async def test_cancelled_event_is_visible_and_cannot_be_published_or_put_on_sale(
    client: AsyncTestClient[Any], partner: Actor, resources: Resources
) -> None:
    event = await published_event(client, partner)
    await resources.pool.execute(
        "UPDATE events SET status = 'cancelled' WHERE id = $1", event["id"]
    )
    seen = await client.get(f"/events/{event['id']}")
    assert seen.status_code == 200
    assert seen.json()["status"] == "cancelled"
    response = await client.post(f"/events/{event['id']}/publish", headers=partner.headers)
    assert_problem(response, 409, "invalid_state")
    now = datetime.now(UTC)
    response = await client.put(
        f"/events/{event['id']}/sale",
        headers=partner.headers,
        json=sale_window(now, now + timedelta(hours=1)),
    )
    assert_problem(response, 409, "invalid_state")


# --- browse: search, dates, pages ---


async def test_search_matches_words_anywhere_and_short_prefixes_of_the_name(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    word = token()
    by_name = await published_event(client, partner, name=f"Rock {word}alpha night")
    by_venue = await published_event(client, partner, venue=f"Hall {word}venue")
    by_text = await published_event(client, partner, description=f"with {word}desc guests")
    await create_event(client, partner, name=f"Draft {word}alpha")  # drafts never show

    async def found(q: str) -> set[int]:
        return {e["id"] for e in await list_all(client, "/events", q=q)}

    assert await found(f"{word}alpha") == {by_name["id"]}
    assert await found(f"{word}venue") == {by_venue["id"]}
    assert await found(f"{word}desc") == {by_text["id"]}
    assert await found(f"rock {word}alpha") == {by_name["id"]}
    # a short query is a part of the name, not a whole word
    assert await found(word[:-2]) >= {by_name["id"]}
    assert await found(f"{word}al") == {by_name["id"]}
    assert await found(f"{word}zzz") == set()


async def test_search_treats_wildcards_and_punctuation_as_text(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    word = token()
    event = await published_event(client, partner, name=f"100% {word} & friends")
    for q in ("%", "_", "100%", "&", "!", "'", "\\", ":*", "a|b"):
        response = await client.get("/events", params={"q": q})
        assert response.status_code == 200, (q, response.text)
    matches = await list_all(client, "/events", q=f"100% {word}")
    assert [e["id"] for e in matches] == [event["id"]]
    assert await list_all(client, "/events", q=f"{word[:6]}_{word[7:]}") == []
    assert await list_all(client, "/events", q=f"{word[:6]}%{word[7:]}") == []


async def test_date_filters_bound_starts_at_inclusively(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    word = token()
    days = [
        await published_event(
            client, partner, name=f"Day {word}", starts_at=iso(START + timedelta(days=d))
        )
        for d in (0, 1, 2)
    ]

    async def found(**params: Any) -> list[int]:
        return [e["id"] for e in await list_all(client, "/events", q=word, **params)]

    everything = [e["id"] for e in days]
    assert await found() == everything
    assert await found(**{"from": iso(START + timedelta(days=1))}) == everything[1:]
    assert await found(to=iso(START + timedelta(days=1))) == everything[:2]
    assert await found(
        **{"from": iso(START + timedelta(hours=1)), "to": iso(START + timedelta(days=1, hours=23))}
    ) == [everything[1]]
    # the same instant written with another offset
    assert await found(**{"from": "2031-05-02T17:00:00-03:00"}) == everything[1:]
    assert await found(**{"from": "2031-05-02T20:00:00Z"}) == everything[1:]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"from": "2031-05-01T20:00:00"},
        {"to": "2031-05-01"},
        {"from": "2031-06-01T00:00:00+00:00", "to": "2031-05-01T00:00:00+00:00"},
        {"q": "x" * 201},
        {"q": "nul\x00"},
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "ten"},
        {"cursor": "%%%"},
        {"cursor": "bm90IGpzb24"},
        {"cursor": "WyJub3QgYSBkYXRlIiwxXQ"},
        {"cursor": "x" * 1001},
    ],
)
async def test_bad_list_queries_are_4xx(
    client: AsyncTestClient[Any], partner: Actor, params: dict[str, str]
) -> None:
    for path, headers in (("/events", {}), ("/partner/events", partner.headers)):
        response = await client.get(path, params=params, headers=headers)
        assert 400 <= response.status_code < 500, (path, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"]


async def test_pages_walk_every_event_once_in_start_order(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    word = token()
    # created out of order, two pairs sharing a start: the id breaks the tie
    offsets = [5, 1, 3, 1, 0, 5, 2]
    created = [
        await published_event(
            client, partner, name=f"Page {word}", starts_at=iso(START + timedelta(hours=h))
        )
        for h in offsets
    ]
    expected = [e["id"] for e in sorted(created, key=lambda e: (e["starts_at"], e["id"]))]
    pages: list[list[int]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": word, "limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/events", params=params)
        assert response.status_code == 200, response.text
        pages.append([e["id"] for e in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [event_id for page in pages for event_id in page] == expected
    default = await client.get("/events", params={"q": word})
    assert [e["id"] for e in default.json()["items"]] == expected
    assert default.json()["next_cursor"] is None


async def test_partner_list_has_own_events_only_drafts_included(
    client: AsyncTestClient[Any], partner: Actor, other_partner: Actor
) -> None:
    mine = [await create_event(client, partner), await published_event(client, partner)]
    await create_event(client, other_partner)
    own = await list_all(client, "/partner/events", partner.headers, limit=1)
    assert [e["id"] for e in own] == [e["id"] for e in mine]
    assert {e["status"] for e in own} == {"draft", "published"}


async def test_partner_list_is_for_partners(
    client: AsyncTestClient[Any], customer: Actor, staff: Actor
) -> None:
    assert_problem(await client.get("/partner/events"), 401, "not_authenticated")
    for actor in (customer, staff):
        assert_problem(await client.get("/partner/events", headers=actor.headers), 403, "forbidden")


# --- edit ---


async def test_patch_changes_only_the_fields_sent(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    event = await create_event(client, partner, ends_at=iso(START + timedelta(hours=3)))
    url = f"/events/{event['id']}"
    renamed = await client.patch(url, headers=partner.headers, json={"name": " Renamed "})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() == {**event, "name": "Renamed"}

    cleared = await client.patch(
        url, headers=partner.headers, json={"ends_at": None, "cover_image_url": None}
    )
    assert cleared.json()["ends_at"] is None
    moved = await client.patch(
        url, headers=partner.headers, json={"starts_at": "2032-01-01T10:00:00+01:00"}
    )
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["starts_at"]) == datetime(2032, 1, 1, 9, tzinfo=UTC)
    assert (await client.patch(url, headers=partner.headers, json={})).status_code == 200
    detail = await client.get(url, headers=partner.headers)
    assert detail.json()["name"] == "Renamed"
    assert detail.json()["status"] == "draft"


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"ends_at": iso(START - timedelta(seconds=1))}, "ends_at"),
        ({"starts_at": iso(START + timedelta(hours=4))}, "ends_at"),
        ({"starts_at": None}, "starts_at"),
        ({"name": None}, "name"),
        ({"name": " "}, "name"),
        ({"venue": ""}, "venue"),
        ({"description": None}, "description"),
        ({"status": "published"}, "status"),
        ({"partner_id": 1}, "partner_id"),
        ({"starts_at": "2031-05-01T20:00:00"}, "starts_at"),
    ],
)
async def test_patch_refuses_an_invalid_result(
    client: AsyncTestClient[Any], partner: Actor, body: dict[str, Any], mentions: str
) -> None:
    event = await create_event(client, partner, ends_at=iso(START + timedelta(hours=3)))
    response = await client.patch(f"/events/{event['id']}", headers=partner.headers, json=body)
    assert_problem(response, 422, "validation_error", mentions)
    unchanged = await client.get(f"/events/{event['id']}", headers=partner.headers)
    assert {k: unchanged.json()[k] for k in EVENT_KEYS} == event


WRITES: list[tuple[str, str, Any]] = [
    ("PATCH", "/events/{id}", {"name": "Taken over"}),
    ("DELETE", "/events/{id}", None),
    ("POST", "/events/{id}/publish", None),
    ("PUT", "/events/{id}/sale", sale_window(START - timedelta(days=9), START)),
    ("PATCH", "/events/{id}/sale", {"hold_seconds": 60}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_writes_are_for_the_owner_only(
    client: AsyncTestClient[Any],
    partner: Actor,
    other_partner: Actor,
    customer: Actor,
    method: str,
    path: str,
    body: Any,
) -> None:
    event = await create_event(client, partner)
    staff = await make_staff(client, partner)
    url = path.format(id=event["id"])
    for headers, status, code in (
        ({}, 401, "not_authenticated"),
        ({"Authorization": "Bearer not-a-token"}, 401, "not_authenticated"),
        (customer.headers, 403, "forbidden"),
        (staff.headers, 403, "forbidden"),
        (other_partner.headers, 404, "not_found"),
    ):
        response = await client.request(method, url, headers=headers, json=body)
        assert_problem(response, status, code)
    unknown = path.format(id=2**62)
    assert_problem(
        await client.request(method, unknown, headers=partner.headers, json=body), 404, "not_found"
    )
    for huge in ("99999999999999999999", "-1", "0"):
        response = await client.request(
            method, path.format(id=huge), headers=partner.headers, json=body
        )
        assert 400 <= response.status_code < 500, (huge, response.text)
        assert response.json()["code"]
    after = await client.get(f"/events/{event['id']}", headers=partner.headers)
    assert {k: after.json()[k] for k in EVENT_KEYS} == event


async def test_create_is_for_partners(
    client: AsyncTestClient[Any], customer: Actor, staff: Actor
) -> None:
    body = {"name": "Show", "venue": "Hall", "starts_at": iso(START)}
    assert_problem(await client.post("/events", json=body), 401, "not_authenticated")
    for actor in (customer, staff):
        response = await client.post("/events", headers=actor.headers, json=body)
        assert_problem(response, 403, "forbidden")


# --- delete ---


async def test_delete_removes_an_event_without_sales(
    client: AsyncTestClient[Any], partner: Actor, resources: Resources
) -> None:
    event = await published_event(client, partner)
    await resources.pool.execute(
        "INSERT INTO seats (event_id, label, price_cents) VALUES ($1, 'A1', 100)", event["id"]
    )
    response = await client.delete(f"/events/{event['id']}", headers=partner.headers)
    assert response.status_code == 204, response.text
    assert_problem(await client.get(f"/events/{event['id']}"), 404, "not_found")
    again = await client.delete(f"/events/{event['id']}", headers=partner.headers)
    assert_problem(again, 404, "not_found")


async def test_delete_refuses_an_event_with_a_sold_seat(
    client: AsyncTestClient[Any], partner: Actor, resources: Resources
) -> None:
    event = await published_event(client, partner)
    await resources.pool.execute(
        """INSERT INTO seats (event_id, label, price_cents, status)
           VALUES ($1, 'A1', 100, 'sold'), ($1, 'A2', 100, 'available')""",
        event["id"],
    )
    response = await client.delete(f"/events/{event['id']}", headers=partner.headers)
    assert_problem(response, 409, "event_has_sales")
    still = await client.get(f"/events/{event['id']}")
    assert still.status_code == 200
    assert still.json()["availability"] == {"available": 1, "held": 0, "sold": 1}


async def test_delete_refuses_an_event_with_sold_general_admission(
    client: AsyncTestClient[Any], partner: Actor, resources: Resources
) -> None:
    event = await create_event(client, partner)
    await resources.pool.execute(
        """INSERT INTO ticket_types (event_id, name, price_cents, quantity, sold)
           VALUES ($1, 'General', 500, 10, 3)""",
        event["id"],
    )
    response = await client.delete(f"/events/{event['id']}", headers=partner.headers)
    assert_problem(response, 409, "event_has_sales")


# --- on-sale window ---


async def test_put_sale_opens_a_window_with_defaults(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    event = await create_event(client, partner)
    opens, closes = START - timedelta(days=30), START - timedelta(hours=1)
    response = await client.put(
        f"/events/{event['id']}/sale", headers=partner.headers, json=sale_window(opens, closes)
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == EVENT_KEYS
    sale = response.json()["sale"]
    assert datetime.fromisoformat(sale["starts_at"]) == opens
    assert datetime.fromisoformat(sale["ends_at"]) == closes
    assert sale["hold_seconds"] == 900
    assert sale["max_tickets_per_customer"] == 10
    assert sale["waiting_room"] == {
        "enabled": False,
        "admit_per_minute": None,
        "max_active": None,
        "paused": False,
    }
    replaced = await client.put(
        f"/events/{event['id']}/sale",
        headers=partner.headers,
        json=sale_window(
            opens,
            closes,
            hold_seconds=60,
            max_tickets_per_customer=2,
            waiting_room={"enabled": True, "admit_per_minute": 100, "max_active": 50},
        ),
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["sale"]["hold_seconds"] == 60
    assert replaced.json()["sale"]["max_tickets_per_customer"] == 2
    assert replaced.json()["sale"]["waiting_room"] == {
        "enabled": True,
        "admit_per_minute": 100,
        "max_active": 50,
        "paused": False,
    }
    detail = await client.get(f"/events/{event['id']}", headers=partner.headers)
    assert detail.json()["sale"] == replaced.json()["sale"]


SALE_OPENS = START - timedelta(days=30)
SALE_CLOSES = START - timedelta(days=1)


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (sale_window(SALE_OPENS, SALE_OPENS), "ends_at"),
        (sale_window(SALE_CLOSES, SALE_OPENS), "ends_at"),
        ({**sale_window(SALE_OPENS, SALE_CLOSES), "hold_seconds": 0}, "hold_seconds"),
        ({**sale_window(SALE_OPENS, SALE_CLOSES), "hold_seconds": 86_401}, "hold_seconds"),
        ({**sale_window(SALE_OPENS, SALE_CLOSES), "hold_seconds": -5}, "hold_seconds"),
        ({**sale_window(SALE_OPENS, SALE_CLOSES), "hold_seconds": [900]}, "hold_seconds"),
        ({**sale_window(SALE_OPENS, SALE_CLOSES), "hold_seconds": 1.5}, "hold_seconds"),
        (
            {**sale_window(SALE_OPENS, SALE_CLOSES), "max_tickets_per_customer": 0},
            "max_tickets_per_customer",
        ),
        (
            {**sale_window(SALE_OPENS, SALE_CLOSES), "waiting_room": {"enabled": True}},
            "waiting_room.admit_per_minute",
        ),
        (
            {
                **sale_window(SALE_OPENS, SALE_CLOSES),
                "waiting_room": {"enabled": True, "admit_per_minute": 10},
            },
            "waiting_room.max_active",
        ),
        (
            {
                **sale_window(SALE_OPENS, SALE_CLOSES),
                "waiting_room": {"enabled": "yes", "admit_per_minute": 10, "max_active": 5},
            },
            "enabled",
        ),
        (
            {
                **sale_window(SALE_OPENS, SALE_CLOSES),
                "waiting_room": {"enabled": True, "admit_per_minute": -1, "max_active": 5},
            },
            "admit_per_minute",
        ),
        ({**sale_window(SALE_OPENS, SALE_CLOSES), "waiting_room": None}, "waiting_room"),
        ({"starts_at": "2031-04-01T00:00:00", "ends_at": iso(SALE_CLOSES)}, "starts_at"),
        ({"ends_at": iso(SALE_CLOSES)}, "starts_at"),
        ({**sale_window(SALE_OPENS, SALE_CLOSES), "window": 1}, "window"),
    ],
)
async def test_put_sale_refuses_an_invalid_window(
    client: AsyncTestClient[Any], partner: Actor, body: dict[str, Any], mentions: str
) -> None:
    event = await create_event(client, partner)
    response = await client.put(f"/events/{event['id']}/sale", headers=partner.headers, json=body)
    assert_problem(response, 422, "validation_error", mentions)
    assert (await client.get(f"/events/{event['id']}", headers=partner.headers)).json()[
        "sale"
    ] is None


async def test_patch_sale_needs_an_open_window(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    event = await create_event(client, partner)
    response = await client.patch(
        f"/events/{event['id']}/sale", headers=partner.headers, json={"hold_seconds": 60}
    )
    assert_problem(response, 409, "invalid_state")


async def test_patch_sale_changes_only_what_is_sent(
    client: AsyncTestClient[Any], partner: Actor
) -> None:
    event = await create_event(client, partner)
    url = f"/events/{event['id']}/sale"
    opened = await client.put(
        url,
        headers=partner.headers,
        json={
            **sale_window(SALE_OPENS, SALE_CLOSES),
            "waiting_room": {"enabled": True, "admit_per_minute": 60, "max_active": 100},
        },
    )
    assert opened.status_code == 200, opened.text
    sale = opened.json()["sale"]

    paused = await client.patch(
        url, headers=partner.headers, json={"waiting_room": {"paused": True}}
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["sale"] == {
        **sale,
        "waiting_room": {**sale["waiting_room"], "paused": True},
    }

    early = SALE_CLOSES - timedelta(days=10)
    closed = await client.patch(
        url, headers=partner.headers, json={"ends_at": iso(early), "hold_seconds": 120}
    )
    assert closed.status_code == 200, closed.text
    assert datetime.fromisoformat(closed.json()["sale"]["ends_at"]) == early
    assert closed.json()["sale"]["hold_seconds"] == 120
    assert closed.json()["sale"]["waiting_room"]["paused"] is True

    for body, mentions in (
        ({"ends_at": iso(SALE_OPENS)}, "ends_at"),
        ({"starts_at": iso(early)}, "ends_at"),
        ({"waiting_room": {"max_active": None}}, "waiting_room.max_active"),
        ({"waiting_room": {"admit_per_minute": 0}}, "admit_per_minute"),
        ({"hold_seconds": None}, "hold_seconds"),
        ({"starts_at": "2031-04-01T00:00:00"}, "starts_at"),
    ):
        response = await client.patch(url, headers=partner.headers, json=body)
        assert_problem(response, 422, "validation_error", mentions)
    # switching the room off lets its settings go
    off = await client.patch(
        url,
        headers=partner.headers,
        json={"waiting_room": {"enabled": False, "admit_per_minute": None, "max_active": None}},
    )
    assert off.status_code == 200, off.text
    assert off.json()["sale"]["waiting_room"] == {
        "enabled": False,
        "admit_per_minute": None,
        "max_active": None,
        "paused": True,
    }


# --- the sale engine sees the window; visitors see live counts ---


async def test_open_window_lets_customers_claim_and_counts_go_live(
    client: AsyncTestClient[Any], partner: Actor, customer: Actor, resources: Resources
) -> None:
    word = token()
    event = await published_event(client, partner, name=f"Live {word}")
    type_id = await resources.pool.fetchval(
        """INSERT INTO ticket_types (event_id, name, price_cents, quantity)
           VALUES ($1, 'General', 2500, 5) RETURNING id""",
        event["id"],
    )
    order_body = {"items": [{"ticket_type_id": type_id, "quantity": 2}]}
    before = await client.post("/orders", headers=customer.headers, json=order_body)
    assert before.status_code in (404, 409), before.text  # no window: nothing on sale

    now = datetime.now(UTC)
    url = f"/events/{event['id']}/sale"
    opened = await client.put(
        url,
        headers=partner.headers,
        json=sale_window(now - timedelta(minutes=1), now + timedelta(hours=1)),
    )
    assert opened.status_code == 200, opened.text
    assert opened.json()["availability"] == {"available": 5, "held": 0, "sold": 0}
    order = await client.post("/orders", headers=customer.headers, json=order_body)
    assert order.status_code == 201, order.text

    detail = (await client.get(f"/events/{event['id']}")).json()
    assert detail["availability"] == {"available": 3, "held": 2, "sold": 0}
    assert detail["ticket_types"] == [
        {
            "id": type_id,
            "event_id": event["id"],
            "name": "General",
            "price_cents": 2500,
            "quantity": 5,
            "available": 3,
        }
    ]
    listed = await list_all(client, "/events", q=word)
    assert listed[0]["availability"] == {"available": 3, "held": 2, "sold": 0}
    # a hold is a sale in progress: the event cannot go
    response = await client.delete(f"/events/{event['id']}", headers=partner.headers)
    assert_problem(response, 409, "event_has_sales")

    # closing the window early is seen by the next claim
    closed = await client.patch(url, headers=partner.headers, json={"ends_at": iso(now)})
    assert closed.status_code == 200, closed.text
    refused = await client.post(
        "/orders",
        headers=customer.headers,
        json={"items": [{"ticket_type_id": type_id, "quantity": 1}]},
    )
    assert_problem(refused, 409, "sale_not_open")


async def test_a_live_event_without_holds_can_be_deleted_and_leaves_the_sale(
    client: AsyncTestClient[Any], partner: Actor, customer: Actor, resources: Resources
) -> None:
    event = await published_event(client, partner)
    seat_id = await resources.pool.fetchval(
        "INSERT INTO seats (event_id, label, price_cents) VALUES ($1, 'A1', 100) RETURNING id",
        event["id"],
    )
    now = datetime.now(UTC)
    opened = await client.put(
        f"/events/{event['id']}/sale",
        headers=partner.headers,
        json=sale_window(now - timedelta(minutes=1), now + timedelta(hours=1)),
    )
    assert opened.json()["availability"] == {"available": 1, "held": 0, "sold": 0}
    deleted = await client.delete(f"/events/{event['id']}", headers=partner.headers)
    assert deleted.status_code == 204, deleted.text
    order = await client.post(
        "/orders",
        headers=customer.headers,
        json={"items": [{"event_id": event["id"], "seat_ids": [seat_id]}]},
    )
    assert 400 <= order.status_code < 500, order.text
    assert order.status_code != 201


async def test_draft_with_a_window_is_not_on_sale_until_published(
    client: AsyncTestClient[Any], partner: Actor, customer: Actor, resources: Resources
) -> None:
    event = await create_event(client, partner)
    seat_id = await resources.pool.fetchval(
        "INSERT INTO seats (event_id, label, price_cents) VALUES ($1, 'A1', 100) RETURNING id",
        event["id"],
    )
    now = datetime.now(UTC)
    await client.put(
        f"/events/{event['id']}/sale",
        headers=partner.headers,
        json=sale_window(now - timedelta(minutes=1), now + timedelta(hours=1)),
    )
    body = {"items": [{"event_id": event["id"], "seat_ids": [seat_id]}]}
    refused = await client.post("/orders", headers=customer.headers, json=body)
    assert_problem(refused, 409, "sale_not_open")
    await client.post(f"/events/{event['id']}/publish", headers=partner.headers)
    order = await client.post("/orders", headers=customer.headers, json=body)
    assert order.status_code == 201, order.text
    seen = await client.get(f"/events/{event['id']}")
    assert seen.json()["availability"] == {"available": 0, "held": 1, "sold": 0}


async def test_list_counts_come_from_postgresql_for_events_not_on_sale(
    client: AsyncTestClient[Any], partner: Actor, resources: Resources
) -> None:
    word = token()
    seats = await published_event(client, partner, name=f"Counts {word}")
    general = await published_event(client, partner, name=f"Counts {word}")
    empty = await published_event(client, partner, name=f"Counts {word}")
    await resources.pool.execute(
        """INSERT INTO seats (event_id, label, price_cents, status)
           SELECT $1, 'S' || n, 100, CASE WHEN n <= 2 THEN 'sold' ELSE 'available' END
             FROM generate_series(1, 10) n""",
        seats["id"],
    )
    await resources.pool.execute(
        """INSERT INTO ticket_types (event_id, name, price_cents, quantity, sold)
           VALUES ($1, 'A', 100, 50, 7), ($1, 'B', 100, 20, 0)""",
        general["id"],
    )
    listed = {e["id"]: e["availability"] for e in await list_all(client, "/events", q=word)}
    assert listed == {
        seats["id"]: {"available": 8, "held": 0, "sold": 2},
        general["id"]: {"available": 63, "held": 0, "sold": 7},
        empty["id"]: {"available": 0, "held": 0, "sold": 0},
    }


# --- bad input never reaches the database ---


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [
        ("POST", "/events", b"{"),
        ("POST", "/events", b'{"name": }'),
        ("POST", "/events", b"[]"),
        ("POST", "/events", b"null"),
        ("POST", "/events", b"\xff\xfe"),
        ("POST", "/events", b""),
        ("PATCH", "/events/{id}", b"{"),
        ("PATCH", "/events/{id}", b'"text"'),
        ("PUT", "/events/{id}/sale", b"{"),
        ("PUT", "/events/{id}/sale", b"12"),
        ("PATCH", "/events/{id}/sale", b'{"waiting_room": ' * 300),
    ],
)
async def test_malformed_bodies_are_4xx(
    client: AsyncTestClient[Any], partner: Actor, method: str, path: str, raw: bytes
) -> None:
    event = await create_event(client, partner)
    response = await client.request(
        method,
        path.format(id=event["id"]),
        headers={**partner.headers, "content-type": "application/json"},
        content=raw,
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"]


@pytest.mark.parametrize(
    "path",
    [
        "/events/99999999999999999999",
        "/events/9223372036854775808",
        "/events/-1",
        "/events/0",
        "/events/abc",
        "/events/1.5",
    ],
)
async def test_bad_event_ids_are_4xx(client: AsyncTestClient[Any], path: str) -> None:
    response = await client.get(path)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"]


async def test_largest_id_is_simply_not_found(client: AsyncTestClient[Any]) -> None:
    assert_problem(await client.get(f"/events/{2**63 - 1}"), 404, "not_found")

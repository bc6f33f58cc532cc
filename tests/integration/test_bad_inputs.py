"""Bad input on every body-taking endpoint: always a 4xx problem+json with a `code` that
names the problem, never a 5xx. Each field of a valid body is replaced in turn by values of
the wrong type, the wrong size and the wrong sign; then the whole body is broken."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine.pagination import encode_cursor
from tests.integration.test_authorization_matrix import FUTURE, SALE_BODY, World, world

__all__ = ["world"]

BAD_VALUES: list[Any] = [
    None,
    "",
    "x" * 100_000,
    "nul\x00byte",
    -1,
    0,
    10**30,
    -(10**30),
    1.5,
    True,
    [],
    {},
    [1] * 10_000,
    {"nested": {"deeper": [{"x": 1}]}},
    "2020-13-45T99:99:99",
    "2031-05-01T20:00:00",  # no offset
]

# (who, method, path, a valid body)
ENDPOINTS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "anon",
        "POST",
        "/auth/register",
        {
            "role": "customer",
            "name": "N",
            "password": "long-pass-1",
            "email": "bad-input@example.com",
        },
    ),
    ("anon", "POST", "/auth/login", {"email": "nobody@example.com", "password": "long-pass-1"}),
    (
        "owner",
        "POST",
        "/partner/staff",
        {"name": "S", "email": "s-bad@example.com", "password": "long-pass-1"},
    ),
    (
        "owner",
        "POST",
        "/events",
        {"name": "Show", "description": "d", "venue": "Hall", "starts_at": FUTURE},
    ),
    ("owner", "PATCH", "/events/{event}", {"name": "Renamed", "venue": "Hall"}),
    (
        "owner",
        "PUT",
        "/events/{event}/sale",
        {
            "starts_at": "2030-01-01T00:00:00+00:00",
            "ends_at": "2030-02-01T00:00:00+00:00",
            "hold_seconds": 60,
            "max_tickets_per_customer": 4,
            "waiting_room": {"enabled": True, "admit_per_minute": 10, "max_active": 10},
        },
    ),
    (
        "owner",
        "POST",
        "/events/{event}/seats",
        {"rows": ["Q"], "seats_per_row": 2, "price_cents": 100},
    ),
    ("owner", "PATCH", "/seats/{seat}", {"price_cents": 100, "section": "A"}),
    (
        "owner",
        "POST",
        "/events/{event}/ticket-types",
        {"name": "VIP", "price_cents": 1, "quantity": 1},
    ),
    ("owner", "PATCH", "/ticket-types/{type}", {"name": "VIP", "quantity": 50}),
    ("owner", "POST", "/attractions", {"name": "Band", "genre": "rock"}),
    ("owner", "PATCH", "/attractions/{attraction}", {"name": "Band", "genre": "pop"}),
    ("owner", "POST", "/events/{event}/lineup", {"attraction_id": 1, "performs_at": FUTURE}),
    ("customer", "POST", "/orders", {"items": [{"event_id": 1, "seat_ids": [1]}]}),
    ("customer", "POST", "/orders/{order}/pay", {"payment_token": "tok_visa"}),
]


def actor_headers(world: World, who: str) -> dict[str, str]:
    return {} if who == "anon" else getattr(world, who).headers


def check(response: Any, context: Any) -> None:
    assert response.status_code < 500, (context, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), context
        body = response.json()
        assert body["code"], context
        assert body["detail"], context


@pytest.mark.parametrize(("who", "method", "path", "valid"), ENDPOINTS)
async def test_every_field_with_bad_values(
    client: AsyncTestClient[Any],
    world: World,
    who: str,
    method: str,
    path: str,
    valid: dict[str, Any],
) -> None:
    url = path.format(**world.ids)
    for field in valid:
        for bad in BAD_VALUES:
            body = {**valid, field: bad}
            response = await client.request(
                method, url, headers=actor_headers(world, who), json=body
            )
            check(response, (method, path, field, repr(bad)[:40]))


@pytest.mark.parametrize(("who", "method", "path", "valid"), ENDPOINTS)
async def test_broken_bodies(
    client: AsyncTestClient[Any],
    world: World,
    who: str,
    method: str,
    path: str,
    valid: dict[str, Any],
) -> None:
    url = path.format(**world.ids)
    headers = {**actor_headers(world, who), "content-type": "application/json"}
    for raw in (
        b"{",
        b'{"a": }',
        b"[]",
        b'"text"',
        b"12",
        b"null",
        b"\xff\xfe",
        b'{"items": [' * 500,
        b"",
    ):
        response = await client.request(method, url, headers=headers, content=raw)
        check(response, (method, path, raw[:20]))
        assert response.status_code >= 400, (method, path, raw[:20])


@pytest.mark.parametrize(
    "path",
    [
        "/events/99999999999999999999",
        "/events/-1",
        "/events/abc",
        "/seats/99999999999999999999",
        "/orders/" + "9" * 300,
        "/events/1/seats?limit=0",
        "/events/1/seats?limit=100000",
        "/events/1/seats?cursor=%%%",
        "/events?from=yesterday",
    ],
)
async def test_bad_paths_and_queries(client: AsyncTestClient[Any], world: World, path: str) -> None:
    response = await client.get(path, headers=world.customer.headers)
    check(response, path)
    assert response.status_code >= 400, path


def problem_code(response: Any, context: Any) -> str:
    """The `code` of a 4xx problem+json answer; fails on anything else."""
    assert 400 <= response.status_code < 500, (context, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), context
    code: str = response.json()["code"]
    assert code, context
    return code


def lowercase_bearer(headers: dict[str, str]) -> dict[str, str]:
    """The same token under `bearer` (the scheme is case-insensitive, on every path)."""
    return {"Authorization": "bearer " + headers["Authorization"].removeprefix("Bearer ")}


def hot_and_documented(
    client: AsyncTestClient[Any], documented: AsyncTestClient[Any], headers: dict[str, str]
) -> list[tuple[AsyncTestClient[Any], dict[str, str]]]:
    """The app (hot paths first, under either spelling of the scheme) and the app without
    hot paths (the documented handlers), with `headers`."""
    if not headers:
        return [(client, headers), (documented, headers)]
    return [(client, headers), (client, lowercase_bearer(headers)), (documented, headers)]


# (who, path, a JSON body with a string that is not UTF-8); hot paths and documented handlers
NON_UTF8: list[tuple[str, str, bytes]] = [
    ("customer", "/orders", b'{"items": [{"event_id": 1, "seat_ids": [1]}], "x": "\xff\xfe"}'),
    ("customer", "/orders", b'{"items": "\xff\xfe"}'),
    ("owner", "/events", b'{"name": "\xff\xfe", "venue": "Hall", "starts_at": "%s"}'),
    (
        "anon",
        "/auth/register",
        b'{"role": "customer", "name": "\xff\xfe", "email": "a@b.co", "password": "long-pass-1"}',
    ),
    ("anon", "/auth/login", b'{"email": "\xff\xfe@example.com", "password": "long-pass-1"}'),
    ("staff", "/tickets/validate", b'{"code": "\xff\xfe"}'),
    ("staff", "/tickets/validate", b'{"code": "1", "gate": "\xff\xfe"}'),
]


@pytest.mark.parametrize(("who", "path", "raw"), NON_UTF8)
async def test_bodies_that_are_not_utf8_are_400(
    client: AsyncTestClient[Any],
    documented: AsyncTestClient[Any],
    world: World,
    who: str,
    path: str,
    raw: bytes,
) -> None:
    raw = raw.replace(b"%s", FUTURE.encode())
    for app, auth in hot_and_documented(client, documented, actor_headers(world, who)):
        response = await app.post(
            path, headers={**auth, "content-type": "application/json"}, content=raw
        )
        assert problem_code(response, (path, auth)) == "malformed_json"
        assert response.status_code == 400


CRAFTED_CURSORS = [
    "WzEuNSwiYSJd",  # [1.5,"a"]
    "WyIyMDMwLTAxLTAxIiwgImFiYyJd",  # ["2030-01-01", "abc"]
    encode_cursor("0001-01-01T00:00:00+05:00", "1-00000000000000000000"),
    encode_cursor("0001-01-01T00:00:00+05:00", 1),
    encode_cursor("2030-01-01T00:00:00+00:00", 10**30),
    encode_cursor("2030-01-01T00:00:00+00:00", True),
    encode_cursor("2030-01-01T00:00:00+00:00", [1]),
    encode_cursor("2030-01-01T00:00:00", 1),
    encode_cursor("2030-01-01T00:00:00+00:00", 1, 2),
    encode_cursor({"a": 1}, 1),
    encode_cursor(None, None),
    base64.urlsafe_b64encode(b'["\xff", 1]').decode(),
    base64.urlsafe_b64encode(b"[" * 2000 + b"]" * 2000).decode()[:1000],
]


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("customer", "/me/orders"),
        ("owner", "/partner/events/{event}/orders"),
        ("owner", "/events/{event}/revoked"),
        ("staff", "/events/{event}/revoked"),
    ],
)
async def test_crafted_cursors_are_invalid_cursor(
    client: AsyncTestClient[Any], world: World, who: str, path: str
) -> None:
    url = path.format(**world.ids)
    for cursor in CRAFTED_CURSORS:
        response = await client.get(
            url, headers=actor_headers(world, who), params={"cursor": cursor}
        )
        assert problem_code(response, (path, cursor)) == "invalid_cursor", cursor
        assert response.status_code == 422


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/events/{event}/revoked", {"since": "0001-01-01T00:00:00+05:00"}),
        ("/events/{event}/revoked", {"since": "9999-12-31T23:59:59-05:00"}),
        ("/events/{event}/revoked", {"since": "0001-01-01T00:00:00"}),
        ("/events", {"from": "0001-01-01T00:00:00+05:00"}),
        ("/events", {"to": "9999-12-31T23:59:59-05:00"}),
        ("/partner/events", {"from": "0001-01-01T00:00:00+05:00"}),
    ],
)
async def test_moments_out_of_range_are_422(
    client: AsyncTestClient[Any], world: World, path: str, query: dict[str, str]
) -> None:
    url = path.format(**world.ids)
    response = await client.get(url, headers=world.owner.headers, params=query)
    assert problem_code(response, (path, query)) == "validation_error"
    assert response.status_code == 422


DEEP_GATE = b'{"code": "1", "gate": ' + b"[" * 2000 + b"]" * 2000 + b"}"


async def test_deeply_nested_bodies_are_4xx_problems(
    client: AsyncTestClient[Any], documented: AsyncTestClient[Any], world: World
) -> None:
    """Deep nesting on the scan hot path and on its documented handler alike."""
    json_type = {"content-type": "application/json"}
    for app, auth in hot_and_documented(client, documented, world.staff.headers):
        response = await app.post(
            "/tickets/validate", headers={**auth, **json_type}, content=DEEP_GATE
        )
        problem_code(response, auth)
    deep_items = b'{"items": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    for app, auth in hot_and_documented(client, documented, world.customer.headers):
        response = await app.post("/orders", headers={**auth, **json_type}, content=deep_items)
        problem_code(response, auth)


def loose_numbers(body: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(field, body) with one integer or boolean of `body` in a type JSON only resembles:
    `"2"` and `2.0` for 2, `"true"` and `1` for true."""
    if isinstance(body, dict):
        for key, value in body.items():
            for field, changed in loose_numbers(value, f"{path}.{key}"):
                yield field, {**body, key: changed}
    elif isinstance(body, list):
        for index, value in enumerate(body):
            for field, changed in loose_numbers(value, f"{path}[{index}]"):
                yield field, [*body[:index], changed, *body[index + 1 :]]
    elif isinstance(body, bool):
        yield path, str(body).lower()
        yield path, int(body)
    elif isinstance(body, int):
        yield path, str(body)
        yield path, float(body)


# the endpoints whose bodies hold numbers or booleans
STRICT_ENDPOINTS = [
    endpoint
    for endpoint in [
        *ENDPOINTS,
        ("owner", "PUT", "/events/{event}/sale", {**SALE_BODY, "waiting_room": {"enabled": False}}),
        ("customer", "POST", "/orders", {"items": [{"ticket_type_id": 1, "quantity": 2}]}),
    ]
    if any(loose_numbers(endpoint[3]))
]


@pytest.mark.parametrize(("who", "method", "path", "valid"), STRICT_ENDPOINTS)
async def test_numbers_and_booleans_are_strict(
    client: AsyncTestClient[Any],
    documented: AsyncTestClient[Any],
    world: World,
    who: str,
    method: str,
    path: str,
    valid: dict[str, Any],
) -> None:
    """`"quantity": "2"` or `2.0` is 422 naming the field, on the hot paths
    and the documented handlers alike."""
    url = path.format(**world.ids)
    variants = hot_and_documented(client, documented, actor_headers(world, who))
    for field, body in loose_numbers(valid):
        for app, auth in variants:
            response = await app.request(method, url, headers=auth, json=body)
            context = (method, path, field, body, auth)
            assert problem_code(response, context) == "validation_error"
            assert response.status_code == 422, context
            assert field.lstrip(".").replace("[", ".").replace("]", "") in response.text, context


# every endpoint with a JSON body, and the scan hot path
MEDIA_ENDPOINTS = [
    *ENDPOINTS,
    ("staff", "POST", "/tickets/validate", {"code": "1"}),
]
REFUSED_TYPES = [
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "text/json",
    "application/jsonx",
    "application/json; charset=latin-1",
    None,
]
ACCEPTED_TYPES = ["application/json; charset=UTF-8", "Application/JSON", "application/vnd.x+json"]


@pytest.mark.parametrize(("who", "method", "path", "valid"), MEDIA_ENDPOINTS)
async def test_bodies_not_declared_json_are_415(
    client: AsyncTestClient[Any],
    documented: AsyncTestClient[Any],
    world: World,
    who: str,
    method: str,
    path: str,
    valid: dict[str, Any],
) -> None:
    url = path.format(**world.ids)
    raw = json.dumps(valid).encode()
    for app, auth in hot_and_documented(client, documented, actor_headers(world, who)):
        for content_type in REFUSED_TYPES:
            sent = {**auth, "content-type": content_type} if content_type else auth
            response = await app.request(method, url, headers=sent, content=raw)
            context = (method, path, content_type, auth)
            assert problem_code(response, context) == "unsupported_media_type"
            assert response.status_code == 415, context
        for content_type in ACCEPTED_TYPES:
            sent = {**auth, "content-type": content_type}
            response = await app.request(method, url, headers=sent, content=raw)
            assert response.status_code not in (415,) and response.status_code < 500, (
                method,
                path,
                content_type,
                response.text,
            )


async def test_a_body_on_an_endpoint_that_takes_none_is_ignored(
    client: AsyncTestClient[Any], world: World
) -> None:
    """Only a body that is read must be JSON: a stray one elsewhere changes nothing."""
    response = await client.request(
        "GET",
        f"/events/{world.ids['event']}",
        headers={**world.customer.headers, "content-type": "text/plain"},
        content=b"hello",
    )
    assert response.status_code == 200, response.text

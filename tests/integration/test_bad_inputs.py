"""Bad input on every body-taking endpoint: always a 4xx problem+json with a `code` that
names the problem, never a 5xx. Each field of a valid body is replaced in turn by values of
the wrong type, the wrong size and the wrong sign; then the whole body is broken."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.integration.test_authorization_matrix import FUTURE, World, world

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

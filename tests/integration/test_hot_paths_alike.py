"""The hot paths (api/hot_paths.py) answer exactly as the documented handlers do.

Each request is sent twice: once to the app (`client`), where the hot path serves it or passes
it on, and once to the same app built without hot paths (`documented`), where the documented
handler answers. Status, problem+json or JSON body and the headers a client acts on
(Content-Type, Retry-After, Cache-Control) must be the same; only what differs between two
requests by nature (order ids, times, the seat each one took, admission tokens) is
normalised. Rate limits (429) need limits of their own: two servers, one of each app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from engine.principal import Principal
from engine.settings import get_settings
from engine.store.resources import Resources
from engine.tokens import issue_access_token
from loadtests.setup_data import create_customers, create_partner
from tests import services as test_services
from tests.api_server import DOCUMENTED_APP, running_api
from tests.conftest import Actor, make_actor
from tests.integration.test_tickets import cancel_and_persist, issue_tickets
from tests.integration.test_waiting_room import room_sale
from tests.sale_setup import OnSale, open_sale, seat_item

pytestmark = pytest.mark.cluster

# fields that differ between two requests by nature, not by who answered
VOLATILE = {
    "id",
    "customer_id",
    "seat_id",
    "label",
    "created_at",
    "expires_at",
    "at",
    "admission_token",
    "admission_expires_at",
    "ticket_id",
    "ticket",
}
HEADERS = ("content-type", "retry-after", "cache-control", "vary")
JSON = {"Content-Type": "application/json"}


def normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "~" if k in VOLATILE else normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(item) for item in value]
    return value


def answer(response: Any) -> tuple[int, Any, dict[str, str | None]]:
    return (
        response.status_code,
        normalised(response.json()),
        {name: response.headers.get(name) for name in HEADERS},
    )


async def alike(
    client: Any,
    documented: Any,
    method: str,
    path: str | Pair,
    status: int,
    code: str | None = None,
    **request: Any,
) -> dict[str, Any]:
    """Send the request to both apps; both answer `status` (and `code`) identically.
    The path or a part of `request` may be a pair (hot, documented), for requests that
    change what they act on."""
    hot_request = {k: v[0] if isinstance(v, Pair) else v for k, v in request.items()}
    documented_request = {k: v[1] if isinstance(v, Pair) else v for k, v in request.items()}
    paths = path if isinstance(path, Pair) else (path, path)
    hot = await client.request(method, paths[0], **hot_request)
    handled = await documented.request(method, paths[1], **documented_request)
    context = (method, path, request)
    assert hot.status_code == status, (context, hot.text)
    assert answer(hot) == answer(handled), context
    body: dict[str, Any] = hot.json()
    if code is not None:
        assert hot.headers["content-type"].startswith("application/problem+json"), context
        assert body["code"] == code, context
    return body


class Pair(tuple[Any, Any]):
    """(what the hot path is sent, what the documented handler is sent)"""


def lower_scheme(actor: Actor) -> dict[str, str]:
    return {"Authorization": f"bearer {actor.token}"}


UNAUTHENTICATED: list[dict[str, str]] = [
    {},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "bearer not-a-token"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer "},
    {"Authorization": "Bearer"},
]


# -- claims: POST /orders -----------------------------------------------------------------


async def test_claims_alike(
    client: AsyncTestClient[Any],
    documented: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
    staff: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=4, pools=(10,))
    seats = Pair(
        (
            {"items": [seat_item(sale, sale.seat_ids[0])]},
            {"items": [seat_item(sale, sale.seat_ids[1])]},
        )
    )
    for auth in (customer.headers, lower_scheme(customer)):
        created = await alike(client, documented, "POST", "/orders", 201, headers=auth, json=seats)
        assert created["status"] == "reserved"
        seats = Pair(
            (
                {"items": [seat_item(sale, sale.seat_ids[2])]},
                {"items": [seat_item(sale, sale.seat_ids[3])]},
            )
        )
    pool = {"items": [{"ticket_type_id": sale.pool_ids[0], "quantity": 1}]}
    await alike(client, documented, "POST", "/orders", 201, headers=customer.headers, json=pool)
    taken = {"items": [seat_item(sale, sale.seat_ids[0])]}
    post = {"headers": customer.headers}
    await alike(client, documented, "POST", "/orders", 409, "seat_unavailable", **post, json=taken)

    for auth in UNAUTHENTICATED:
        await alike(client, documented, "POST", "/orders", 401, headers=auth, json=taken)
    await alike(client, documented, "POST", "/orders", 403, headers=staff.headers, json=taken)
    refusals: list[tuple[int, str, Any]] = [
        (404, "not_found", {"items": [{"event_id": 10**12, "seat_ids": [1]}]}),
        (404, "not_found", {"items": [{"ticket_type_id": 10**12, "quantity": 1}]}),
        (422, "validation_error", {"items": []}),
        (422, "validation_error", {"items": [{"ticket_type_id": 1, "quantity": "2"}]}),
        (422, "validation_error", {"items": [{"event_id": 1}]}),
    ]
    for status, code, body in refusals:
        await alike(client, documented, "POST", "/orders", status, code, **post, json=body)
    for raw, media_type, status, code in [
        (b'{"items": [', "application/json", 400, "malformed_json"),
        (b'{"items": "\xff\xfe"}', "application/json", 400, "malformed_json"),
        (b"{}", "text/plain", 415, "unsupported_media_type"),
    ]:
        headers = {**customer.headers, "Content-Type": media_type}
        await alike(
            client, documented, "POST", "/orders", status, code, headers=headers, content=raw
        )


async def test_claim_refusals_of_the_sale_alike(
    client: AsyncTestClient[Any],
    documented: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
) -> None:
    post = {"headers": customer.headers}

    sold = await open_sale(resources, partner.id, pools=(1,))
    one = {"items": [{"ticket_type_id": sold.pool_ids[0], "quantity": 1}]}
    assert (await client.post("/orders", json=one, **post)).status_code == 201
    await alike(client, documented, "POST", "/orders", 409, "sold_out", **post, json=one)

    limited = await open_sale(resources, partner.id, seats=3, limit=1)
    first = {"items": [seat_item(limited, limited.seat_ids[0])]}
    assert (await client.post("/orders", json=first, **post)).status_code == 201
    more = {"items": [seat_item(limited, limited.seat_ids[1])]}
    await alike(client, documented, "POST", "/orders", 409, "limit_exceeded", **post, json=more)

    later = await open_sale(resources, partner.id, seats=1, sale_opens_in=timedelta(hours=1))
    early = {"items": [seat_item(later, later.seat_ids[0])]}
    await alike(client, documented, "POST", "/orders", 409, "sale_not_open", **post, json=early)

    queued = await room_sale(resources, partner.id, seats=1)
    unadmitted = {"items": [seat_item(queued, queued.seat_ids[0])]}
    await alike(
        client, documented, "POST", "/orders", 403, "admission_required", **post, json=unadmitted
    )


# -- payments: POST /orders/{id}/pay ------------------------------------------------------


async def test_payments_alike(
    client: AsyncTestClient[Any],
    documented: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
    staff: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, pools=(20,))
    post = {"headers": customer.headers}

    async def order_pair() -> Pair:
        one = {"items": [{"ticket_type_id": sale.pool_ids[0], "quantity": 1}]}
        ids = [(await client.post("/orders", json=one, **post)).json()["id"] for _ in "ab"]
        return Pair(f"/orders/{order_id}/pay" for order_id in ids)

    paid = await order_pair()
    visa = {"payment_token": "tok_visa"}
    for auth in UNAUTHENTICATED:
        await alike(client, documented, "POST", paid, 401, headers=auth, json=visa)
    await alike(client, documented, "POST", paid, 403, headers=staff.headers, json=visa)
    for body in ({}, {"payment_token": ""}, {"payment_token": 1}):
        await alike(client, documented, "POST", paid, 422, "validation_error", **post, json=body)
    for raw, media_type, status, code in [
        (b'{"payment_token": ', "application/json", 400, "malformed_json"),
        (b'{"payment_token": "tok_visa"}', "text/plain", 415, "unsupported_media_type"),
    ]:
        headers = {**customer.headers, "Content-Type": media_type}
        await alike(client, documented, "POST", paid, status, code, headers=headers, content=raw)
    stranger = await make_actor(client, "customer")
    await alike(
        client, documented, "POST", paid, 404, "not_found", headers=stranger.headers, json=visa
    )
    body = await alike(client, documented, "POST", paid, 202, **post, json=visa)
    assert body["status"] == "paid"
    await alike(client, documented, "POST", paid, 409, "invalid_state", **post, json=visa)

    declined = await order_pair()
    decline = {"payment_token": "tok_decline_card"}
    await alike(client, documented, "POST", declined, 402, "payment_declined", **post, json=decline)
    await alike(client, documented, "POST", declined, 409, "invalid_state", **post, json=decline)
    for unknown in ("/orders/nonsense/pay", f"/orders/{sale.event_id}-{'0' * 20}/pay"):
        await alike(client, documented, "POST", unknown, 404, "not_found", **post, json=visa)


# -- the waiting room: POST and GET /events/{id}/queue ------------------------------------


async def test_queue_alike(
    client: AsyncTestClient[Any],
    documented: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
) -> None:
    for paused, state, cache in [(False, "admitted", "no-store"), (True, "waiting", "private")]:
        # an event for each app: the same customer's place in each
        sales = [await room_sale(resources, partner.id, seats=1, paused=paused) for _ in "ab"]
        path = Pair(f"/events/{sale.event_id}/queue" for sale in sales)
        for position, auth in enumerate(await pair_of_customers(client), start=1):
            joined = await alike(client, documented, "POST", path, 200, headers=auth)
            polled = await alike(client, documented, "GET", path, 200, headers=auth)
            assert joined["state"] == polled["state"] == state
            if state == "waiting":
                assert joined["position"] == polled["position"] == position
            answered = await client.get(path[0], headers=auth[0])
            assert answered.headers["cache-control"].startswith(cache)
    room = f"/events/{sales[0].event_id}/queue"
    customer = await make_actor(client, "customer")
    for method in ("POST", "GET"):
        for auth in UNAUTHENTICATED:
            await alike(client, documented, method, room, 401, headers=auth)
        await alike(client, documented, method, room, 403, headers=staff.headers)
        unknown = f"/events/{10**12}/queue"
        await alike(client, documented, method, unknown, 404, "not_found", headers=customer.headers)


async def pair_of_customers(client: AsyncTestClient[Any]) -> list[Pair]:
    """Two customers, one for each app, under both spellings of the scheme."""
    hot, handled = [await make_actor(client, "customer") for _ in "ab"]
    more_hot, more_handled = [await make_actor(client, "customer") for _ in "cd"]
    return [
        Pair((hot.headers, handled.headers)),
        Pair((lower_scheme(more_hot), lower_scheme(more_handled))),
    ]


# -- gate scans: POST /tickets/validate ---------------------------------------------------


async def test_scans_alike(
    client: AsyncTestClient[Any],
    documented: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=4)
    _, tickets = await issue_tickets(client, resources, customer, sale, seats=2)
    codes = [ticket["code"] for ticket in tickets]
    post = {"headers": staff.headers}
    admit = Pair(({"code": codes[0], "gate": "north"}, {"code": codes[1], "gate": "north"}))
    admitted = await alike(client, documented, "POST", "/tickets/validate", 200, **post, json=admit)
    assert admitted["result"] == "admitted"
    for auth in (staff.headers, lower_scheme(staff), partner.headers):
        used = {"code": codes[0]}
        await alike(
            client,
            documented,
            "POST",
            "/tickets/validate",
            409,
            "already_used",
            headers=auth,
            json=used,
        )
    forged = {"code": "1" * 180}
    await alike(
        client, documented, "POST", "/tickets/validate", 404, "invalid_ticket", **post, json=forged
    )
    for auth in UNAUTHENTICATED:
        await alike(client, documented, "POST", "/tickets/validate", 401, headers=auth, json=forged)
    await alike(
        client, documented, "POST", "/tickets/validate", 403, headers=customer.headers, json=forged
    )
    for body in ({"code": ""}, {"code": 1}, {"gate": "north"}, {"code": "1", "gate": ""}):
        await alike(
            client,
            documented,
            "POST",
            "/tickets/validate",
            422,
            "validation_error",
            **post,
            json=body,
        )
    for raw, media_type, status, code in [
        (b'{"code": ', "application/json", 400, "malformed_json"),
        (b'{"code": "\xff\xfe"}', "application/json", 400, "malformed_json"),
        (b'{"code": "1"}', "text/plain", 415, "unsupported_media_type"),
    ]:
        headers = {**staff.headers, "Content-Type": media_type}
        await alike(
            client,
            documented,
            "POST",
            "/tickets/validate",
            status,
            code,
            headers=headers,
            content=raw,
        )
    cancelled = await open_sale(resources, partner.id, seats=1)
    order_id, (ticket,) = await issue_tickets(client, resources, customer, cancelled)
    await cancel_and_persist(client, resources, customer, order_id)
    void = {"code": ticket["code"]}
    await alike(
        client, documented, "POST", "/tickets/validate", 410, "ticket_void", **post, json=void
    )


# -- 429: two servers with tight limits, one of each app ----------------------------------

LIMITS = {
    "RATE_LIMIT_CLAIMS_PER_CUSTOMER": "2/3600",
    "RATE_LIMIT_QUEUE_PER_CUSTOMER": "2/3600",
}


@pytest.fixture(scope="module")
def servers(services: test_services.TestServices) -> Iterator[tuple[str, str]]:
    with running_api(**LIMITS) as hot, running_api(DOCUMENTED_APP, **LIMITS) as handled:
        yield hot, handled


@pytest.fixture
async def http(servers: tuple[str, str]) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    hot, handled = servers
    async with (
        httpx.AsyncClient(base_url=hot, timeout=60) as hot_client,
        httpx.AsyncClient(base_url=handled, timeout=60) as handled_client,
    ):
        yield hot_client, handled_client


def bearer(customer_id: int) -> dict[str, str]:
    token = issue_access_token(Principal(customer_id, "customer"), get_settings().jwt_secret, 600)
    return {"Authorization": f"Bearer {token}"}


async def test_rate_limited_alike(
    http: tuple[httpx.AsyncClient, httpx.AsyncClient], resources: Resources
) -> None:
    hot, handled = http
    partner = await create_partner(resources.pool)
    customers = await create_customers(resources.pool, 4)
    sale: OnSale = await open_sale(resources, partner, pools=(100,), limit=100)
    order = {"items": [{"ticket_type_id": sale.pool_ids[0], "quantity": 1}]}
    claimers = Pair((bearer(customers[0]), bearer(customers[1])))
    for _ in range(2):
        await alike(hot, handled, "POST", "/orders", 201, headers=claimers, json=order)
    limited = await alike(
        hot, handled, "POST", "/orders", 429, "rate_limited", headers=claimers, json=order
    )
    assert limited["status"] == 429

    rooms = [await room_sale(resources, partner, seats=1, paused=True) for _ in "ab"]
    path = Pair(f"/events/{room.event_id}/queue" for room in rooms)
    visitors = Pair((bearer(customers[2]), bearer(customers[3])))
    await alike(hot, handled, "POST", path, 200, headers=visitors)
    await alike(hot, handled, "GET", path, 200, headers=visitors)
    for method in ("GET", "POST"):
        await alike(hot, handled, method, path, 429, "rate_limited", headers=visitors)

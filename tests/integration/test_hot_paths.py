"""The hot paths (api/hot_paths.py) answer as the documented handlers would, are counted in
/metrics once each, and leave what they do not serve to Litestar."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.hot_paths import HOT_BODY_LIMIT, _small_body
from engine.store.resources import Resources
from tests.conftest import Actor
from tests.integration.test_tickets import issue_tickets
from tests.integration.test_waiting_room import room_sale
from tests.sale_setup import open_sale, seat_item

pytestmark = pytest.mark.cluster


async def requests_counted(client: AsyncTestClient[Any], path: str, status: int) -> float:
    text = (await client.get("/metrics")).text
    total = 0.0
    for labels, value in re.findall(r"^boxoffice_requests_total\{(.*)\} (\S+)$", text, re.M):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if fields["path"] == path and fields["status_code"] == str(status):
            total += float(value)
    return total


async def test_claims_counted_once_each_in_metrics(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=3)
    created = await requests_counted(client, "/orders", 201)
    refused = await requests_counted(client, "/orders", 409)
    for seat in sale.seat_ids:
        body = {"items": [seat_item(sale, seat)]}
        response = await client.post("/orders", headers=customer.headers, json=body)
        assert response.status_code == 201, response.text
    taken = {"items": [seat_item(sale, sale.seat_ids[0])]}
    assert (await client.post("/orders", headers=customer.headers, json=taken)).status_code == 409
    assert await requests_counted(client, "/orders", 201) == created + 3
    assert await requests_counted(client, "/orders", 409) == refused + 1


async def test_payments_counted_once_each_under_the_handlers_path_template(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    """A payment the hot path answers and one the handler answers (Idempotency-Key) are
    counted under the same path template."""
    sale = await open_sale(resources, partner.id, pools=(2,))
    template = "/orders/{order_id}/pay"
    paid = await requests_counted(client, template, 202)
    one = {"items": [{"ticket_type_id": sale.pool_ids[0], "quantity": 1}]}
    for headers in (customer.headers, {**customer.headers, "Idempotency-Key": "k-metrics"}):
        order = (await client.post("/orders", headers=customer.headers, json=one)).json()
        pay = f"/orders/{order['id']}/pay"
        answer = await client.post(pay, headers=headers, json={"payment_token": "tok_visa"})
        assert answer.status_code == 202, answer.text
    assert await requests_counted(client, template, 202) == paid + 2


async def test_queue_visits_counted_under_the_handlers_path_template(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    """A join the hot path answers (200) and one passed on to Litestar (401, no token) are
    counted under the same path template."""
    queue = f"/events/{(await room_sale(resources, partner.id, seats=1)).event_id}/queue"
    template = "/events/{event_id}/queue"
    joined = await requests_counted(client, template, 200)
    refused = await requests_counted(client, template, 401)
    assert (await client.post(queue, headers=customer.headers)).status_code == 200
    assert (await client.post(queue)).status_code == 401
    assert await requests_counted(client, template, 200) == joined + 1
    assert await requests_counted(client, template, 401) == refused + 1


async def test_hot_and_documented_paths_answer_alike(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    """The same refusal from the hot path and from the handler (an Idempotency-Key request
    always takes the handler) is the same problem document."""
    sale = await open_sale(resources, partner.id, seats=1)
    body = {"items": [seat_item(sale, sale.seat_ids[0])]}
    assert (await client.post("/orders", headers=customer.headers, json=body)).status_code == 201
    hot = await client.post("/orders", headers=customer.headers, json=body)
    documented = await client.post(
        "/orders", headers={**customer.headers, "Idempotency-Key": "k-alike"}, json=body
    )
    assert hot.status_code == documented.status_code == 409
    assert hot.headers["content-type"] == documented.headers["content-type"]
    assert hot.json() == documented.json()
    assert hot.json()["code"] == "seat_unavailable"


async def test_every_spelling_of_the_bearer_scheme_takes_the_hot_paths(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
    staff: Actor,
) -> None:
    """The scheme is case-insensitive (RFC 7235) on the hot paths as in the handlers: a
    `bearer` token is served, not passed on to Litestar (claims, payments, the queue, scans)."""
    sale = await open_sale(resources, partner.id, seats=4)
    _, (ticket,) = await issue_tickets(client, resources, customer, sale)
    queue = f"/events/{(await room_sale(resources, partner.id, seats=1)).event_id}/queue"
    app: Any = client.app
    passed_on: list[tuple[str, str]] = []
    route = app._route

    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        passed_on.append((scope["method"], scope["path"]))
        await route(scope, receive, send)

    app._route = recorded
    try:
        for n, scheme in enumerate(("Bearer", "bearer", "BEARER"), start=1):
            as_customer = {"Authorization": f"{scheme} {customer.token}"}
            claim = {"items": [seat_item(sale, sale.seat_ids[n])]}
            placed = await client.post("/orders", headers=as_customer, json=claim)
            assert placed.status_code == 201, placed.text
            pay = f"/orders/{placed.json()['id']}/pay"
            paid = await client.post(pay, headers=as_customer, json={"payment_token": "tok_visa"})
            assert paid.status_code == 202, paid.text
            assert (await client.post(queue, headers=as_customer)).status_code == 200
            assert (await client.get(queue, headers=as_customer)).status_code == 200
            as_staff = {"Authorization": f"{scheme} {staff.token}"}
            scanned = await client.post(
                "/tickets/validate", headers=as_staff, json={"code": ticket["code"]}
            )
            assert scanned.status_code in (200, 409), scanned.text
        assert passed_on == []
        keyed = {**customer.headers, "Idempotency-Key": "k-scheme"}
        await client.post("/orders", headers=keyed, json={"items": []})
        assert passed_on == [("POST", "/orders")]  # the recording sees what is passed on
    finally:
        del app._route


async def test_large_bodies_go_to_litestar(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    item = b'{"event_id": %d, "seat_ids": [%d]}' % (sale.event_id, sale.seat_ids[0])
    padded = b'{"items": [' + item + b'], "pad": "' + b"x" * 100_000 + b'"}'
    response = await client.post(
        "/orders",
        headers={**customer.headers, "Content-Type": "application/json"},
        content=padded,
    )
    assert response.status_code == 201, response.text
    assert response.json()["items"][0]["seat_id"] == sale.seat_ids[0]


def test_only_bodies_of_a_declared_small_size_take_the_hot_path() -> None:
    def scope(method: str, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
        return {"method": method, "headers": list(headers)}

    assert _small_body(scope("POST", (b"content-length", b"120")))
    assert _small_body(scope("GET"))
    assert not _small_body(scope("POST"))  # chunked: Litestar reads it under its limit
    assert not _small_body(scope("POST", (b"content-length", str(HOT_BODY_LIMIT + 1).encode())))
    assert not _small_body(scope("POST", (b"content-length", b"-1")))


async def test_queue_path_not_in_canonical_form_goes_to_litestar(
    client: AsyncTestClient[Any], customer: Actor
) -> None:
    for path in ("/events/0/queue", f"/events/{2**63}/queue", "/events/x/queue"):
        response = await client.get(path, headers=customer.headers)
        assert response.status_code in (400, 404, 422), (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")

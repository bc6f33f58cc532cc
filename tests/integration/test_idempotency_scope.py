"""Idempotency-Key is scoped to (user, method, path) and the request body: the same request
again replays the first answer, anything else with a used key is 422 and does nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine import keys
from engine.store.resources import Resources
from tests.conftest import Actor, make_actor
from tests.sale_setup import OnSale, open_sale, seat_item

pytestmark = pytest.mark.cluster


def order_body(sale: OnSale, seat_index: int) -> dict[str, Any]:
    return {"items": [seat_item(sale, sale.seat_ids[seat_index])]}


async def post(
    client: AsyncTestClient[Any], buyer: Actor, path: str, body: Any, key: str | None
) -> Any:
    headers = {**buyer.headers, **({"Idempotency-Key": key} if key else {})}
    return await client.post(path, headers=headers, json=body)


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


async def call_app(app: Any, headers: list[tuple[bytes, bytes]], body: bytes) -> Answer:
    """POST /orders to the app as an ASGI server would."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/orders",
        "raw_path": b"/orders",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return Answer(
        start["status"],
        {k.decode().lower(): v.decode() for k, v in start["headers"]},
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
    )


def claims_together(
    client: AsyncTestClient[Any], requests: list[tuple[list[tuple[bytes, bytes]], bytes]]
) -> list[Answer]:
    """The requests sent at once, in the loop the app runs in (AsyncTestClient itself sends
    one request at a time)."""

    async def all_at_once() -> list[Answer]:
        return list(await asyncio.gather(*(call_app(client.app, *r) for r in requests)))

    return client.blocking_portal.call(all_at_once)


def keyed(buyer: Actor, key: bytes, name: bytes = b"idempotency-key") -> list[tuple[bytes, bytes]]:
    return [
        (b"authorization", f"Bearer {buyer.token}".encode()),
        (b"content-type", b"application/json"),
        (name, key),
    ]


async def counts(resources: Resources, sale: OnSale) -> list[int]:
    raw = await resources.redis.hmget(keys.event_key(sale.event_id, "counts"), "a", "h", "s")
    return [int(c) for c in raw]


async def test_claim_key_reused_on_pay_is_422_and_nothing_is_paid(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    """The issue's reproduction: the key of POST /orders replayed its 201 on /pay."""
    sale = await open_sale(resources, partner.id, seats=1)
    created = await post(client, customer, "/orders", order_body(sale, 0), "key-1")
    assert created.status_code == 201
    order_id = created.json()["id"]
    pay_path = f"/orders/{order_id}/pay"
    reused = await post(client, customer, pay_path, {"payment_token": "tok_visa"}, "key-1")
    assert reused.status_code == 422, reused.text
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert reused.json()["code"] == "idempotency_key_reused"
    order = (await client.get(f"/orders/{order_id}", headers=customer.headers)).json()
    assert order["status"] == "reserved"
    assert await counts(resources, sale) == [0, 1, 0]
    paid = await post(client, customer, pay_path, {"payment_token": "tok_visa"}, "key-2")
    assert paid.status_code == 202, paid.text
    assert paid.json()["status"] == "paid"
    # the claim's key still replays the claim, on its own path and body
    again = await post(client, customer, "/orders", order_body(sale, 0), "key-1")
    assert again.status_code == 201
    assert again.json() == created.json()


async def test_same_key_with_another_body_is_422_and_no_second_order(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    first = await post(client, customer, "/orders", order_body(sale, 0), "k-body")
    assert first.status_code == 201
    other = await post(client, customer, "/orders", order_body(sale, 1), "k-body")
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "idempotency_key_reused"
    assert await counts(resources, sale) == [1, 1, 0]
    seats = await resources.redis.hget(keys.event_key(sale.event_id, "seats"), sale.seat_ids[1])
    assert seats == b"a"


async def test_same_request_again_replays_the_first_answer(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=1)
    created = await post(client, customer, "/orders", order_body(sale, 0), "k-same")
    order_id = created.json()["id"]
    pay_path = f"/orders/{order_id}/pay"
    paid = await post(client, customer, pay_path, {"payment_token": "tok_visa"}, "k-pay")
    replayed = await post(client, customer, pay_path, {"payment_token": "tok_visa"}, "k-pay")
    assert paid.status_code == replayed.status_code == 202
    assert replayed.json() == paid.json()
    assert replayed.headers["idempotent-replayed"] == "true"
    declined = await post(client, customer, pay_path, {"payment_token": "tok_decline"}, "k-pay")
    assert declined.status_code == 422
    assert declined.json()["code"] == "idempotency_key_reused"
    order = (await client.get(f"/orders/{order_id}", headers=customer.headers)).json()
    assert order["status"] == "paid"
    assert await counts(resources, sale) == [0, 0, 1]


async def test_another_users_same_key_is_independent(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    mine = await post(client, customer, "/orders", order_body(sale, 0), "shared-key")
    other = await make_actor(client, "customer")
    theirs = await post(client, other, "/orders", order_body(sale, 1), "shared-key")
    assert mine.status_code == theirs.status_code == 201, theirs.text
    assert theirs.json()["customer_id"] == other.id
    assert theirs.json()["id"] != mine.json()["id"]
    assert await counts(resources, sale) == [0, 2, 0]


async def test_concurrent_duplicates_do_the_work_once(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor
) -> None:
    """Many rounds of requests with one key sent together, half of them with another body:
    one of them runs; the same body gets its answer replayed or 409 idempotency_in_progress
    with Retry-After; the other body is 422 whether the first is still running or done."""
    rounds, copies = 20, 8
    sale = await open_sale(resources, partner.id, seats=2 * rounds)
    seen: set[int] = set()
    for index in range(rounds):
        buyer = await make_actor(client, "customer")
        bodies = [json.dumps(order_body(sale, 2 * index + copy % 2)) for copy in range(copies)]
        key = f"dup-{index}".encode()
        answers = claims_together(client, [(keyed(buyer, key), body.encode()) for body in bodies])
        created = [a for a in answers if a.status_code == 201]
        assert created, [a.body for a in answers]
        winner = created[0].json()
        assert all(a.json() == winner for a in created)
        won_seat = winner["items"][0]["seat_id"]
        for body, answer in zip(bodies, answers, strict=True):
            seen.add(answer.status_code)
            if json.loads(body)["items"][0]["seat_ids"] == [won_seat]:
                assert answer.status_code in (201, 409), answer.body
                if answer.status_code == 409:
                    assert answer.json()["code"] == "idempotency_in_progress"
                    assert answer.headers["retry-after"] == "1"
            else:
                assert answer.status_code == 422, answer.body
                assert answer.json()["code"] == "idempotency_key_reused"
    assert await counts(resources, sale) == [rounds, rounds, 0]
    assert 409 in seen, "no duplicate arrived while the first ran: the test shows nothing"


async def test_the_claim_hot_path_honours_a_key_in_any_letter_case(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    """HTTP header names are case-insensitive; an ASGI server need not lower-case them, and
    the hot path must not serve a keyed claim as if it had no key."""
    sale = await open_sale(resources, partner.id, seats=2)
    body = json.dumps(order_body(sale, 0)).encode()
    headers = keyed(customer, b"Mixed-Case-1", name=b"Idempotency-Key")
    (first,) = claims_together(client, [(headers, body)])
    (second,) = claims_together(client, [(headers, body)])
    assert first.status_code == second.status_code == 201, (first.body, second.body)
    assert first.body == second.body
    assert second.headers["idempotent-replayed"] == "true"
    assert await counts(resources, sale) == [1, 1, 0]

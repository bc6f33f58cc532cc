"""Tickets at the edges of a sale (issue 12, items 1 and 2), over HTTP against real Redis and
PostgreSQL: an order whose ticket was admitted cannot be cancelled (the seat stays sold), a
cancellation voids the tickets from its answer on, and a cancel racing a scan ends as exactly
(cancel 200, scan 410) or (scan 200, cancel 409), in Redis and, once the worker wrote it, in
PostgreSQL; hydration after Redis lost its data brings the used and void states back."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from litestar.testing import AsyncTestClient

from engine import keys
from engine.live_tickets import write_scans
from engine.settings import get_settings
from engine.store.redis_order_log import RedisOrderLog
from engine.store.resources import Resources
from engine.ticket_codes import code_digest, parse
from tests.conftest import Actor, make_actor
from tests.integration.test_tickets import issue_tickets, ticket_persister
from tests.sale_setup import OnSale, open_sale, reconcile, seat_item
from workers.tasks import sync_round

pytestmark = pytest.mark.cluster

ROUNDS = 40


async def scan(client: AsyncTestClient[Any], staff: Actor, code: str) -> Any:
    return await client.post("/tickets/validate", headers=staff.headers, json={"code": code})


async def cancel(client: AsyncTestClient[Any], customer: Actor, order_id: str) -> Any:
    return await client.post(f"/orders/{order_id}/cancel", headers=customer.headers)


async def redis_state(resources: Resources, event_id: int, code: str) -> str | None:
    parsed = parse(code)
    assert parsed is not None
    (state,) = await resources.live_tickets.states(event_id, [parsed.ref.hex()])
    return state


async def seat_status(client: AsyncTestClient[Any], event_id: int, seat_id: int) -> str:
    listed = await client.get(f"/events/{event_id}/seats", params={"limit": 200})
    assert listed.status_code == 200, listed.text
    (seat,) = [s for s in listed.json()["items"] if s["id"] == seat_id]
    status: str = seat["status"]
    return status


async def sold_seats(client: AsyncTestClient[Any], event_id: int) -> set[int]:
    listed = await client.get(f"/events/{event_id}/seats", params={"status": "sold", "limit": 200})
    assert listed.status_code == 200, listed.text
    return {s["id"] for s in listed.json()["items"]}


async def worker_writes(resources: Resources, event_id: int) -> None:
    """What the worker's sync loop does for this event: status changes, then scans."""
    order_log = RedisOrderLog(resources.redis, resources.scripts)
    pending = await order_log.changed_orders(event_id, 500)
    if pending:
        await ticket_persister(resources).persist(pending, include_paid=False)
    await write_scans(event_id, resources.live_tickets, resources.ticket_store)


async def test_an_order_whose_ticket_was_admitted_cannot_be_cancelled(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    seat = sale.seat_ids[0]
    order_id, (ticket,) = await issue_tickets(client, resources, customer, sale)
    assert (await scan(client, staff, ticket["code"])).status_code == 200

    refused = await cancel(client, customer, order_id)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "tickets_used"

    # nothing changed: the order, the ticket, the seat
    order = await client.get(f"/orders/{order_id}", headers=customer.headers)
    assert order.json()["status"] == "completed"
    again = await scan(client, staff, ticket["code"])
    assert again.status_code == 409 and again.json()["result"] == "already_used"
    listed = await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    assert [t["status"] for t in listed.json()["items"]] == ["used"]
    assert seat in await sold_seats(client, sale.event_id)
    second = await make_actor(client, "customer")
    claim = await client.post(
        "/orders", headers=second.headers, json={"items": [seat_item(sale, seat)]}
    )
    assert claim.status_code == 409 and claim.json()["code"] == "seat_unavailable"

    # and PostgreSQL, once the worker wrote what happened: used, not void; the seat sold
    await worker_writes(resources, sale.event_id)
    row = await resources.pool.fetchrow(
        "SELECT status, used_at FROM tickets WHERE id = $1", ticket["id"]
    )
    assert row["status"] == "used" and row["used_at"] is not None
    assert (
        await resources.pool.fetchval("SELECT status FROM orders WHERE id = $1", order_id)
        == "completed"
    )
    assert await resources.pool.fetchval("SELECT status FROM seats WHERE id = $1", seat) == "sold"


async def test_a_scan_right_after_the_cancel_answers_void(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    order_id, tickets = await issue_tickets(client, resources, customer, sale, seats=2)
    cancelled = await cancel(client, customer, order_id)
    assert cancelled.status_code == 200, cancelled.text
    for ticket in tickets:  # no worker ran: the cancellation is not in PostgreSQL yet
        void = await scan(client, staff, ticket["code"])
        assert void.status_code == 410, void.text
        assert void.json()["result"] == "void"
    assert (
        await resources.pool.fetchval(
            "SELECT count(*) FROM tickets WHERE order_id = $1 AND status = 'valid'", order_id
        )
        == 2
    )
    await worker_writes(resources, sale.event_id)
    rows = await resources.pool.fetch(
        "SELECT t.status, s.result FROM tickets t JOIN ticket_scans s ON s.ticket_id = t.id"
        " WHERE t.order_id = $1",
        order_id,
    )
    assert sorted(tuple(r) for r in rows) == [("void", "void"), ("void", "void")]


async def test_cancel_racing_a_scan_ends_one_way_or_the_other(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=ROUNDS)
    outcomes: Counter[tuple[int, int]] = Counter()
    rounds: list[tuple[str, int, str, int, int, int]] = []
    for n in range(ROUNDS):
        buyer = await make_actor(client, "customer")
        placed = await client.post(
            "/orders", headers=buyer.headers, json={"items": [seat_item(sale, sale.seat_ids[n])]}
        )
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
        paid = await client.post(
            f"/orders/{order_id}/pay", headers=buyer.headers, json={"payment_token": "tok_ok"}
        )
        assert paid.status_code == 202, paid.text
        assert await ticket_persister(resources).persist([order_id]) == 1
        (ticket,) = (await client.get(f"/orders/{order_id}/tickets", headers=buyer.headers)).json()[
            "items"
        ]
        # alternate which request is sent first, so both orders of arrival are tried
        if n % 2:
            cancelled, scanned = await asyncio.gather(
                cancel(client, buyer, order_id), scan(client, staff, ticket["code"])
            )
        else:
            scanned, cancelled = await asyncio.gather(
                scan(client, staff, ticket["code"]), cancel(client, buyer, order_id)
            )
        pair = (cancelled.status_code, scanned.status_code)
        assert pair in {(200, 410), (409, 200)}, (n, cancelled.text, scanned.text)
        if pair == (409, 200):
            assert cancelled.json()["code"] == "tickets_used"
        outcomes[pair] += 1
        rounds.append((order_id, ticket["id"], ticket["code"], sale.seat_ids[n], *pair))
    # the request sent first mostly wins, and they alternate: both endings are exercised
    assert sum(outcomes.values()) == ROUNDS and len(outcomes) == 2, outcomes

    # Redis: the ticket's state and the seat agree with the answers
    for _, _, code, seat, cancel_status, _ in rounds:
        state = await redis_state(resources, sale.event_id, code)
        assert state is not None
        if cancel_status == 200:
            assert state.startswith("x:")
            assert await seat_status(client, sale.event_id, seat) == "available"
        else:
            assert state.startswith("u:")
            assert await seat_status(client, sale.event_id, seat) == "sold"

    # PostgreSQL, once the worker wrote the changes and the scans
    await worker_writes(resources, sale.event_id)
    for order_id, ticket_id, _, seat, cancel_status, _ in rounds:
        order = await resources.pool.fetchval("SELECT status FROM orders WHERE id = $1", order_id)
        ticket = await resources.pool.fetchrow(
            "SELECT status, used_at FROM tickets WHERE id = $1", ticket_id
        )
        seat_row = await resources.pool.fetchval("SELECT status FROM seats WHERE id = $1", seat)
        scans = await resources.pool.fetch(
            "SELECT result FROM ticket_scans WHERE ticket_id = $1", ticket_id
        )
        if cancel_status == 200:
            assert (order, ticket["status"], seat_row) == ("cancelled", "void", "available")
            assert [r["result"] for r in scans] == ["void"]
        else:
            assert (order, ticket["status"], seat_row) == ("completed", "used", "sold")
            assert ticket["used_at"] is not None
            assert [r["result"] for r in scans] == ["admitted"]


async def test_scans_reach_postgresql_and_survive_redis_losing_its_data(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=3)
    used_order, (used,) = await issue_tickets(client, resources, customer, sale)
    other = await make_actor(client, "customer")
    void_order, (void,) = await issue_tickets(client, resources, other, _shifted(sale, 1), seats=1)
    admitted = await client.post(
        "/tickets/validate", headers=staff.headers, json={"code": used["code"], "gate": "B|2"}
    )
    assert admitted.status_code == 200
    used_at = datetime.fromisoformat(admitted.json()["ticket"]["used_at"])
    assert (await cancel(client, other, void_order)).status_code == 200

    # the scan log and the used state, written by the worker's sync round in a batch
    assert (
        await resources.pool.fetchval("SELECT status FROM tickets WHERE id = $1", used["id"])
        == "valid"
    )
    logged = await resources.live_tickets.logged_scans(sale.event_id, 100)
    assert [(scan.ticket_id, scan.result) for scan in logged] == [(used["id"], "admitted")]
    arq = await create_pool(RedisSettings.from_dsn(get_settings().job_queue_redis_url))
    ctx = {
        "resources": resources,
        "order_log": RedisOrderLog(resources.redis, resources.scripts),
        "persister": ticket_persister(resources),
        "redis": arq,
    }
    try:
        await sync_round(ctx, sweep=False)
    finally:
        await arq.aclose()
    row = await resources.pool.fetchrow(
        "SELECT status, used_at FROM tickets WHERE id = $1", used["id"]
    )
    assert (row["status"], row["used_at"]) == ("used", used_at)
    log = await resources.pool.fetch(
        "SELECT scanned_by, gate, result, at FROM ticket_scans WHERE ticket_id = $1", used["id"]
    )
    assert [tuple(r) for r in log] == [(staff.id, "B|2", "admitted", used_at)]
    history = await resources.pool.fetch(
        "SELECT status, reason FROM ticket_status_history WHERE ticket_id = $1 ORDER BY at",
        used["id"],
    )
    assert [tuple(r) for r in history] == [("valid", None), ("used", "scanned")]
    # the stream is emptied, and a batch written again (a worker died before emptying it)
    # changes nothing
    assert await resources.redis.xlen(keys.event_key(sale.event_id, "scans")) == 0
    await resources.ticket_store.write_scans(sale.event_id, logged)
    assert (
        await resources.pool.fetchval(
            "SELECT count(*) FROM ticket_scans WHERE ticket_id = $1", used["id"]
        )
        == 1
    )
    assert (
        await resources.pool.fetchval(
            "SELECT count(*) FROM ticket_status_history WHERE ticket_id = $1", used["id"]
        )
        == 2
    )

    # Redis loses the event; hydration rebuilds it, the ticket states with it
    await resources.redis.delete(*keys.event_keys(sale.event_id))
    await reconcile(resources, sale.event_id)
    assert (await redis_state(resources, sale.event_id, used["code"]) or "").startswith("u:")
    again = await scan(client, staff, used["code"])
    assert again.status_code == 409
    assert datetime.fromisoformat(again.json()["used_at"]) == used_at
    assert (await scan(client, staff, void["code"])).status_code == 410
    refused = await cancel(client, customer, used_order)
    assert refused.status_code == 409 and refused.json()["code"] == "tickets_used"
    assert sale.seat_ids[0] in await sold_seats(client, sale.event_id)
    revoked = await client.get(f"/events/{sale.event_id}/revoked", headers=staff.headers)
    assert [i["code"] for i in revoked.json()["items"]] == [void["code"]]


async def test_an_event_hydrated_before_the_upgrade_loads_its_tickets_on_first_need(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
) -> None:
    """An event live in Redis without ticket states (hydrated by the code before this one),
    whose ticket PostgreSQL had already admitted: the first scan or cancel loads the states,
    so neither admits it again nor refunds it."""
    sale = await open_sale(resources, partner.id, seats=4)
    order_id, (ticket, fresh) = await issue_tickets(client, resources, customer, sale, seats=2)
    second = await make_actor(client, "customer")
    other, (unused,) = await issue_tickets(client, resources, second, _shifted(sale, 2))
    await resources.pool.execute(
        "UPDATE tickets SET status = 'used', used_at = now() WHERE id = $1", ticket["id"]
    )
    meta = keys.event_key(sale.event_id, "meta")

    async def as_before_the_upgrade() -> None:
        await resources.redis.hdel(meta, "tickets")
        for name in ("tickets", "ticket_info", "voided"):
            await resources.redis.delete(keys.event_key(sale.event_id, name))

    await as_before_the_upgrade()
    refused = await cancel(client, customer, order_id)
    assert refused.status_code == 409 and refused.json()["code"] == "tickets_used"
    assert await resources.redis.hget(meta, "tickets") == b"1"

    # the first scans, many at once: one load serves them; the used one stays used
    await as_before_the_upgrade()
    scans = await asyncio.gather(
        *(scan(client, staff, code) for code in [fresh["code"]] * 20 + [ticket["code"]] * 5)
    )
    assert Counter(s.status_code for s in scans[:20]) == {200: 1, 409: 19}
    assert {s.status_code for s in scans[20:]} == {409}
    assert await resources.redis.hget(meta, "tickets") == b"1"
    assert (await cancel(client, customer, order_id)).status_code == 409
    # an order with nothing used is cancelled as ever
    assert (await cancel(client, second, other)).status_code == 200
    assert (await scan(client, staff, unused["code"])).status_code == 410


async def test_a_used_ticket_in_any_event_refuses_the_whole_cancel(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    staff: Actor,
    customer: Actor,
) -> None:
    home = await open_sale(resources, partner.id, seats=2)
    away = await open_sale(resources, partner.id, seats=2)
    items = [seat_item(home, home.seat_ids[0]), seat_item(away, away.seat_ids[0])]
    order_id = await _paid(client, customer, items)
    assert await ticket_persister(resources).persist([order_id]) == 1
    home_ticket, away_ticket = (
        await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    ).json()["items"]
    assert (await scan(client, staff, away_ticket["code"])).status_code == 200

    refused = await cancel(client, customer, order_id)
    assert refused.status_code == 409 and refused.json()["code"] == "tickets_used"
    # nothing released or voided anywhere: the home ticket still admits
    assert home.seat_ids[0] in await sold_seats(client, home.event_id)
    assert away.seat_ids[0] in await sold_seats(client, away.event_id)
    assert await redis_state(resources, home.event_id, home_ticket["code"]) == "v"
    assert await resources.live_tickets.voided(home.event_id, 0) == []
    assert (await scan(client, staff, home_ticket["code"])).status_code == 200

    # the same order shape with nothing used: cancelled, every ticket void at once
    second = await make_actor(client, "customer")
    items = [seat_item(home, home.seat_ids[1]), seat_item(away, away.seat_ids[1])]
    order_id = await _paid(client, second, items)
    assert await ticket_persister(resources).persist([order_id]) == 1
    tickets = (await client.get(f"/orders/{order_id}/tickets", headers=second.headers)).json()
    assert (await cancel(client, second, order_id)).status_code == 200
    for ticket in tickets["items"]:
        assert (await scan(client, staff, ticket["code"])).status_code == 410
    assert home.seat_ids[1] not in await sold_seats(client, home.event_id)
    assert away.seat_ids[1] not in await sold_seats(client, away.event_id)


async def test_a_refused_multi_event_cancel_gives_back_what_it_voided(
    resources: Resources, partner: Actor, customer: Actor, client: AsyncTestClient[Any]
) -> None:
    """Voided in the other event first, then the home event refuses (its ticket was used):
    the other event's ticket is valid again."""
    home = await open_sale(resources, partner.id, seats=1)
    away = await open_sale(resources, partner.id, seats=1)
    items = [seat_item(home, home.seat_ids[0]), seat_item(away, away.seat_ids[0])]
    order_id = await _paid(client, customer, items)
    assert await ticket_persister(resources).persist([order_id]) == 1
    home_ticket, away_ticket = (
        await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
    ).json()["items"]
    staff_scan = await resources.live_tickets.scan(
        home.event_id,
        parse(home_ticket["code"]).ref.hex(),  # type: ignore[union-attr]
        code_digest(home_ticket["code"]),
        partner.id,
        partner.id,
        None,
    )
    assert staff_scan[0] == "admitted"
    refused = await client.post(f"/orders/{order_id}/cancel", headers=customer.headers)
    assert refused.status_code == 409 and refused.json()["code"] == "tickets_used"
    assert await redis_state(resources, away.event_id, away_ticket["code"]) == "v"
    assert await resources.live_tickets.voided(away.event_id, 0) == []
    order = await client.get(f"/orders/{order_id}", headers=customer.headers)
    assert order.json()["status"] == "completed"
    assert home.seat_ids[0] in await sold_seats(client, home.event_id)
    assert away.seat_ids[0] in await sold_seats(client, away.event_id)


def _shifted(sale: OnSale, by: int) -> OnSale:
    """The same sale with its seats from `by` on, for issue_tickets' first seats."""
    shifted = OnSale(sale.event_id)
    shifted.seat_ids = sale.seat_ids[by:]
    shifted.pool_ids = sale.pool_ids
    return shifted


async def _paid(client: AsyncTestClient[Any], customer: Actor, items: list[Any]) -> str:
    placed = await client.post("/orders", headers=customer.headers, json={"items": items})
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["id"]
    paid = await client.post(
        f"/orders/{order_id}/pay", headers=customer.headers, json={"payment_token": "tok_ok"}
    )
    assert paid.status_code == 202, paid.text
    return order_id


async def test_two_cancels_and_a_scan_of_a_multi_event_order_racing(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, staff: Actor
) -> None:
    """The customer cancels twice at once while the gate scans the ticket of the other event:
    one cancel wins and the scan is void, or the scan wins and both cancels are refused."""
    rounds = 12
    home = await open_sale(resources, partner.id, seats=rounds)
    away = await open_sale(resources, partner.id, seats=rounds)
    endings: Counter[str] = Counter()
    for n in range(rounds):
        buyer = await make_actor(client, "customer")
        items = [seat_item(home, home.seat_ids[n]), seat_item(away, away.seat_ids[n])]
        order_id = await _paid(client, buyer, items)
        assert await ticket_persister(resources).persist([order_id]) == 1
        home_ticket, away_ticket = (
            await client.get(f"/orders/{order_id}/tickets", headers=buyer.headers)
        ).json()["items"]
        racers = [cancel(client, buyer, order_id), cancel(client, buyer, order_id)]
        racers.insert(n % 3, scan(client, staff, away_ticket["code"]))
        answers = await asyncio.gather(*racers)
        scanned = answers.pop(n % 3)
        cancels = sorted(a.status_code for a in answers)
        if scanned.status_code == 200:
            assert cancels == [409, 409], [a.text for a in answers]
            assert {a.json()["code"] for a in answers} <= {"tickets_used", "invalid_state"}
            assert await redis_state(resources, home.event_id, home_ticket["code"]) == "v"
            assert home.seat_ids[n] in await sold_seats(client, home.event_id)
            endings["scanned"] += 1
        else:
            assert scanned.status_code == 410, scanned.text
            assert cancels == [200, 409], [a.text for a in answers]
            for event_id, ticket in ((home.event_id, home_ticket), (away.event_id, away_ticket)):
                assert (await redis_state(resources, event_id, ticket["code"]) or "")[:2] == "x:"
            assert home.seat_ids[n] not in await sold_seats(client, home.event_id)
            assert away.seat_ids[n] not in await sold_seats(client, away.event_id)
            endings["cancelled"] += 1
    assert sum(endings.values()) == rounds

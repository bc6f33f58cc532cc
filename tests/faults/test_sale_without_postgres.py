"""A sale goes on while PostgreSQL hangs (issue 12, item 5).

An API process and a worker reach PostgreSQL through a proxy that stops forwarding, as a server
stopped with SIGSTOP does: queries hang until the pool's timeout (30 s) instead of failing. On
live events, one with a waiting room and one without, claims, payments, cancellations and queue
joins and polls, and gate scans of a ticket completed before the stall, each answer within a
second from that API process, which started after the sales opened (nothing it knows came from
PostgreSQL before the stall, not even the event's gate keys); once PostgreSQL is back, every
paid order is completed, the cancelled one is cancelled and the scanned ticket used there.
What those paths read in Redis comes back when the reconciler hydrates an event Redis lost.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from engine.hydration import hydrate
from engine.settings import ROOT, get_settings
from engine.store.claim_batcher import ClaimBatcher
from engine.store.redis_sale import RedisSaleStore
from engine.store.redis_waiting_room import waiting_room
from engine.store.resources import Resources
from ops.embedded import die_with_parent, free_port
from tests.conftest import Actor, make_actor, make_staff
from tests.faults.tcp_proxy import PostgresProxy
from tests.faults.worker_process import (
    forget_started,
    kill,
    start_worker,
    wait_for_status,
    wait_until_started,
)
from tests.sale_setup import OnSale, open_sale, reconcile
from tests.services import RUN_DATA

pytestmark = pytest.mark.cluster

QUICK_S = 1.0  # each answer within this: far above normal, far below the pool's 30 s timeout


def start_api(database_url: str, port: int) -> subprocess.Popen[bytes]:
    """uvicorn serving the app, with its PostgreSQL pool on `database_url`."""
    RUN_DATA.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory"]
    with open(RUN_DATA / "api-without-postgres.log", "ab") as log:
        return subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=log,
            stderr=log,
            preexec_fn=die_with_parent,
        )


@asynccontextmanager
async def api_process(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh API process whose PostgreSQL pool goes to `database_url`, and a client of it.
    (Not the in-process test client: that one blocks this event loop, where the proxy runs,
    for the length of each request.)"""
    port = free_port()
    server = start_api(database_url, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None and time.monotonic() < deadline, "API did not start"
                try:
                    if (await client.get("/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            yield client
    finally:
        kill(server)


async def quick(request: Awaitable[httpx.Response], expected: int) -> dict[str, Any]:
    """The answer to `request`, which must come within QUICK_S with the status expected."""
    started = time.monotonic()
    try:
        response = await asyncio.wait_for(request, timeout=3 * QUICK_S)
    except TimeoutError:
        raise AssertionError(f"no answer within {3 * QUICK_S} s") from None
    elapsed = time.monotonic() - started
    assert response.status_code == expected, response.text
    assert elapsed < QUICK_S, f"answered in {elapsed:.2f} s"
    body: dict[str, Any] = response.json()
    return body


async def test_claims_pays_cancels_and_queue_visits_go_on_while_postgres_hangs(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor
) -> None:
    plain = await open_sale(resources, partner.id, seats=5, pools=(20,))
    roomed = await open_sale(resources, partner.id, pools=(20,))
    window = {
        "starts_at": "2020-01-01T00:00:00Z",
        "ends_at": "2090-01-01T00:00:00Z",
        "waiting_room": {"enabled": True, "admit_per_minute": 60_000, "max_active": 100},
    }
    put = await client.put(f"/events/{roomed.event_id}/sale", headers=partner.headers, json=window)
    assert put.status_code == 200, put.text
    buyers = [await make_actor(client, "customer") for _ in range(3)]
    gate_buyer = await make_actor(client, "customer")
    staff = await make_staff(client, partner)

    proxy = PostgresProxy(get_settings().database_url)
    through_proxy = await proxy.start()
    await forget_started(resources.job_queue_redis)
    worker = start_worker(DATABASE_URL=through_proxy)
    paid: list[str] = []
    try:
        async with api_process(through_proxy) as api:
            await wait_until_started(resources.job_queue_redis)  # connected through the proxy
            # a ticket completed by the worker (which creates the event's gate key) before
            # the stall: the fresh API process has not seen the key
            ticket_code = await completed_ticket_code(api, resources, gate_buyer, plain)
            proxy.stall()
            seat_buyer, ga_buyer, room_buyer = buyers

            # an event without a waiting room: seats and general admission
            order = await quick(
                api.post(
                    "/orders",
                    headers=seat_buyer.headers,
                    json={
                        "items": [
                            {"event_id": plain.event_id, "seat_ids": plain.seat_ids[:2]},
                            {"ticket_type_id": plain.pool_ids[0], "quantity": 2},
                        ]
                    },
                ),
                201,
            )
            pay = {"payment_token": "tok_visa"}
            url = f"/orders/{order['id']}/pay"
            paying = await quick(api.post(url, headers=seat_buyer.headers, json=pay), 202)
            assert paying["status"] in ("paid", "completed")
            paid.append(order["id"])
            plain_queue = f"/events/{plain.event_id}/queue"
            no_room = await quick(api.post(plain_queue, headers=ga_buyer.headers), 200)
            assert no_room["state"] == "admitted" and no_room.get("admission_token") is None
            ga_body = {"items": [{"ticket_type_id": plain.pool_ids[0], "quantity": 1}]}
            dropped = await quick(api.post("/orders", headers=ga_buyer.headers, json=ga_body), 201)
            cancel = f"/orders/{dropped['id']}/cancel"
            assert (await quick(api.post(cancel, headers=ga_buyer.headers), 200))[
                "status"
            ] == "cancelled"

            # an event with a waiting room: join, poll until admitted, claim with the token, pay
            room_queue = f"/events/{roomed.event_id}/queue"
            status = await quick(api.post(room_queue, headers=room_buyer.headers), 200)
            deadline = time.monotonic() + 5
            while status["state"] != "admitted" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                status = await quick(api.get(room_queue, headers=room_buyer.headers), 200)
            assert status["state"] == "admitted" and status["admission_token"], status
            gated = {**room_buyer.headers, "X-Admission-Token": status["admission_token"]}
            room_body = {"items": [{"ticket_type_id": roomed.pool_ids[0], "quantity": 3}]}
            room_order = await quick(api.post("/orders", headers=gated, json=room_body), 201)
            url = f"/orders/{room_order['id']}/pay"
            await quick(api.post(url, headers=room_buyer.headers, json=pay), 202)
            paid.append(room_order["id"])
            refused = await quick(
                api.post("/orders", headers=ga_buyer.headers, json=room_body), 403
            )
            assert refused["code"] == "admission_required"

            # the gate: the first scan admits, the next is refused
            scan = {"code": ticket_code, "gate": "north"}
            admitted = await quick(
                api.post("/tickets/validate", headers=staff.headers, json=scan), 200
            )
            assert admitted["result"] == "admitted"
            again = await quick(
                api.post("/tickets/validate", headers=staff.headers, json=scan), 409
            )
            assert again["code"] == "already_used"

            # nothing reached PostgreSQL meanwhile; all of it does once it answers again
            assert await wait_for_status(resources.pool, paid, "completed", 0) == 0
            proxy.resume()
            assert await wait_for_status(resources.pool, paid, "completed", 60) == len(paid)
            assert await wait_for_status(resources.pool, [dropped["id"]], "cancelled", 30) == 1
            assert await wait_for_ticket_used(resources, admitted["ticket"]["id"], 30)
    finally:
        kill(worker)
        await proxy.stop()
    tickets = await resources.pool.fetchval(
        "SELECT count(*) FROM tickets WHERE order_id = ANY($1) AND status = 'valid'", paid
    )
    assert tickets == 2 + 2 + 3


async def completed_ticket_code(
    api: httpx.AsyncClient, resources: Resources, buyer: Actor, sale: OnSale
) -> str:
    """The code of a ticket bought and paid for now, once the worker completed its order."""
    body = {"items": [{"ticket_type_id": sale.pool_ids[0], "quantity": 1}]}
    order = await api.post("/orders", headers=buyer.headers, json=body)
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]
    pay = {"payment_token": "tok_visa"}
    paid = await api.post(f"/orders/{order_id}/pay", headers=buyer.headers, json=pay)
    assert paid.status_code == 202, paid.text
    assert await wait_for_status(resources.pool, [order_id], "completed", 30) == 1
    # PostgreSQL says completed first; the order's document in Redis follows (complete.lua),
    # and the tickets are listed once it does
    deadline = time.monotonic() + 10
    while True:
        tickets = await api.get(f"/orders/{order_id}/tickets", headers=buyer.headers)
        assert tickets.status_code == 200, tickets.text
        if tickets.json()["items"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    code: str = tickets.json()["items"][0]["code"]
    return code


async def wait_for_ticket_used(resources: Resources, ticket_id: int, within: float) -> bool:
    """Whether the ticket is `used` in PostgreSQL within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        status = await resources.pool.fetchval(
            "SELECT status FROM tickets WHERE id = $1", ticket_id
        )
        if status == "used" or time.monotonic() > deadline:
            return bool(status == "used")
        await asyncio.sleep(0.2)


async def test_after_redis_lost_its_data_the_reconciler_restores_what_claims_read(
    resources: Resources, partner: Actor
) -> None:
    """The waiting room's settings and the ticket types' events come back with the inventory
    when the reconciler hydrates an event Redis lost, so the sale resumes without PostgreSQL."""
    sale = await open_sale(resources, partner.id, pools=(5,))
    await resources.pool.execute(
        """UPDATE events SET waiting_room_enabled = true, admit_per_minute = 60, max_active = 5
            WHERE id = $1""",
        sale.event_id,
    )
    await hydrate(sale.event_id, resources.sale_reads, resources.inventory)
    room = waiting_room(resources.redis, get_settings().jwt_secret)
    assert await room.waiting_room_on(sale.event_id)
    await resources.redis.flushdb()
    assert not await room.waiting_room_on(sale.event_id)  # not on sale: claims are refused
    await reconcile(resources, sale.event_id)
    assert await room.waiting_room_on(sale.event_id)
    fresh_store = RedisSaleStore(
        resources.redis, resources.scripts, ClaimBatcher(resources.scripts)
    )
    type_id = sale.pool_ids[0]
    assert await fresh_store.events_of_ticket_types([type_id]) == {type_id: sale.event_id}

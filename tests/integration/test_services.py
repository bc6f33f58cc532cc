"""An API process builds each engine service once, at start-up (engine/store/services.py),
and every handler and hot path uses that one: one waiting room, one gate key cache, one
rate limiter, never one object per request. A worker builds its persister and gate keys
with the same function, once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from arq.connections import RedisSettings, create_pool
from litestar.testing import AsyncTestClient

from engine.accounts import Accounts
from engine.admission import Admission
from engine.catalogue import Catalogue
from engine.gate import Gate
from engine.gate_keys import GateKeys
from engine.inventory import Inventory
from engine.lineup import Lineup
from engine.orders import Orders
from engine.persistence import Persister
from engine.reports import Reports
from engine.revocation import RevokedUsers
from engine.settings import get_settings
from engine.store.redis_idempotency import RedisIdempotencyStore
from engine.store.redis_order_log import RedisOrderLog
from engine.store.redis_rate_limit import RedisRateLimiter
from engine.store.redis_waiting_room import RedisWaitingRoomStore
from engine.store.resources import Resources
from engine.tickets import Tickets
from engine.waiting_room import WaitingRoom
from tests.conftest import make_actor, make_staff
from tests.sale_setup import open_sale, seat_item

SERVICES: list[type] = [
    WaitingRoom,
    RedisWaitingRoomStore,
    Admission,
    Orders,
    Catalogue,
    Inventory,
    Lineup,
    Reports,
    Accounts,
    Tickets,
    Gate,
    GateKeys,
    Persister,
    RevokedUsers,
    RedisRateLimiter,
    RedisIdempotencyStore,
]


def count_constructions(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    built: Counter[str] = Counter()
    for kind in SERVICES:
        monkeypatch.setattr(kind, "__init__", _counted(kind.__init__, kind.__name__, built))
    return built


def _counted(init: Callable[..., None], name: str, built: Counter[str]) -> Callable[..., None]:
    def counted(self: Any, *args: Any, **kwargs: Any) -> None:
        built[name] += 1
        init(self, *args, **kwargs)

    return counted


async def test_an_api_process_builds_each_service_once(
    resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = count_constructions(monkeypatch)
    from api.app import create_app

    async with AsyncTestClient(app=create_app()) as client:
        assert built == dict.fromkeys((kind.__name__ for kind in SERVICES), 1)
        partner = await make_actor(client, "partner")
        customer = await make_actor(client, "customer")
        staff = await make_staff(client, partner)
        sale = await open_sale(resources, partner.id, seats=4)
        event = f"/events/{sale.event_id}"
        for round_no in range(2):
            # the hot paths (api/hot_paths.py) and the documented handlers behind them
            joined = await client.post(f"{event}/queue", headers=customer.headers)
            assert joined.status_code == 200, joined.text
            polled = await client.get(f"{event}/queue", headers=customer.headers)
            assert polled.json()["state"] == "admitted", polled.text
            refused = await client.get(f"{event}/queue", headers=partner.headers)
            assert refused.status_code == 403, refused.text
            seat = seat_item(sale, sale.seat_ids[2 * round_no])
            placed = await client.post("/orders", headers=customer.headers, json={"items": [seat]})
            assert placed.status_code == 201, placed.text
            again = seat_item(sale, sale.seat_ids[2 * round_no + 1])
            keyed = await client.post(
                "/orders",
                headers={**customer.headers, "Idempotency-Key": f"services-{round_no}"},
                json={"items": [again]},
            )
            assert keyed.status_code == 201, keyed.text
            order_id = placed.json()["id"]
            paid = await client.post(
                f"/orders/{order_id}/pay",
                headers=customer.headers,
                json={"payment_token": "tok_ok"},
            )
            assert paid.status_code == 202, paid.text
            read = await client.get(f"/orders/{order_id}", headers=customer.headers)
            assert read.json()["status"] == "paid", read.text
            tickets = await client.get(f"/orders/{order_id}/tickets", headers=customer.headers)
            assert tickets.status_code == 200, tickets.text
            scan = {"code": "1234", "gate": "A"}
            scanned = await client.post("/tickets/validate", headers=staff.headers, json=scan)
            assert scanned.json()["result"] == "invalid", scanned.text
            keys = await client.get(f"{event}/gate-keys", headers=staff.headers)
            assert keys.status_code == 200, keys.text
            shown = await client.get(event, headers=customer.headers)
            assert shown.json()["id"] == sale.event_id, shown.text
            seats = await client.get(f"{event}/seats", headers=customer.headers)
            assert len(seats.json()["items"]) == 4, seats.text
            lineup = await client.get("/attractions")
            assert lineup.status_code == 200, lineup.text
            report = await client.get(f"/partner{event}/sales", headers=partner.headers)
            assert report.status_code == 200, report.text
            me = await client.get("/me", headers=customer.headers)
            assert me.json()["id"] == customer.id, me.text
    assert built == dict.fromkeys((kind.__name__ for kind in SERVICES), 1)


async def test_a_worker_builds_its_persister_and_gate_keys_once(
    resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers.settings import shutdown, startup

    built = Counter[str]()
    for kind in (GateKeys, Persister, RedisOrderLog):
        monkeypatch.setattr(kind, "__init__", _counted(kind.__init__, kind.__name__, built))
    arq = await create_pool(RedisSettings.from_dsn(get_settings().job_queue_redis_url))
    ctx: dict[str, Any] = {"redis": arq}
    try:
        await startup(ctx)
        assert built == {"GateKeys": 1, "Persister": 1, "RedisOrderLog": 1}
    finally:
        await shutdown(ctx)
        await arq.aclose()

"""Request-rate limits (engine/rate_limits.py): token buckets per customer and per client
address, 429 `rate_limited` with Retry-After. The claims' buckets are checked by
lua/claim.lua in the call that claims (no extra round trip), the waiting room's by
lua/waiting_room_visit.lua; registrations, logins and payments take one small call.

The HTTP tests run a real server with tight limits of their own (the suite's in-process
client sends every request from one address and one at a time); addresses are given by
X-Forwarded-For, which uvicorn takes from 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import RedisCluster

from engine import keys
from engine.errors import TooManyAttempts
from engine.orders import EventClaim, Order, Orders
from engine.principal import Principal
from engine.rate_limits import OFF, Rate
from engine.settings import get_settings
from engine.store.claim_batcher import ClaimBatcher
from engine.store.redis_sale import RedisSaleStore
from engine.store.resources import Resources
from engine.tokens import issue_access_token
from loadtests.setup_data import create_customers, create_partner
from tests import services as test_services
from tests.api_server import running_api
from tests.concurrency.engine_client import RecordingJobQueue
from tests.conftest import unique_email
from tests.integration.test_waiting_room import set_room
from tests.sale_setup import open_sale

pytestmark = pytest.mark.cluster

LIMITS = {
    "RATE_LIMIT_REGISTER_PER_ADDRESS": "3/3600",
    "RATE_LIMIT_LOGIN_PER_ADDRESS": "4/3600",
    "RATE_LIMIT_PAY_PER_CUSTOMER": "2/3600",
    "RATE_LIMIT_CLAIMS_PER_CUSTOMER": "3/3600",
    "RATE_LIMIT_CLAIMS_PER_ADDRESS": "4/3600",
    "RATE_LIMIT_QUEUE_PER_CUSTOMER": "5/3600",
}


@pytest.fixture(scope="module")
def api(services: test_services.TestServices) -> Iterator[str]:
    with running_api(**LIMITS) as base:
        yield base


@pytest.fixture
async def http(api: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api, timeout=60) as client:
        yield client


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1


def bearer(customer_id: int) -> dict[str, str]:
    token = issue_access_token(Principal(customer_id, "customer"), get_settings().jwt_secret, 600)
    return {"Authorization": f"Bearer {token}"}


def ga_order(pool_id: int) -> dict[str, Any]:
    return {"items": [{"ticket_type_id": pool_id, "quantity": 1}]}


async def test_claims_per_customer_on_the_hot_path(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """10 claims at once from one customer on one event: 3 go through, 7 are refused
    unlooked-at; another event has a bucket of its own."""
    partner = await create_partner(resources.pool)
    (customer,) = await create_customers(resources.pool, 1)
    first, second = [await open_sale(resources, partner, pools=(100,), limit=100) for _ in "ab"]
    headers = {**bearer(customer), "X-Forwarded-For": "192.0.2.1"}
    answers = await asyncio.gather(
        *(
            http.post("/orders", json=ga_order(first.pool_ids[0]), headers=headers)
            for _ in range(10)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] * 3 + [429] * 7
    for answer in answers:
        if answer.status_code == 429:
            assert_rate_limited(answer)
    other = await http.post("/orders", json=ga_order(second.pool_ids[0]), headers=headers)
    assert other.status_code == 201, other.text
    counts = (await resources.inventory.counts([first.event_id]))[first.event_id]
    assert (counts.available, counts.held) == (97, 3)


async def test_claims_per_address_on_the_hot_path(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    partner = await create_partner(resources.pool)
    customers = await create_customers(resources.pool, 7)
    sale = await open_sale(resources, partner, pools=(100,), limit=100)
    order = ga_order(sale.pool_ids[0])
    same_place = {"X-Forwarded-For": "198.51.100.4"}
    answers = await asyncio.gather(
        *(
            http.post("/orders", json=order, headers={**bearer(c), **same_place})
            for c in customers[:6]
        )
    )
    assert sorted(a.status_code for a in answers) == [201] * 4 + [429] * 2
    elsewhere = {**bearer(customers[6]), "X-Forwarded-For": "198.51.100.5"}
    assert (await http.post("/orders", json=order, headers=elsewhere)).status_code == 201


async def test_claims_with_an_idempotency_key_are_limited_and_not_replayed(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """Through the documented handler: a 429 is not kept as the key's answer."""
    partner = await create_partner(resources.pool)
    (customer,) = await create_customers(resources.pool, 1)
    sale = await open_sale(resources, partner, pools=(100,), limit=100)
    order = ga_order(sale.pool_ids[0])
    for n in range(3):
        keyed = {**bearer(customer), "Idempotency-Key": f"k{n}"}
        assert (await http.post("/orders", json=order, headers=keyed)).status_code == 201
    keyed = {**bearer(customer), "Idempotency-Key": "k-last"}
    assert_rate_limited(await http.post("/orders", json=order, headers=keyed))
    assert_rate_limited(await http.post("/orders", json=order, headers=keyed))


async def test_registrations_per_address(http: httpx.AsyncClient) -> None:
    """A burst of registrations from one address: the bucket's 3, then 429."""

    def register(address: str) -> Any:
        body = {
            "role": "customer",
            "name": "Bot",
            "email": unique_email("burst"),
            "password": "correct horse",
        }
        return http.post("/auth/register", json=body, headers={"X-Forwarded-For": address})

    answers = await asyncio.gather(*(register("203.0.113.50") for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [201] * 3 + [429] * 5
    assert_rate_limited(next(a for a in answers if a.status_code == 429))
    assert (await register("203.0.113.51")).status_code == 201


async def test_logins_per_address(http: httpx.AsyncClient) -> None:
    place = {"X-Forwarded-For": "203.0.113.60"}
    statuses = []
    for _ in range(5):
        body = {"email": unique_email("nobody"), "password": "whatever-1"}
        statuses.append((await http.post("/auth/login", json=body, headers=place)).status_code)
    assert statuses == [401] * 4 + [429]


async def test_payments_per_customer(http: httpx.AsyncClient, resources: Resources) -> None:
    (customer,) = await create_customers(resources.pool, 1)
    pay = {"payment_token": "tok_ok"}
    # a well-formed id of no order: the bucket is charged before the order is looked for
    answers = [
        await http.post(f"/orders/1-{'0' * 20}/pay", json=pay, headers=bearer(customer))
        for _ in range(3)
    ]
    assert 429 not in [a.status_code for a in answers[:2]]
    assert_rate_limited(answers[2])


async def test_queue_joins_and_polls_per_customer(
    http: httpx.AsyncClient, resources: Resources
) -> None:
    """Joins and polls share the customer's bucket of the room (5 here); polls that arrive
    together are answered in one call, each customer on its own."""
    partner = await create_partner(resources.pool)
    spammer, calm = await create_customers(resources.pool, 2)
    sale = await open_sale(resources, partner, pools=(100,), limit=100)
    await set_room(resources, sale.event_id, enabled=True, rate=60, max_active=1)
    path = f"/events/{sale.event_id}/queue"
    assert (await http.post(path, headers=bearer(spammer))).status_code == 200
    assert (await http.post(path, headers=bearer(calm))).status_code == 200
    polls = await asyncio.gather(*(http.get(path, headers=bearer(spammer)) for _ in range(8)))
    assert sorted(p.status_code for p in polls) == [200] * 4 + [429] * 4
    assert_rate_limited(next(p for p in polls if p.status_code == 429))
    assert_rate_limited(await http.post(path, headers=bearer(spammer)))
    assert (await http.get(path, headers=bearer(calm))).status_code == 200


# --- the engine: limits go with the claim call ---------------------------------------------


def limited_orders(resources: Resources, per_customer: Rate, per_address: Rate = OFF) -> Orders:
    batcher = ClaimBatcher(resources.scripts, per_customer, per_address)
    store = RedisSaleStore(resources.redis, resources.scripts, batcher)
    return Orders(store, resources.sale_reads, resources.order_store, RecordingJobQueue())


async def attempt(orders: Orders, customer: int, claims: list[EventClaim]) -> Order | str:
    try:
        return await orders.place(Principal(customer, "customer"), claims, "", None, "192.0.2.9")
    except TooManyAttempts as exc:
        return "rate_limited" if exc.retry_after >= 1 else "no Retry-After"


@pytest.mark.parametrize("round_", range(5))
async def test_coalesced_claims_of_one_customer_take_exactly_the_bucket(
    resources: Resources, round_: int
) -> None:
    """40 claims at once from one customer go to Redis in shared batches: exactly the
    bucket's 5 are claimed, whatever batch each landed in."""
    orders = limited_orders(resources, Rate(5, 3600))
    partner = await create_partner(resources.pool)
    (customer,) = await create_customers(resources.pool, 1)
    sale = await open_sale(resources, partner, pools=(100,), limit=100)
    claim = [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 1})]
    results = await asyncio.gather(*(attempt(orders, customer, claim) for _ in range(40)))
    assert sum(isinstance(r, Order) for r in results) == 5
    assert results.count("rate_limited") == 35
    counts = (await resources.inventory.counts([sale.event_id]))[sale.event_id]
    assert (counts.available, counts.held) == (95, 5)


async def test_an_order_over_two_events_is_all_or_nothing_under_the_limit(
    resources: Resources,
) -> None:
    """The second event's bucket is empty: the order is refused and the first event's hold,
    taken in this order's first call, goes back at once."""
    orders = limited_orders(resources, Rate(1, 3600))
    partner = await create_partner(resources.pool)
    (customer,) = await create_customers(resources.pool, 1)
    first, second = [await open_sale(resources, partner, pools=(10,), limit=100) for _ in "ab"]
    both = [
        EventClaim(first.event_id, pools={first.pool_ids[0]: 1}),
        EventClaim(second.event_id, pools={second.pool_ids[0]: 1}),
    ]
    only_second = [EventClaim(second.event_id, pools={second.pool_ids[0]: 2})]
    assert isinstance(await attempt(orders, customer, only_second), Order)
    assert await attempt(orders, customer, both) == "rate_limited"
    counts = await resources.inventory.counts([first.event_id, second.event_id])
    assert (counts[first.event_id].available, counts[first.event_id].held) == (10, 0)
    assert (counts[second.event_id].available, counts[second.event_id].held) == (8, 2)


async def command_stats(resources: Resources, event_id: int) -> dict[str, Any]:
    """INFO commandstats of the server holding the event (its master, in a cluster)."""
    redis = resources.redis
    if isinstance(redis, RedisCluster):
        node = redis.get_node_from_key(keys.event_tag(event_id))
        return dict(await redis.info("commandstats", target_nodes=node))
    return dict(await redis.info("commandstats"))


async def test_a_claim_is_one_script_call_with_the_limits_on(resources: Resources) -> None:
    """The bench-relevant fact: the limits add no Redis call to a claim (one EVALSHA with
    or without them)."""
    partner = await create_partner(resources.pool)
    (customer,) = await create_customers(resources.pool, 1)
    sale = await open_sale(resources, partner, pools=(10,), limit=100)
    claim = [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 1})]
    calls = []
    for orders in (
        limited_orders(resources, OFF),
        limited_orders(resources, Rate(40, 20), Rate(300, 10)),
    ):
        await attempt(orders, customer, claim)  # loads the script
        before = await command_stats(resources, sale.event_id)
        assert isinstance(await attempt(orders, customer, claim), Order)
        after = await command_stats(resources, sale.event_id)
        calls.append(
            {
                name: after[name]["calls"] - before.get(name, {"calls": 0})["calls"]
                for name in after
                if after[name]["calls"] != before.get(name, {"calls": 0})["calls"]
            }
        )
    assert calls[0]["cmdstat_evalsha"] == calls[1]["cmdstat_evalsha"] == 1
    # commandstats counts the commands run inside scripts too: the limits add only the
    # buckets' own, inside the one script call
    changed = {
        name
        for name in calls[0].keys() | calls[1].keys()
        if calls[0].get(name) != calls[1].get(name)
    }
    # (PEXPIRE only when the hash's life must be lengthened: not within the same ms)
    assert {"cmdstat_hmget", "cmdstat_hset", "cmdstat_pttl"} <= changed
    assert changed <= {"cmdstat_hmget", "cmdstat_hset", "cmdstat_pttl", "cmdstat_pexpire"}


async def test_a_batch_reads_and_writes_its_buckets_once(resources: Resources) -> None:
    """64 customers claiming at once share a few batches: the buckets cost each batch one
    HMGET per kind of bucket (customer, address) and one HSET, not a read and a write per
    claim; every claim is still charged (a second burst over the bucket is refused)."""
    partner = await create_partner(resources.pool)
    customers = await create_customers(resources.pool, 64)
    sale = await open_sale(resources, partner, pools=(1000,), limit=100)
    claim = [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 1})]
    orders = limited_orders(resources, Rate(1, 3600), Rate(1000, 3600))
    await attempt(orders, customers[0], claim)  # loads the script, empties customer 0's bucket
    before = await resources.redis.info("commandstats")
    first = await asyncio.gather(*(attempt(orders, c, claim) for c in customers[1:]))
    after = await resources.redis.info("commandstats")
    assert all(isinstance(answer, Order) for answer in first)

    def calls(name: str) -> int:
        return int(after[name]["calls"]) - int(before.get(name, {"calls": 0})["calls"])

    batches = calls("cmdstat_evalsha")
    assert batches < len(customers) - 1  # the claims were coalesced
    # claim.lua reads the event's settings and the pool's price and name with one HMGET
    # each per batch; the buckets add one per kind, one PTTL and at most one PEXPIRE
    assert calls("cmdstat_hmget") == 4 * batches
    assert calls("cmdstat_pttl") == batches
    assert calls("cmdstat_pexpire") <= batches
    again = await asyncio.gather(*(attempt(orders, c, claim) for c in customers))
    assert again == ["rate_limited"] * len(customers)


async def test_payments_are_charged_in_the_call_that_pays(resources: Resources) -> None:
    """10 orders of one customer paid at once with a bucket of 3: exactly 3 are paid, the
    other 7 refused before anything was looked at (still reserved), and the whole of it is
    lua/pay.lua's calls: no call of a rate-limit script of its own."""
    partner = await create_partner(resources.pool)
    (customer,) = await create_customers(resources.pool, 1)
    sale = await open_sale(resources, partner, pools=(100,), limit=100)
    batcher = ClaimBatcher(resources.scripts)
    store = RedisSaleStore(resources.redis, resources.scripts, batcher, None, Rate(3, 3600))
    orders = Orders(store, resources.sale_reads, resources.order_store, RecordingJobQueue())
    who = Principal(customer, "customer")
    claim = [EventClaim(sale.event_id, pools={sale.pool_ids[0]: 1})]
    placed = [await attempt(orders, customer, claim) for _ in range(10)]
    assert all(isinstance(order, Order) for order in placed)

    async def pay(order: Order | str) -> str:
        assert isinstance(order, Order)
        try:
            return (await orders.pay(who, order.id, "tok_ok")).status
        except TooManyAttempts as exc:
            return "rate_limited" if exc.retry_after >= 1 else "no Retry-After"

    before = await resources.redis.info("commandstats")
    answers = await asyncio.gather(*(pay(order) for order in placed))
    after = await resources.redis.info("commandstats")
    assert sorted(answers) == ["paid"] * 3 + ["rate_limited"] * 7
    calls = after["cmdstat_evalsha"]["calls"] - before["cmdstat_evalsha"]["calls"]
    assert calls <= 10  # one pay.lua call per batch, nothing per payment besides
    counts = (await resources.inventory.counts([sale.event_id]))[sale.event_id]
    assert (counts.held, counts.sold) == (7, 3)

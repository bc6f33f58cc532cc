from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from itertools import count
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine.settings import get_settings, reset_settings
from engine.store.redis_client import SaleRedis, connect_sale_redis
from engine.store.resources import Resources, open_resources
from loadtests.bench_stack import UNMET_RATE_LIMITS
from tests.services import RUN_DATA, TestServices, start_test_services

_ids = count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--redis-cluster",
        action="store_true",
        default=os.environ.get("TEST_REDIS_CLUSTER") == "1",
        help="run against a 3-master Redis Cluster started for the run (tests/services.py)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under --redis-cluster, only the tests marked `cluster` run (the sale engine, the
    waiting room, the gate, the faults): the rest never touch the sale's Redis differently.
    Without it, those marked `cluster_only` (a master's failover) are left to that session."""
    if not config.getoption("--redis-cluster"):
        alone = [item for item in items if not item.get_closest_marker("cluster_only")]
        config.hook.pytest_deselected(items=[item for item in items if item not in alone])
        items[:] = alone
        return
    chosen = [item for item in items if item.get_closest_marker("cluster")]
    config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
    items[:] = chosen


@pytest.fixture(scope="session")
def on_cluster(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--redis-cluster"))


@pytest.fixture(scope="session")
def services(on_cluster: bool) -> Iterator[TestServices]:
    svc = start_test_services(cluster=on_cluster)
    if svc.queue_redis_url:
        # each master has a replica: a payment is acknowledged once one has it
        os.environ.update(
            REDIS_CLUSTER="1", QUEUE_REDIS_URL=svc.queue_redis_url, REDIS_PAYMENT_REPLICAS="1"
        )
    os.environ.update(
        DATABASE_URL=svc.database_url,
        REDIS_URL=svc.redis_url,
        # per-run folder, removed afterwards: secrets, mail files and logs of this run only
        BOXOFFICE_DATA_DIR=str(RUN_DATA),
        # cheap argon2 for the suite; production parameters are measured by `make bench`
        ARGON2_MEMORY_KIB="1024",
        ARGON2_TIME_COST="1",
        LOG_LEVEL="WARNING",
        # every request of the suite comes from the one test client, and its customers claim,
        # poll and pay far faster than people: the buckets are checked on every request but
        # sized never to be met (tests/integration/test_rate_limits.py checks them with
        # limits of its own)
        **UNMET_RATE_LIMITS,
    )
    reset_settings()
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
async def redis(services: TestServices) -> AsyncIterator[SaleRedis]:
    client = connect_sale_redis(services.redis_url, cluster=services.cluster is not None)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def resources(services: TestServices, redis: SaleRedis) -> AsyncIterator[Resources]:
    """Connections in the test's own event loop, for direct SQL and Redis in tests.

    The app under AsyncTestClient runs in another thread and loop: never use
    `services_of(client.app).resources` from a test.
    """
    opened = await open_resources(get_settings(), pool_size=5)
    yield opened
    await opened.close()


@pytest.fixture(scope="session")
async def client(services: TestServices, redis: SaleRedis) -> AsyncIterator[AsyncTestClient[Any]]:
    from api.app import create_app

    async with AsyncTestClient(app=create_app()) as test_client:
        yield test_client


@pytest.fixture(scope="session")
async def documented(
    services: TestServices, redis: SaleRedis
) -> AsyncIterator[AsyncTestClient[Any]]:
    """A client of the app built without hot paths: every request takes the documented
    handlers, to compare their answers with the hot paths' (api/hot_paths.py)."""
    from api.app import create_app

    async with AsyncTestClient(app=create_app(hot_paths=False)) as test_client:
        yield test_client


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_ids)}-{os.getpid()}@example.com"


class Actor:
    """A registered, logged-in user for tests."""

    def __init__(self, user: dict[str, Any], token: str) -> None:
        self.user = user
        self.id: int = user["id"]
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}


async def make_actor(client: AsyncTestClient[Any], role: str, **fields: Any) -> Actor:
    email = unique_email(role)
    body: dict[str, Any] = {
        "role": role,
        "name": f"A {role}",
        "email": email,
        "password": "correct horse",
        **fields,
    }
    if role == "partner":
        body.setdefault("company_name", "Acme Shows")
    registered = await client.post("/auth/register", json=body)
    assert registered.status_code == 201, registered.text
    login = await client.post("/auth/login", json={"email": email, "password": "correct horse"})
    assert login.status_code == 200, login.text
    return Actor(login.json()["user"], login.json()["access_token"])


async def make_staff(client: AsyncTestClient[Any], partner: Actor) -> Actor:
    email = unique_email("staff")
    created = await client.post(
        "/partner/staff",
        headers=partner.headers,
        json={"name": "Gate One", "email": email, "password": "correct horse"},
    )
    assert created.status_code == 201, created.text
    login = await client.post("/auth/login", json={"email": email, "password": "correct horse"})
    assert login.status_code == 200, login.text
    return Actor(login.json()["user"], login.json()["access_token"])


@pytest.fixture
async def partner(client: AsyncTestClient[Any]) -> Actor:
    return await make_actor(client, "partner")


@pytest.fixture
async def other_partner(client: AsyncTestClient[Any]) -> Actor:
    return await make_actor(client, "partner")


@pytest.fixture
async def customer(client: AsyncTestClient[Any]) -> Actor:
    return await make_actor(client, "customer", address="Rua A, 1", phone="+55 11 5555-0000")


@pytest.fixture
async def staff(client: AsyncTestClient[Any], partner: Actor) -> Actor:
    return await make_staff(client, partner)

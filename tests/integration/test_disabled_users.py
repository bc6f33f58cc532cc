"""Disabled and deleted users: their tokens are refused within about a second on every path,
the hot paths included, without a PostgreSQL read; their login is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from engine import keys
from engine.accounts import UserAdmin
from engine.principal import Principal
from engine.revocation import RevokedUsers
from engine.settings import ROOT
from engine.store.pg_accounts import PgAccountStore
from engine.store.redis_revocation import RedisRevocationCopy
from engine.store.resources import Resources
from tests.conftest import Actor, make_actor, make_staff
from tests.sale_setup import open_sale, seat_item

pytestmark = pytest.mark.cluster

PASSWORD = "correct horse"


def user_admin(resources: Resources) -> UserAdmin:
    return UserAdmin(PgAccountStore(resources.pool), RedisRevocationCopy(resources.redis))


@contextmanager
def postgres_use() -> Iterator[list[str]]:
    """A note for every connection this process takes from an asyncpg pool meanwhile:
    every query of the app (pool.fetch and friends included) goes through one."""
    taken: list[str] = []
    original = asyncpg.pool.Pool.acquire

    def acquire(self: asyncpg.Pool, *, timeout: float | None = None) -> Any:
        taken.append("acquire")
        return original(self, timeout=timeout)

    asyncpg.pool.Pool.acquire = acquire  # type: ignore[method-assign]
    try:
        yield taken
    finally:
        asyncpg.pool.Pool.acquire = original  # type: ignore[method-assign]


async def refused_within(
    client: AsyncTestClient[Any], requests: list[tuple[str, str, Actor, Any]], within: float
) -> float:
    """Seconds until each request answers 401 account_disabled."""
    started = time.monotonic()
    pending = list(requests)
    while pending:
        method, path, actor, body = pending[0]
        answer = await client.request(method, path, headers=actor.headers, json=body)
        if answer.status_code == 401 and answer.json()["code"] == "account_disabled":
            pending.pop(0)
            continue
        assert time.monotonic() - started < within, (path, answer.status_code, answer.text)
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_disabled_users_tokens_stop_working_on_every_path_without_postgres(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor
) -> None:
    customer = await make_actor(client, "customer")
    staff = await make_staff(client, partner)
    sale = await open_sale(resources, partner.id, seats=4)
    claim = {"items": [seat_item(sale, sale.seat_ids[0])]}
    scan = {"code": "A" * 60}
    me = await client.get("/me", headers=customer.headers)
    assert me.status_code == 200
    assert (await client.post("/orders", headers=customer.headers, json=claim)).status_code == 201
    assert (
        await client.post("/tickets/validate", headers=staff.headers, json=scan)
    ).status_code == 404
    with postgres_use() as taken:  # the counter sees what an allowed GET /me reads
        assert (await client.get("/me", headers=customer.headers)).status_code == 200
    assert taken

    admin = user_admin(resources)
    await admin.disable(customer.user["email"])
    await admin.disable(staff.user["email"])
    took = await refused_within(
        client,
        [
            ("GET", "/me", customer, None),
            ("POST", "/orders", customer, {"items": [seat_item(sale, sale.seat_ids[1])]}),
            ("POST", "/tickets/validate", staff, scan),
            ("POST", f"/events/{sale.event_id}/queue", customer, None),
        ],
        within=2.0,
    )
    print(f"refused {took:.2f}s after the disable")

    with postgres_use() as taken:
        answers = [
            await client.get("/me", headers=customer.headers),
            await client.post("/orders", headers=customer.headers, json=claim),
            await client.post("/tickets/validate", headers=staff.headers, json=scan),
            await client.get(f"/events/{sale.event_id}/queue", headers=customer.headers),
            await client.get("/me/orders", headers=customer.headers),
        ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(401, "account_disabled")] * 5
    assert taken == []
    # the seats the refused claims asked for are still on sale
    counts = await resources.redis.hmget(keys.event_key(sale.event_id, "counts"), "a", "h")
    assert [int(c) for c in counts] == [3, 1]


async def test_a_disabled_user_cannot_log_in_until_enabled(
    client: AsyncTestClient[Any], resources: Resources
) -> None:
    customer = await make_actor(client, "customer")
    email = customer.user["email"]
    admin = user_admin(resources)
    await admin.disable(email)
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert (login.status_code, login.json()["code"]) == (401, "account_disabled")
    wrong = await client.post("/auth/login", json={"email": email, "password": "not it"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")

    await admin.enable(email)
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    token = {"Authorization": f"Bearer {login.json()['access_token']}"}
    started = time.monotonic()
    while (await client.get("/me", headers=token)).status_code != 200:
        assert time.monotonic() - started < 2.0
        await asyncio.sleep(0.05)


async def test_a_deleted_user_is_anonymised_and_its_orders_kept(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor
) -> None:
    customer = await make_actor(client, "customer", address="Rua A, 1", phone="+55 11 5555-0000")
    sale = await open_sale(resources, partner.id, seats=1)
    placed = await client.post(
        "/orders", headers=customer.headers, json={"items": [seat_item(sale, sale.seat_ids[0])]}
    )
    assert placed.status_code == 201
    await resources.pool.execute(  # as a worker writes it
        """INSERT INTO orders (id, customer_id, status, total_cents, expires_at, created_at)
           VALUES ($1, $2, 'reserved', 0, now(), now())""",
        placed.json()["id"],
        customer.id,
    )
    email = customer.user["email"]
    assert await user_admin(resources).delete(email) == [customer.id]
    row = await resources.pool.fetchrow("SELECT * FROM users WHERE id = $1", customer.id)
    assert row["deleted_at"] is not None and row["disabled_at"] is not None
    assert (row["name"], row["address"], row["phone"]) == ("Deleted user", None, None)
    assert email not in row["email"]
    assert (
        await resources.pool.fetchval(
            "SELECT customer_id FROM orders WHERE id = $1", placed.json()["id"]
        )
        == customer.id
    )
    await refused_within(client, [("GET", "/me", customer, None)], within=2.0)
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert (login.status_code, login.json()["code"]) == (401, "invalid_credentials")
    again = await client.post(  # the address is free for a new account
        "/auth/register",
        json={"role": "customer", "name": "New", "email": email, "password": PASSWORD},
    )
    assert again.status_code == 201


async def test_the_copy_is_rebuilt_from_postgres_when_redis_lost_it(
    client: AsyncTestClient[Any], resources: Resources
) -> None:
    customer = await make_actor(client, "customer")
    await user_admin(resources).disable(customer.user["email"])
    await resources.redis.delete(keys.REVOKED_USERS)
    fresh = RevokedUsers(RedisRevocationCopy(resources.redis), PgAccountStore(resources.pool))
    await fresh.refresh()
    assert customer.id in await PgAccountStore(resources.pool).revoked_user_ids()
    assert not fresh.allows(Principal(customer.id, "customer"))
    await refused_within(client, [("GET", "/me", customer, None)], within=2.0)


async def test_the_ops_command_disables_and_enables(
    client: AsyncTestClient[Any], customer: Actor
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ops.users", *args],
            cwd=ROOT,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=60,
        )

    email = customer.user["email"]
    disabled = await asyncio.to_thread(run, "disable", email)
    assert (disabled.returncode, disabled.stdout.strip()) == (
        0,
        f"disabled user ids: {customer.id}",
    )
    await refused_within(client, [("GET", "/me", customer, None)], within=2.0)
    enabled = await asyncio.to_thread(run, "enable", email)
    assert (enabled.returncode, enabled.stdout.strip()) == (0, f"enabled user ids: {customer.id}")
    started = time.monotonic()
    while (await client.get("/me", headers=customer.headers)).status_code != 200:
        assert time.monotonic() - started < 2.0
        await asyncio.sleep(0.05)
    unknown = await asyncio.to_thread(run, "delete", "nobody-at-all@example.com")
    assert unknown.returncode == 2 and "No user" in unknown.stderr

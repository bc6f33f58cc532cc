"""Refresh tokens (engine/refresh_tokens.py, `POST /auth/refresh` and `/auth/logout`): each use
rotates the token, a spent token used again revokes its whole sign-in, a sign-in ends on
logout, and a disabled or deleted user gets no new access token."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from engine import keys
from engine.errors import RefreshTokenRefused
from engine.refresh_tokens import RefreshTokens
from engine.store.redis_refresh import RedisRefreshStore
from engine.store.resources import Resources
from tests.conftest import unique_email
from tests.integration.test_disabled_users import user_admin

PASSWORD = "correct horse"


async def signed_in(client: AsyncTestClient[Any]) -> tuple[str, dict[str, Any]]:
    email = unique_email("refresh")
    body = {"role": "customer", "name": "Ann", "email": email, "password": PASSWORD}
    assert (await client.post("/auth/register", json=body)).status_code == 201
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return email, login.json()


async def refresh(client: AsyncTestClient[Any], token: str) -> Any:
    return await client.post("/auth/refresh", json={"refresh_token": token})


def refused(response: Any) -> bool:
    return response.status_code == 401 and response.json()["code"] == "invalid_refresh_token"


async def test_a_refresh_rotates_the_token_and_gives_a_working_access_token(
    client: AsyncTestClient[Any],
) -> None:
    _, login = await signed_in(client)
    assert login["refresh_expires_in"] > 0
    first = await refresh(client, login["refresh_token"])
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["refresh_token"] != login["refresh_token"]
    assert body["user"]["id"] == login["user"]["id"]
    me = await client.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == login["user"]["id"]
    second = await refresh(client, body["refresh_token"])
    assert second.status_code == 200, second.text


async def test_a_spent_token_used_again_revokes_the_whole_sign_in(
    client: AsyncTestClient[Any],
) -> None:
    _, login = await signed_in(client)
    spent = login["refresh_token"]
    current = (await refresh(client, spent)).json()["refresh_token"]
    reused = await refresh(client, spent)  # the thief (or the customer) replays it
    assert refused(reused)
    assert "already used" in reused.json()["detail"]
    assert refused(await refresh(client, current))  # the newer token died with its sign-in


async def test_other_sign_ins_survive_a_reuse_and_garbage_revokes_nothing(
    client: AsyncTestClient[Any],
) -> None:
    email, login = await signed_in(client)
    again = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    other = again.json()["refresh_token"]
    spent = login["refresh_token"]
    await refresh(client, spent)
    assert refused(await refresh(client, spent))
    family = other.split(".")[0]
    for garbage in ("nonsense", f"{family}.not-a-token-it-issued", f"{family}.", "x" * 199):
        assert refused(await refresh(client, garbage))
    assert (await refresh(client, other)).status_code == 200


async def test_logout_ends_the_sign_in(client: AsyncTestClient[Any]) -> None:
    _, login = await signed_in(client)
    current = (await refresh(client, login["refresh_token"])).json()["refresh_token"]
    out = await client.post("/auth/logout", json={"refresh_token": login["refresh_token"]})
    assert out.status_code == 204
    assert refused(await refresh(client, current))


async def test_a_disabled_or_deleted_user_gets_no_new_access_token(
    client: AsyncTestClient[Any], resources: Resources
) -> None:
    admin = user_admin(resources)
    for end in (admin.disable, admin.delete):
        email, login = await signed_in(client)
        await end(email)
        answer = await refresh(client, login["refresh_token"])
        assert answer.status_code == 401
        assert answer.json()["code"] == "account_disabled"
        if end == admin.disable:
            await admin.enable(email)  # enabled again: the sign-in was revoked all the same
            assert refused(await refresh(client, login["refresh_token"]))


async def test_a_sign_in_lapses_unused_and_each_use_extends_it(resources: Resources) -> None:
    tokens = RefreshTokens(RedisRefreshStore(resources.redis), 1)
    token = await tokens.start(42)
    family = keys.refresh_family(token.split(".")[0])
    await asyncio.sleep(0.6)
    user_id, successor = await tokens.rotate(token)
    assert user_id == 42
    assert await resources.redis.pttl(family) > 600  # a full second again from the use
    await asyncio.sleep(1.2)
    assert not await resources.redis.exists(family)
    with pytest.raises(RefreshTokenRefused):
        await tokens.rotate(successor)

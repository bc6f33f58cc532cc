from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import Actor, make_actor, unique_email


async def test_register_customer_returns_user_without_password(
    client: AsyncTestClient[Any],
) -> None:
    email = unique_email("c")
    response = await client.post(
        "/auth/register",
        json={
            "role": "customer",
            "name": "Ana",
            "email": email,
            "password": "s3cret-pass",
            "address": "Rua B, 2",
            "phone": "+55 11 90000-0000",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["role"] == "customer" and body["email"] == email and body["phone"]
    assert isinstance(body["id"], int)
    assert not any("password" in key for key in body)


async def test_partner_requires_company_name(client: AsyncTestClient[Any]) -> None:
    response = await client.post(
        "/auth/register",
        json={
            "role": "partner",
            "name": "P",
            "email": unique_email("p"),
            "password": "s3cret-pass",
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_error"


async def test_email_unique_case_insensitively(client: AsyncTestClient[Any]) -> None:
    email = unique_email("dup")
    body = {"role": "customer", "name": "A", "email": email, "password": "s3cret-pass"}
    assert (await client.post("/auth/register", json=body)).status_code == 201
    again = await client.post("/auth/register", json={**body, "email": email.upper()})
    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"


async def test_login_and_me(client: AsyncTestClient[Any], customer: Actor) -> None:
    me = await client.get("/me", headers=customer.headers)
    assert me.status_code == 200
    assert me.json()["id"] == customer.id and me.json()["role"] == "customer"


async def test_login_wrong_password_is_401(client: AsyncTestClient[Any], customer: Actor) -> None:
    response = await client.post(
        "/auth/login", json={"email": customer.user["email"], "password": "wrong-password"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


async def test_login_unknown_email_is_401(client: AsyncTestClient[Any]) -> None:
    response = await client.post(
        "/auth/login", json={"email": unique_email("ghost"), "password": "whatever1"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


async def test_login_throttled_per_email_with_retry_after(client: AsyncTestClient[Any]) -> None:
    victim = await make_actor(client, "customer")
    email = victim.user["email"]
    for _ in range(10):
        bad = await client.post("/auth/login", json={"email": email, "password": "nope-nope"})
        assert bad.status_code == 401
    blocked = await client.post("/auth/login", json={"email": email, "password": "correct horse"})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "rate_limited"
    assert int(blocked.headers["retry-after"]) > 0


async def test_me_requires_token(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/me")).status_code == 401
    forged = await client.get("/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert forged.status_code == 401
    assert forged.json()["code"] == "not_authenticated"


async def test_partner_creates_staff(
    client: AsyncTestClient[Any], partner: Actor, staff: Actor
) -> None:
    assert staff.user["role"] == "staff"
    assert staff.user["partner_id"] == partner.id


async def test_customer_cannot_create_staff(client: AsyncTestClient[Any], customer: Actor) -> None:
    response = await client.post(
        "/partner/staff",
        headers=customer.headers,
        json={"name": "X", "email": unique_email("s"), "password": "s3cret-pass"},
    )
    assert response.status_code == 403


async def test_health_ready_metrics(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "boxoffice_requests_total" in metrics.text
    assert 'path="/health"' in metrics.text


async def test_api_docs_are_served_without_a_token(client: AsyncTestClient[Any]) -> None:
    for path in ("/schema/openapi.json", "/schema/swagger", "/schema/scalar"):
        response = await client.get(path)
        assert response.status_code == 200, path
    spec = (await client.get("/schema/openapi.json")).json()
    for path in ("/orders", "/events", "/auth/login", "/events/{event_id}/seats"):
        assert path in spec["paths"], path


async def test_logs_are_json_lines() -> None:
    import json
    import logging

    from ops.logs import JsonFormatter

    record = logging.makeLogRecord(
        {
            "name": "boxoffice",
            "levelname": "INFO",
            "msg": "hi %s",
            "args": ("there",),
            "order": "42-abc",
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "hi there"
    assert line["order"] == "42-abc"
    assert line["level"] == "info"

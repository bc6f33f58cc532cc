"""Security headers on every answer of the real app (documented handlers, Litestar's own
errors, the hot paths that write their answers themselves, pages, static files), the request
id echoed and logged, no-store on answers that carry a token, a CSP on the pages, HSTS
when configured, /metrics closed in production unless its token is given, and no
`server: uvicorn`."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from api.services import services_of
from engine.settings import ROOT, get_settings, reset_settings
from engine.store.resources import Resources
from ops.embedded import die_with_parent, free_port
from ops.logs import JsonFormatter
from ops.stack import api_arguments
from tests.conftest import Actor
from tests.integration.test_waiting_room import http_admitted, room_sale
from tests.sale_setup import open_sale, seat_item

SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def assert_secured(response: httpx.Response) -> None:
    for name, value in SECURITY.items():
        assert response.headers.get(name) == value, (response.request.url, response.headers)
    assert response.headers.get("x-request-id"), response.headers
    assert "server" not in response.headers


async def test_every_kind_of_answer_is_secured(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
    staff: Actor,
) -> None:
    sale = await open_sale(resources, partner.id, seats=2)
    claim = {"items": [seat_item(sale, sale.seat_ids[0])]}
    answers = {
        "health": await client.get("/health"),
        "documented handler": await client.get(f"/events/{sale.event_id}"),
        "unknown route": await client.get("/no/such/route"),
        "method not allowed": await client.delete("/health"),
        "too large": await client.post(
            "/events",
            headers={**partner.headers, "Content-Type": "application/json"},
            content=b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}',
        ),
        "not authenticated": await client.get("/me"),
        "hot claim": await client.post("/orders", headers=customer.headers, json=claim),
        "hot claim refused": await client.post("/orders", headers=customer.headers, json=claim),
        "hot scan": await client.post(
            "/tickets/validate", headers=staff.headers, json={"code": "not-a-ticket"}
        ),
        "hot join": await client.post("/events/999999999/queue", headers=customer.headers),
        "page": await client.get(f"/events/{sale.event_id}/waiting-room"),
        "script": await client.get("/static/js/waiting_room.js"),
        "metrics": await client.get("/metrics"),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "health": 200,
        "documented handler": 200,
        "unknown route": 404,
        "method not allowed": 405,
        "too large": 413,
        "not authenticated": 401,
        "hot claim": 201,
        "hot claim refused": 409,
        "hot scan": statuses["hot scan"],  # whichever refusal: it is the hot path's answer
        "hot join": 404,
        "page": 200,
        "script": 200,
        "metrics": 200,
    }
    assert 400 <= statuses["hot scan"] < 500
    for answer in answers.values():
        assert_secured(answer)


async def test_the_clients_request_id_is_echoed_when_sane(client: AsyncTestClient[Any]) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "lb-7f3a:42"})
    assert echoed.headers["x-request-id"] == "lb-7f3a:42"
    replaced = await client.get("/health", headers={"X-Request-ID": "x" * 500})
    assert replaced.headers["x-request-id"] != "x" * 500
    others = {(await client.get("/health")).headers["x-request-id"] for _ in range(20)}
    assert len(others) == 20


@pytest.fixture
def api_log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("boxoffice.api")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


async def test_an_unexpected_error_on_a_hot_path_is_a_logged_500_problem(
    client: AsyncTestClient[Any],
    resources: Resources,
    partner: Actor,
    customer: Actor,
    monkeypatch: pytest.MonkeyPatch,
    api_log_lines: io.StringIO,
) -> None:
    """The claim hot path writes its own answers: an exception it does not expect still gets
    a problem+json with the headers, and the log line says which request it was."""
    sale = await open_sale(resources, partner.id, seats=1)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(services_of(client.app).orders, "place", broken)
    response = await client.post(
        "/orders",
        headers={**customer.headers, "X-Request-ID": "claim-500"},
        json={"items": [seat_item(sale, sale.seat_ids[0])]},
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "internal_error"
    assert_secured(response)
    logged = [json.loads(line) for line in api_log_lines.getvalue().splitlines()]
    assert [(e["level"], e["request_id"]) for e in logged] == [("error", "claim-500")]
    assert "the engine broke" in logged[0]["exc"]


async def test_answers_that_carry_a_token_are_not_stored(
    client: AsyncTestClient[Any], resources: Resources, partner: Actor, customer: Actor
) -> None:
    login = await client.post(
        "/auth/login", json={"email": customer.user["email"], "password": "correct horse"}
    )
    assert login.status_code == 200 and login.json()["access_token"]
    assert login.headers["cache-control"] == "no-store"

    sale = await room_sale(resources, partner.id, pools=(5,), max_active=1)
    await http_admitted(client, customer, sale.event_id)
    for method in ("POST", "GET"):  # the hot path answers both
        admitted = await client.request(
            method, f"/events/{sale.event_id}/queue", headers=customer.headers
        )
        assert admitted.json()["admission_token"]
        assert admitted.headers["cache-control"] == "no-store"


async def test_the_waiting_room_page_forbids_framing_and_inline_code(
    client: AsyncTestClient[Any],
) -> None:
    page = await client.get("/events/1/waiting-room")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "<script>" not in page.text and "<style>" not in page.text and " style=" not in page.text
    for asset in ("/static/js/waiting_room.js", "/static/css/store.css"):
        assert (await client.get(asset)).status_code == 200
    docs = await client.get("/schema/swagger")
    # the docs load only this server's vendored assets, with their inline set-up script
    docs_policy = docs.headers["content-security-policy"]
    assert docs_policy.startswith("default-src 'self'; script-src 'self' 'unsafe-inline'")
    assert "frame-ancestors 'none'" in docs_policy
    assert "content-security-policy" not in (await client.get("/health")).headers


@pytest.fixture
async def app_with(services: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """An app of its own, built from the environment the test sets."""
    from api.app import create_app

    opened: list[AsyncTestClient[Any]] = []

    async def start(**env: str) -> AsyncTestClient[Any]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        reset_settings()
        test_client = AsyncTestClient(app=create_app())
        await test_client.__aenter__()
        opened.append(test_client)
        return test_client

    yield start
    for test_client in opened:
        await test_client.__aexit__(None, None, None)
    monkeypatch.undo()
    reset_settings()
    get_settings()


async def test_hsts_when_configured(app_with: Any) -> None:
    client = await app_with(HSTS_SECONDS="63072000")
    response = await client.get("/health")
    assert response.headers["strict-transport-security"] == "max-age=63072000"


# /metrics in production -------------------------------------------------------------------


PRODUCTION = {"BOXOFFICE_ENV": "production", "JWT_SECRET": "p" * 48, "TICKET_SIGNING_KEY": "t" * 48}


async def test_production_metrics_need_the_configured_token(app_with: Any) -> None:
    client = await app_with(**PRODUCTION, METRICS_TOKEN="scrape-secret-1")
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-2"})
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-1"})
    assert right.status_code == 200
    assert "boxoffice_requests_total" in right.text


async def test_production_without_a_token_has_no_metrics(app_with: Any) -> None:
    client = await app_with(**PRODUCTION)
    assert (await client.get("/metrics")).status_code == 404
    assert (await client.get("/health")).status_code == 200


async def test_development_metrics_stay_open(app_with: Any) -> None:
    client = await app_with(BOXOFFICE_ENV="development")
    response = await client.get("/metrics")
    assert response.status_code == 200 and "boxoffice_requests_total" in response.text


# the server as `make run`, the Dockerfile and docker-compose start it -----------------------


def test_the_served_api_does_not_name_its_server(services: Any, tmp_path: Path) -> None:
    port = free_port()
    arguments = api_arguments("127.0.0.1", port)
    log_path = tmp_path / "api.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, *arguments],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=log,
            stderr=log,
            preexec_fn=die_with_parent,
        )
    try:
        response = _get_when_up(f"http://127.0.0.1:{port}/health", server, log_path)
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert response.status_code == 200
    assert "server" not in response.headers
    assert_secured(response)
    for path in ("Dockerfile", "docker-compose.yml"):
        text = (ROOT / path).read_text()
        assert text.count("--no-server-header") == text.count("--no-access-log") == 1, path


def _get_when_up(url: str, server: subprocess.Popen[bytes], log_path: Path) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(log_path.read_text())
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"API not up: {log_path.read_text()}")

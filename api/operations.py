"""Liveness, readiness, and the figures /metrics reads at each scrape."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers import BaseRouteHandler
from prometheus_client import Gauge

from api.problems import problem
from api.services import services_of
from engine.failures import PERMANENT_REASONS

log = logging.getLogger("boxoffice.api")

DEAD_LETTERS = Gauge(
    "boxoffice_dead_letter_orders",
    "Orders PostgreSQL refused for good and keeps as dead letters, by reason",
    ["reason"],
    multiprocess_mode="mostrecent",  # set at each scrape (api/process_metrics.py)
)


@get("/health", tags=["operations"], sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", tags=["operations"])
async def ready(request: Request[Any, Any, Any]) -> Response[Any]:
    resources = services_of(request.app).resources
    checks: dict[str, str] = {}
    try:
        await resources.pool.fetchval("SELECT 1", timeout=2)
        checks["postgres"] = "ok"
    except Exception as exc:
        checks["postgres"] = f"unreachable: {type(exc).__name__}"
    try:
        await resources.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    if all(value == "ok" for value in checks.values()):
        return Response({"status": "ready", "checks": checks})
    return problem(503, "not_ready", "Not ready", "A dependency is unreachable", checks=checks)


async def count_dead_letters(resources: Any) -> None:
    """Refresh the dead-letter gauge from PostgreSQL (a scrape is not a hot path); when
    PostgreSQL does not answer within a second the last figures stay."""
    try:
        async with asyncio.timeout(1):
            counts = await resources.order_store.dead_letter_counts()
    except Exception as exc:
        log.warning("dead letters not counted: %r", exc)
        return
    for reason in {*PERMANENT_REASONS, *counts}:
        DEAD_LETTERS.labels(reason).set(counts.get(reason, 0))


def metrics_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """/metrics asks for `Authorization: Bearer <METRICS_TOKEN>` when a token is configured;
    in production without one it is not served at all (404); in development it is open."""
    settings = services_of(connection.app).resources.settings
    token: str | None = settings.metrics_token
    if token is None:
        if settings.production:
            raise NotFoundException()
        return
    given = connection.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise NotAuthorizedException(
            "/metrics needs the METRICS_TOKEN bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )

"""Liveness, readiness."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from api.problems import problem


@get("/health", tags=["operations"], sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", tags=["operations"])
async def ready(request: Request[Any, Any, Any]) -> Response[Any]:
    resources = request.app.state.resources
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

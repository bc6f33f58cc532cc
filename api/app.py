"""The Litestar application factory: `uvicorn api.app:create_app --factory`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, get
from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.response import Response
from litestar.static_files import create_static_files_router
from prometheus_client import CONTENT_TYPE_LATEST

from api import events, inventory, lineup, orders, process_metrics, reports, tickets, waiting_room
from api.access_log import AccessLog
from api.accounts import AccountController
from api.auth import AUTH_DEPENDENCIES
from api.bodies import BodyRequest
from api.business_metrics import refresh_live_figures
from api.docs_pages import render_plugins
from api.hot_paths import BoxofficeApp
from api.openapi import complete_openapi
from api.operations import count_dead_letters, health, metrics_guard, ready
from api.orders import serve_claim, serve_pay
from api.problems import EXCEPTION_HANDLERS
from api.security_headers import ResponseHeaders
from api.services import keep_services, services_of
from api.tickets import serve_validate
from api.waiting_room import serve_queue
from engine.settings import get_settings
from engine.store.redis_durability import durability_gaps
from engine.store.resources import open_resources
from engine.store.services import build_services
from ops.logs import configure_logging
from web import STATIC_DIRECTORY as PAGE_STATIC_DIRECTORY
from web import routes as page_routes
from web import template_config
from workers.job_queue import ArqJobQueue

log = logging.getLogger("boxoffice.api")

ROUTE_HANDLERS: list[object] = [
    AccountController,
    health,
    ready,
    *events.ROUTES,
    *inventory.ROUTES,
    *lineup.ROUTES,
    *orders.ROUTES,
    *waiting_room.ROUTES,
    *reports.ROUTES,
    *tickets.ROUTES,
]

# the pages' scripts and styles (web/static) and the API docs' vendored assets
# (api/static/vendor): files, so that the pages' CSP allows no inline code
STATIC_FILES = create_static_files_router(
    path="/static",
    directories=[Path(__file__).resolve().parent / "static", PAGE_STATIC_DIRECTORY],
    cache_control=CacheControlHeader(public=True, max_age=60),
    include_in_schema=False,
)


class MetricsController(PrometheusController):
    path = "/metrics"
    openmetrics_format = False
    guards = [metrics_guard]

    @get()
    async def get(self, request: Request[Any, Any, Any]) -> Response[Any]:
        resources = services_of(request.app).resources
        await count_dead_letters(resources)
        await refresh_live_figures(resources.redis)
        if process_metrics.shared():  # several API processes: all of theirs, added up
            return Response(process_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
        return await super().get.fn(self)  # type: ignore[no-any-return]


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    settings = get_settings()
    resources = await open_resources(settings)
    for gap in await durability_gaps(resources.redis):
        log.warning(gap)
    job_queue = await ArqJobQueue.connect(settings.job_queue_redis_url)
    services = build_services(resources, job_queue)
    keep_services(app, services)
    revoked = services.revoked_users
    try:
        await revoked.refresh()
    except Exception as exc:  # the background refresh keeps trying
        log.warning("revoked users not loaded at start: %r", exc)
    refresher = asyncio.create_task(revoked.keep_fresh())
    settle_heap()
    try:
        yield
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        await job_queue.close()
        await resources.close()
        process_metrics.process_exited(os.getpid())


def settle_heap() -> None:
    """Move what start-up allocated (the app, its routes, schemas, modules) out of the
    garbage collector's sight: otherwise each full collection, triggered every few thousand
    requests, walks it all again and stalls the hot paths (gc.freeze's documented use)."""
    gc.collect()
    gc.freeze()


def create_app(hot_paths: bool = True) -> Litestar:
    """The app; `hot_paths=False` (tests only) sends every request down the documented
    handlers, to compare their answers with the hot paths'."""
    settings = get_settings()
    configure_logging(settings.log_level)
    prometheus = PrometheusConfig(
        app_name="boxoffice", prefix="boxoffice", group_path=True, exclude=["/metrics"]
    )
    app = BoxofficeApp(
        prometheus=prometheus,
        response_headers=ResponseHeaders(
            settings.hsts_seconds, AccessLog(settings.access_log_sample)
        ),
        route_handlers=[*ROUTE_HANDLERS, MetricsController, STATIC_FILES, *page_routes()],
        template_config=template_config(),
        dependencies=AUTH_DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=BodyRequest,
        middleware=[prometheus.middleware],
        lifespan=[lifespan],
        logging_config=None,
        request_max_body_size=4 * 1024 * 1024,
        openapi_config=OpenAPIConfig(
            title="boxoffice",
            version="0.1.0",
            path="/schema",
            render_plugins=render_plugins(),
        ),
    )
    complete_openapi(app)
    if hot_paths:
        app.hot_path("POST", "/orders", serve_claim)
        app.hot_path("POST", "/orders/{order_id:str}/pay", serve_pay)
        app.hot_path("POST", "/events/{event_id:int}/queue", serve_queue)
        app.hot_path("GET", "/events/{event_id:int}/queue", serve_queue)
        app.hot_path("POST", "/tickets/validate", serve_validate)
    return app

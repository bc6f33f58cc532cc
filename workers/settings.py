"""ARQ worker settings: `python -m workers` (or `arq workers.settings.WorkerSettings`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings

from engine.settings import get_settings
from engine.store.resources import open_resources
from engine.store.services import build_persistence
from ops.logs import configure_logging
from workers.job_leases import JobLeases
from workers.metrics import observe_completed, serve_metrics
from workers.persist_batcher import PersistBatcher
from workers.tasks import (
    IN_PROGRESS_MS,
    JOB_TIMEOUT_S,
    LEASE_STALE_MS,
    RECONCILE_TIMEOUT_S,
    count_dead_letter,
    persist_order,
    reconcile,
    sync_loop,
)
from workers.ticket_tasks import start_ticket_tasks, stop_ticket_tasks


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    resources = await open_resources(settings, pool_size=settings.worker_db_pool_size)
    persistence = build_persistence(
        resources, on_dead_letter=count_dead_letter, on_completed=observe_completed
    )
    serve_metrics(settings.worker_metrics_port)
    leases = JobLeases(ctx["redis"], IN_PROGRESS_MS, LEASE_STALE_MS)
    batcher = PersistBatcher(persistence.persister, persistence.order_log, leases)
    batcher.start()
    ctx.update(
        resources=resources,
        order_log=persistence.order_log,
        persister=persistence.persister,
        persist_batcher=batcher,
    )
    ctx["sync_task"] = asyncio.create_task(sync_loop(ctx))
    start_ticket_tasks(ctx)


async def shutdown(ctx: dict[str, Any]) -> None:
    await stop_ticket_tasks(ctx)
    if "persist_batcher" in ctx:
        await ctx["persist_batcher"].stop()
    task = ctx.get("sync_task")
    if task:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if "resources" in ctx:
        await ctx["resources"].close()


class WorkerSettings:
    functions: ClassVar[list[Any]] = [persist_order]
    cron_jobs: ClassVar[list[Any]] = [
        cron(reconcile, second=30, unique=True, timeout=RECONCILE_TIMEOUT_S)
    ]
    on_startup = startup
    on_shutdown = shutdown
    # jobs only start batches: the batch tops itself up from the outbox and leases those jobs;
    # ids read per poll: under a backlog a longer list is leased by batches before ARQ gets
    # to its end, and each id it tries costs four round trips
    max_jobs = 10
    queue_read_limit = 10
    max_tries = 1000  # a paid order is retried until PostgreSQL takes it
    keep_result = 0  # the outbox reconciler may enqueue the same order id again
    job_timeout = JOB_TIMEOUT_S
    poll_delay = 0.05
    # the job loop writes ARQ's health key this often (it lives a second longer):
    # `arq workers.settings.WorkerSettings --check`, compose's healthcheck, reads it
    health_check_interval = 10
    redis_settings = RedisSettings.from_dsn(get_settings().job_queue_redis_url)

"""ARQ tasks: thin wrappers that call the engine.

- `persist_order` (job id = order id): write a paid order and its tickets, then complete it.
  Jobs arriving together are written in one transaction by the PersistBatcher.
- `sync_loop` (runs beside the jobs): expire lapsed holds, write status changes and refusals
  to PostgreSQL, and re-enqueue paid orders the outbox still holds after a few seconds.
- `reconcile` (cron): compare Redis with PostgreSQL and repair drift.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from arq import Retry
from arq.connections import ArqRedis
from arq.constants import job_key_prefix

from engine.persistence import Persister
from engine.reconcile import reconcile_all, report
from engine.store.pg_orders import PgOrderRepair, write_refusals
from engine.store.redis_order_log import RedisOrderLog

log = logging.getLogger("boxoffice.worker")

OUTBOX_GRACE_MS = 3000  # paid this long ago and still in the outbox: enqueue again
OUTBOX_STUCK_MS = 10000  # still there: its job is stuck (e.g. a killed worker); persist here
SYNC_INTERVAL_S = 0.2
SWEEP_EVERY = 5  # sync rounds: holds are swept once a second
DB_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.DeadlockDetectedError,
    asyncio.TimeoutError,
)


class PersistBatcher:
    """Collects order ids from concurrent jobs and persists them in one transaction."""

    def __init__(self, persister: Persister, max_batch: int = 500) -> None:
        self._persister = persister
        self._max_batch = max_batch
        self._waiting: list[tuple[str, asyncio.Future[None]]] = []
        self._scheduled = False
        self._writing: set[asyncio.Task[None]] = set()  # keeps running writes referenced

    async def submit(self, order_id: str) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append((order_id, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_later(0.01, self._flush)  # gather jobs ARQ starts together
        await future

    def _flush(self) -> None:
        self._scheduled = False
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), self._max_batch):
            task = asyncio.ensure_future(self._write(waiting[start : start + self._max_batch]))
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    async def _write(self, batch: list[tuple[str, asyncio.Future[None]]]) -> None:
        try:
            await self._persister.persist([order_id for order_id, _ in batch])
        except Exception as exc:
            for _, future in batch:
                future.set_exception(exc)
            return
        for _, future in batch:
            future.set_result(None)


async def persist_order(ctx: dict[str, Any], order_id: str) -> str:
    try:
        await ctx["persist_batcher"].submit(order_id)
    except DB_ERRORS as exc:
        delay = min(2 ** ctx.get("job_try", 1), 30)
        log.warning("persist_order %s failed (%s); retrying in %ss", order_id, exc, delay)
        raise Retry(defer=delay) from exc
    return "persisted"


async def sync_round(ctx: dict[str, Any], sweep: bool) -> None:
    order_log: RedisOrderLog = ctx["order_log"]
    persister: Persister = ctx["persister"]
    resources = ctx["resources"]
    now = await order_log.server_time_ms()
    for event_id in await resources.inventory.hydrated_events():
        if sweep:
            await order_log.expire_due_holds(event_id, now)
        changed = await order_log.changed_orders(event_id, 500)
        if changed:
            await persister.persist(changed, include_paid=False)
        refusals = await order_log.refusals(event_id, 1000)
        if refusals:
            await write_refusals(resources.pool, event_id, refusals)
            await order_log.forget_refusals(event_id, [entry_id for entry_id, _ in refusals])
        late = await order_log.unpersisted_paid(event_id, now - OUTBOX_GRACE_MS)
        await enqueue_missing(ctx["redis"], late)
        stuck = await order_log.unpersisted_paid(event_id, now - OUTBOX_STUCK_MS)
        if stuck:
            log.warning("persisting %d paid orders whose jobs are stuck", len(stuck))
            await persister.persist(stuck)


async def enqueue_missing(queue: ArqRedis, order_ids: list[str]) -> None:
    """Enqueue persist_order for paid orders whose job is gone (e.g. never enqueued)."""
    if not order_ids:
        return
    async with queue.pipeline(transaction=False) as pipe:
        for order_id in order_ids:
            pipe.exists(job_key_prefix + order_id)
        queued = await pipe.execute()
    for order_id, exists in zip(order_ids, queued, strict=True):
        if not exists:
            await queue.enqueue_job("persist_order", order_id, _job_id=order_id)


async def reconcile(ctx: dict[str, Any]) -> dict[str, Any]:
    """Cron: compare Redis with PostgreSQL for every event on sale, repair, and log drift."""
    resources = ctx["resources"]
    drifts = await reconcile_all(
        resources.sale_reads,
        resources.inventory,
        resources.inventory,
        PgOrderRepair(resources.pool),
    )
    summary = report(drifts)
    if summary["with_drift"]:
        log.warning("reconcile repaired drift", extra={"drift": summary})
    return summary


async def sync_loop(ctx: dict[str, Any]) -> None:
    rounds = 0
    while True:
        try:
            await sync_round(ctx, sweep=rounds % SWEEP_EVERY == 0)
        except DB_ERRORS as exc:
            log.warning("sync round failed, PostgreSQL unreachable: %s", exc)
            await asyncio.sleep(1)
        except Exception:
            log.exception("sync round failed")
            await asyncio.sleep(1)
        rounds += 1
        await asyncio.sleep(SYNC_INTERVAL_S)

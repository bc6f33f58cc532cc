"""ARQ tasks: thin wrappers that call the engine, or the batcher.

- `persist_order` (job id = order id): write a paid order and its tickets, then complete it.
  The PersistBatcher (workers/persist_batcher.py) writes it in a batch (one transaction) with
  the paid orders waiting in the same event's outbox, leasing their jobs, so a backlog does
  not cost one job per order.
- `sync_loop` (runs beside the jobs): expire lapsed holds, write status changes, refusals and
  gate scans to PostgreSQL, re-enqueue paid orders the outbox still holds after a few seconds, and
  have the batcher drain such outboxes (taking over leases a killed worker left behind).
- `reconcile` (cron): compare Redis with PostgreSQL and repair drift.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import Retry
from arq.connections import ArqRedis
from prometheus_client import Counter

from engine import keys
from engine.failures import PERMANENT_REASONS, Backoff
from engine.live_tickets import write_scans
from engine.persistence import DeadLetter
from engine.reconcile import reconcile_all, report
from engine.store import pg_failures
from engine.store.pg_orders import PgOrderRepair, write_refusals
from engine.store.redis_order_log import RedisOrderLog
from workers.metrics import JOBS, count_drift
from workers.persist_batcher import NotPersisted, PersistBatcher

log = logging.getLogger("boxoffice.worker")

OUTBOX_GRACE_MS = 3000  # paid this long ago and still in the outbox: enqueue again
OUTBOX_STUCK_MS = 10000  # still there: its job is stuck (e.g. a killed worker); persist here
SYNC_INTERVAL_S = 0.2
SWEEP_EVERY = 5  # sync rounds: holds are swept once a second
JOB_TIMEOUT_S = 60
RECONCILE_TIMEOUT_S = 300
# ARQ's in-progress lease (its longest job timeout + 10 s); batch leases take the same, so
# the age of any lease reads the same from its time to live
IN_PROGRESS_MS = (max(JOB_TIMEOUT_S, RECONCILE_TIMEOUT_S) + 10) * 1000
LEASE_STALE_MS = 10_000  # a lease this old on an order still in the outbox: its worker died
# a persist_order job whose order was not written: due again after 2 s, then twice as long
# each try, up to 30 s
JOB_RETRY_BACKOFF = Backoff(first_s=2.0, factor=2.0, cap_s=30.0)


DEAD_LETTERS = Counter(
    "boxoffice_dead_letters_total",
    "Orders PostgreSQL refused for good, made dead letters by this worker",
    ["reason"],
)
for _reason in PERMANENT_REASONS:  # every series exists from the start, at 0
    DEAD_LETTERS.labels(_reason)


def count_dead_letter(letter: DeadLetter) -> None:
    DEAD_LETTERS.labels(letter.reason).inc()


async def persist_order(ctx: dict[str, Any], order_id: str) -> str:
    try:
        await ctx["persist_batcher"].submit(order_id)
    except Exception as exc:
        if not isinstance(exc, NotPersisted) and not pg_failures.expected(exc):
            JOBS.labels("persist_order", "failed").inc()
            raise
        JOBS.labels("persist_order", "retried").inc()
        delay = JOB_RETRY_BACKOFF.nth(ctx.get("job_try", 1))
        log.warning("persist_order %s failed (%s); retrying in %gs", order_id, exc, delay)
        raise Retry(defer=delay) from exc
    JOBS.labels("persist_order", "persisted").inc()
    return "persisted"


async def sync_round(ctx: dict[str, Any], sweep: bool) -> None:
    """One round over every event on sale. Each step of each event runs on its own: an order
    PostgreSQL refuses (its change is kept for a retry) must not hold up the outbox of this
    or any other event, which is how orders left by a killed worker get completed. The first
    error is raised once every step has been tried."""
    order_log: RedisOrderLog = ctx["order_log"]
    resources = ctx["resources"]
    now = await order_log.server_time_ms()
    errors: list[Exception] = []
    for event_id in await resources.inventory.hydrated_events():
        steps = [_write_changes, _write_refusals, _write_scans, _recover_outbox]
        if sweep:
            steps.insert(0, _expire_holds)
        for step in steps:
            try:
                await step(ctx, event_id, now)
            except Exception as exc:
                errors.append(exc)
    if errors:
        raise errors[0]


async def _expire_holds(ctx: dict[str, Any], event_id: int, now: int) -> None:
    await ctx["order_log"].expire_due_holds(event_id, now)


async def _write_changes(ctx: dict[str, Any], event_id: int, now: int) -> None:
    changed = await ctx["order_log"].changed_orders(event_id, 500)
    if changed:
        await ctx["persister"].persist(changed, include_paid=False)


async def _write_refusals(ctx: dict[str, Any], event_id: int, now: int) -> None:
    order_log: RedisOrderLog = ctx["order_log"]
    refusals = await order_log.refusals(event_id, 1000)
    if refusals:
        await write_refusals(ctx["resources"].pool, event_id, refusals)
        await order_log.forget_refusals(event_id, [entry_id for entry_id, _ in refusals])


async def _write_scans(ctx: dict[str, Any], event_id: int, now: int) -> None:
    resources = ctx["resources"]
    await write_scans(event_id, resources.live_tickets, resources.ticket_store)


async def _recover_outbox(ctx: dict[str, Any], event_id: int, now: int) -> None:
    order_log: RedisOrderLog = ctx["order_log"]
    late = await order_log.unpersisted_paid(event_id, now - OUTBOX_GRACE_MS)
    await enqueue_missing(ctx["redis"], late, order_log, event_id)
    batcher: PersistBatcher | None = ctx.get("persist_batcher")
    if late and batcher is not None:
        # a batch leases what no job or batch holds, and takes over leases a killed worker
        # left on orders paid too long ago
        batcher.drain(event_id, now - OUTBOX_STUCK_MS)
    elif late:
        stuck = await order_log.unpersisted_paid(event_id, now - OUTBOX_STUCK_MS)
        if stuck:
            log.warning("persisting %d paid orders whose jobs are stuck", len(stuck))
            await ctx["persister"].persist(stuck)


async def enqueue_missing(
    job_queue: ArqRedis, order_ids: list[str], order_log: RedisOrderLog, event_id: int
) -> None:
    """Enqueue persist_order for paid orders whose job is gone (e.g. never enqueued)."""
    if not order_ids:
        return
    async with job_queue.pipeline(transaction=False) as pipe:
        for order_id in order_ids:
            pipe.exists(keys.arq_job(order_id))
        queued = await pipe.execute()
    missing = [order_id for order_id, exists in zip(order_ids, queued, strict=True) if not exists]
    if not missing:
        return
    # a batch completes its orders (they leave the outbox) before it deletes their jobs: an
    # order still in the outbox now really has no job
    for order_id, waiting in zip(
        missing, await order_log.in_outbox(event_id, missing), strict=True
    ):
        if waiting:
            await job_queue.enqueue_job("persist_order", order_id, _job_id=order_id)


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
    JOBS.labels("reconcile", "done").inc()
    count_drift(summary["details"])
    if summary["with_drift"]:
        log.warning("reconcile repaired drift", extra={"drift": summary})
    return summary


async def sync_loop(ctx: dict[str, Any]) -> None:
    rounds = 0
    while True:
        try:
            await sync_round(ctx, sweep=rounds % SWEEP_EVERY == 0)
        except Exception as exc:
            if pg_failures.expected(exc):
                log.warning("sync round failed, PostgreSQL unreachable or refusing: %s", exc)
            else:
                log.exception("sync round failed")
            await asyncio.sleep(1)
        rounds += 1
        await asyncio.sleep(SYNC_INTERVAL_S)

"""ARQ tasks: thin wrappers that call the engine.

- `persist_order` (job id = order id): write a paid order and its tickets, then complete it.
  The PersistBatcher writes it in a batch (one transaction) with the paid orders waiting in
  the same event's outbox, claiming their jobs, so a backlog does not cost one job per order.
- `sync_loop` (runs beside the jobs): expire lapsed holds, write status changes, refusals and
  gate scans to PostgreSQL, re-enqueue paid orders the outbox still holds after a few seconds, and
  have the batcher drain such outboxes (taking over claims a killed worker left behind).
- `reconcile` (cron): compare Redis with PostgreSQL and repair drift.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg
from arq import Retry
from arq.connections import ArqRedis
from prometheus_client import Counter

from engine import keys
from engine.live_tickets import write_scans
from engine.order_ids import home_event_of
from engine.persistence import PERMANENT_REASONS, DeadLetter, Persister
from engine.reconcile import reconcile_all, report
from engine.store.pg_orders import PgOrderRepair, write_refusals
from engine.store.redis_order_log import RedisOrderLog
from workers.job_claims import JobClaims

log = logging.getLogger("boxoffice.worker")

OUTBOX_GRACE_MS = 3000  # paid this long ago and still in the outbox: enqueue again
OUTBOX_STUCK_MS = 10000  # still there: its job is stuck (e.g. a killed worker); persist here
SYNC_INTERVAL_S = 0.2
SWEEP_EVERY = 5  # sync rounds: holds are swept once a second
OUTBOX_PAGE = 2000  # outbox entries read at a time when a batch claims orders
OUTBOX_PAGES = 4
RETRY_DELAY_MS = 2000  # a claimed order that could not be written: its job is due then
REFUSED_MAX_S = 60.0  # an order PostgreSQL keeps refusing is tried at least this often
JOB_TIMEOUT_S = 60
RECONCILE_TIMEOUT_S = 300
# ARQ's in-progress lease (its longest job timeout + 10 s); batch claims take the same, so
# the age of any claim reads the same from its time to live
IN_PROGRESS_MS = (max(JOB_TIMEOUT_S, RECONCILE_TIMEOUT_S) + 10) * 1000
CLAIM_STALE_MS = 10_000  # a claim this old on an order still in the outbox: its worker died
DB_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.DeadlockDetectedError,
    asyncio.TimeoutError,
)


DEAD_LETTERS = Counter(
    "boxoffice_dead_letters_total",
    "Orders PostgreSQL refused for good, made dead letters by this worker",
    ["reason"],
)
for _reason in PERMANENT_REASONS:  # every series exists from the start, at 0
    DEAD_LETTERS.labels(_reason)


def count_dead_letter(letter: DeadLetter) -> None:
    DEAD_LETTERS.labels(letter.reason).inc()


class NotPersisted(Exception):
    """PostgreSQL refused this order (the rest of its batch was written); tried again later."""


class PersistBatcher:
    """Persists paid orders in batches, one transaction each.

    The orders of the persist_order jobs this worker runs go first; the batch is topped up
    with paid orders claimed from the same events' outboxes (workers/job_claims.py). Under a
    backlog most jobs therefore never run: their claim takes them off the queue, and the
    batch that persisted their order deletes them. Batches start at `first_batch` orders and
    double while they come out full, up to `max_batch`. One batch at a time per worker: the
    other workers take other claims, and PostgreSQL writes their batches beside this one.
    """

    def __init__(
        self,
        persister: Persister,
        order_log: RedisOrderLog,
        claims: JobClaims | None = None,
        max_batch: int = 1000,
        first_batch: int = 50,
    ) -> None:
        self._persister = persister
        self._log = order_log
        self._claims = claims
        self._max_batch = max_batch
        self._first_batch = min(first_batch, max_batch)
        self._size = self._first_batch
        self._own: list[tuple[str, asyncio.Future[None]]] = []
        self._events: set[int] = set()  # events whose outbox may hold unclaimed orders
        self._stuck_before: dict[int, int] = {}  # event -> paid before this: take over claims
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set between rounds
        self._idle.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._turn = 0  # events take turns at the head of the batch
        # orders PostgreSQL refused lately -> (not before, backoff s): not claimed until then,
        # and written apart when their own job brings them, so they cannot spoil a batch
        self._refused: dict[str, tuple[float, float]] = {}

    @property
    def backlogged(self) -> bool:
        """Batches are coming out full (or jobs are waiting): a backlog is being drained."""
        return self._size > self._first_batch or len(self._own) >= self._first_batch

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let the batch in flight finish (its claims are then finished or released rather
        than left to lapse), then stop."""
        self._stopping = True
        if self._task:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def submit(self, order_id: str) -> None:
        """Persist this order (its job runs here); returns once it is completed."""
        if self._task is None:
            self.start()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._own.append((order_id, future))
        self._events.add(home_event_of(order_id))
        self._wake.set()
        await future

    def drain(self, event_id: int, stuck_before_ms: int | None = None) -> None:
        """Claim and persist the paid orders waiting in this event's outbox; with
        stuck_before_ms, also take over stale claims on orders paid before then."""
        if self._claims is None:
            return
        if self._task is None:
            self.start()
        self._events.add(event_id)
        if stuck_before_ms is not None:
            self._stuck_before[event_id] = stuck_before_ms
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            self._idle.clear()
            try:
                while not self._stopping and await self._round():
                    pass
            finally:
                self._idle.set()

    async def _round(self) -> bool:
        """One batch; True if there may be more to do at once."""
        size = self._size
        own, self._own = self._own[:size], self._own[size:]
        suspects = [(o, f) for o, f in own if o in self._refused]
        own = [(o, f) for o, f in own if o not in self._refused]
        claimed: list[str] = []
        try:
            await self._claim(claimed, size - len(own) - len(suspects))
            batch = [order_id for order_id, _ in own] + claimed
            if not batch and not suspects:
                return False
            written, untouched = await self._persister.settle(batch)
            if suspects:  # apart: if PostgreSQL refuses them again, only they wait
                more, same = await self._persister.settle([o for o, _ in suspects])
                written, untouched, own = written | more, untouched | same, own + suspects
        except Exception as exc:
            if not isinstance(exc, DB_ERRORS):
                log.exception("persisting a batch of %d orders failed", len(own) + len(claimed))
            await self._give_up(claimed, own + suspects, exc)
            return False
        self._failures = 0
        # a full batch: a backlog, so the next one is larger (fewer, bigger transactions);
        # otherwise back to small batches, which complete the first orders sooner
        full = len(own) + len(claimed) >= size
        self._size = min(size * 2, self._max_batch) if full else self._first_batch
        settled = written | untouched
        self._note_refusals([o for o, _ in own] + claimed, settled)
        try:
            await self._claims_done(claimed, settled)
        except Exception:  # the orders are completed: jobs left behind run as no-ops
            log.exception("finishing the jobs of a persisted batch failed")
        for order_id, future in own:
            if future.done():
                continue
            if order_id in settled:
                future.set_result(None)
            else:
                future.set_exception(NotPersisted(order_id))
        # claims written: the outboxes may hold more (claims only untouched: do not spin)
        return bool(self._own) or not written.isdisjoint(claimed)

    def _note_refusals(self, tried: list[str], settled: set[str]) -> None:
        now = time.monotonic()
        for order_id in tried:
            if order_id in settled:
                self._refused.pop(order_id, None)
            else:
                backoff = min(self._refused.get(order_id, (0.0, 1.0))[1] * 2, REFUSED_MAX_S)
                self._refused[order_id] = (now + backoff, backoff)
        if len(self._refused) > 10_000:  # forget the oldest: PostgreSQL refuses them anyway
            for order_id in sorted(self._refused, key=lambda o: self._refused[o][0])[:5_000]:
                del self._refused[order_id]

    async def _claim(self, claimed: list[str], room: int) -> None:
        """Claim up to `room` orders from the events' outboxes into `claimed` (so a failure
        part way still releases what was taken)."""
        if self._claims is None:
            self._events.clear()
            return
        events = sorted(self._events)
        self._turn += 1
        turn = self._turn % len(events) if events else 0
        for event_id in events[turn:] + events[:turn]:
            if room - len(claimed) <= 0:
                break
            before = len(claimed)
            await self._claim_from(event_id, room - len(claimed), claimed)
            if len(claimed) == before:
                self._events.discard(event_id)
                self._stuck_before.pop(event_id, None)

    async def _claim_from(self, event_id: int, want: int, claimed: list[str]) -> None:
        assert self._claims is not None
        stuck_before = self._stuck_before.get(event_id, 0)
        now = time.monotonic()
        got = 0
        start = 0
        for _ in range(OUTBOX_PAGES):
            page = await self._log.outbox_page(event_id, start, OUTBOX_PAGE)
            candidates = [
                (order_id, paid < stuck_before)
                for order_id, paid in page
                if self._refused.get(order_id, (0.0, 0.0))[0] <= now
            ]
            taken = await self._claims.claim(candidates, want - got)
            claimed += taken
            got += len(taken)
            if got >= want or len(page) < OUTBOX_PAGE:
                break
            start += OUTBOX_PAGE  # the first pages are other batches' claims

    async def _claims_done(self, claimed: list[str], settled: set[str]) -> None:
        if self._claims is None:
            return
        await self._claims.finish([order_id for order_id in claimed if order_id in settled])
        await self._claims.release([o for o in claimed if o not in settled], RETRY_DELAY_MS)

    async def _give_up(
        self, claimed: list[str], own: list[tuple[str, asyncio.Future[None]]], exc: Exception
    ) -> None:
        for _, future in own:
            if not future.done():
                future.set_exception(exc)
        self._failures += 1
        if claimed and self._claims is not None:
            try:
                await self._claims.release(claimed, RETRY_DELAY_MS)
            except Exception:  # they lapse, and the outbox has them
                log.exception("releasing %d claims failed", len(claimed))
        await asyncio.sleep(min(2**self._failures / 4, 8))


async def persist_order(ctx: dict[str, Any], order_id: str) -> str:
    try:
        await ctx["persist_batcher"].submit(order_id)
    except (*DB_ERRORS, NotPersisted) as exc:
        delay = min(2 ** ctx.get("job_try", 1), 30)
        log.warning("persist_order %s failed (%s); retrying in %ss", order_id, exc, delay)
        raise Retry(defer=delay) from exc
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
        # a batch claims what no job or batch holds, and takes over claims a killed worker
        # left on orders paid too long ago
        batcher.drain(event_id, now - OUTBOX_STUCK_MS)
    elif late:
        stuck = await order_log.unpersisted_paid(event_id, now - OUTBOX_STUCK_MS)
        if stuck:
            log.warning("persisting %d paid orders whose jobs are stuck", len(stuck))
            await ctx["persister"].persist(stuck)


async def enqueue_missing(
    queue: ArqRedis, order_ids: list[str], order_log: RedisOrderLog, event_id: int
) -> None:
    """Enqueue persist_order for paid orders whose job is gone (e.g. never enqueued)."""
    if not order_ids:
        return
    async with queue.pipeline(transaction=False) as pipe:
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

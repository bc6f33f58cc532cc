"""The worker's batcher: paid orders are persisted in batches, one transaction each, topped up
with orders leased from their events' outboxes (workers/job_leases.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from engine.failures import REFUSED_BACKOFF, Backoff
from engine.order_ids import home_event_of
from engine.persistence import Persister
from engine.store import pg_failures
from engine.store.redis_order_log import RedisOrderLog
from workers.job_leases import JobLeases
from workers.metrics import BATCH_ORDERS

log = logging.getLogger("boxoffice.worker")

OUTBOX_PAGE = 2000  # outbox entries read at a time when a batch leases orders
OUTBOX_PAGES = 4
RETRY_DELAY_MS = 2000  # a leased order that could not be written: its job is due then
# a batch that failed as a whole (PostgreSQL or Redis unreachable): the next one waits 0.5 s,
# then twice as long after each failure in a row, up to 8 s
BATCH_FAILED_BACKOFF = Backoff(first_s=0.5, factor=2.0, cap_s=8.0)
REFUSED_MEMORY = 10_000  # refused orders remembered; beyond, the oldest half is forgotten


class NotPersisted(Exception):
    """PostgreSQL refused this order (the rest of its batch was written); tried again later."""


class PersistBatcher:
    """Persists paid orders in batches, one transaction each.

    The orders of the persist_order jobs this worker runs go first; the batch is topped up
    with paid orders leased from the same events' outboxes (workers/job_leases.py). Under a
    backlog most jobs therefore never run: their lease takes them off the job queue, and the
    batch that persisted their order deletes them. Batches start at `first_batch` orders and
    double while they come out full, up to `max_batch`. One batch at a time per worker: the
    other workers take other leases, and PostgreSQL writes their batches beside this one.
    """

    def __init__(
        self,
        persister: Persister,
        order_log: RedisOrderLog,
        leases: JobLeases | None = None,
        max_batch: int = 1000,
        first_batch: int = 50,
    ) -> None:
        self._persister = persister
        self._log = order_log
        self._leases = leases
        self._max_batch = max_batch
        self._first_batch = min(first_batch, max_batch)
        self._size = self._first_batch
        self._own: list[tuple[str, asyncio.Future[None]]] = []
        self._events: set[int] = set()  # events whose outbox may hold unleased orders
        self._stuck_before: dict[int, int] = {}  # event -> paid before this: take over leases
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set between rounds
        self._idle.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._turn = 0  # events take turns at the head of the batch
        # orders PostgreSQL refused lately -> (not before, backoff s): not leased until then,
        # and written apart when their own job brings them, so they cannot spoil a batch
        self._refused: dict[str, tuple[float, float]] = {}

    @property
    def backlogged(self) -> bool:
        """Batches are coming out full (or jobs are waiting): a backlog is being drained."""
        return self._size > self._first_batch or len(self._own) >= self._first_batch

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let the batch in flight finish (its leases are then finished or released rather
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
        """Lease and persist the paid orders waiting in this event's outbox; with
        stuck_before_ms, also take over stale leases on orders paid before then."""
        if self._leases is None:
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
        leased: list[str] = []
        try:
            await self._lease(leased, size - len(own) - len(suspects))
            batch = [order_id for order_id, _ in own] + leased
            if not batch and not suspects:
                return False
            BATCH_ORDERS.observe(len(batch) + len(suspects))
            written, untouched = await self._persister.settle(batch)
            if suspects:  # apart: if PostgreSQL refuses them again, only they wait
                more, same = await self._persister.settle([o for o, _ in suspects])
                written, untouched, own = written | more, untouched | same, own + suspects
        except Exception as exc:
            if not pg_failures.expected(exc):
                log.exception("persisting a batch of %d orders failed", len(own) + len(leased))
            await self._give_up(leased, own + suspects, exc)
            return False
        self._failures = 0
        # a full batch: a backlog, so the next one is larger (fewer, bigger transactions);
        # otherwise back to small batches, which complete the first orders sooner
        full = len(own) + len(leased) >= size
        self._size = min(size * 2, self._max_batch) if full else self._first_batch
        settled = written | untouched
        self._note_refusals([o for o, _ in own] + leased, settled)
        try:
            await self._leases_done(leased, settled)
        except Exception:  # the orders are completed: jobs left behind run as no-ops
            log.exception("finishing the jobs of a persisted batch failed")
        for order_id, future in own:
            if future.done():
                continue
            if order_id in settled:
                future.set_result(None)
            else:
                future.set_exception(NotPersisted(order_id))
        # leases written: the outboxes may hold more (leases only untouched: do not spin)
        return bool(self._own) or not written.isdisjoint(leased)

    def _note_refusals(self, tried: list[str], settled: set[str]) -> None:
        now = time.monotonic()
        for order_id in tried:
            if order_id in settled:
                self._refused.pop(order_id, None)
            else:
                last = self._refused.get(order_id)
                backoff = REFUSED_BACKOFF.after(last[1] if last else None)
                self._refused[order_id] = (now + backoff, backoff)
        if len(self._refused) > REFUSED_MEMORY:  # forget the oldest: PostgreSQL refuses them
            oldest = sorted(self._refused, key=lambda o: self._refused[o][0])
            for order_id in oldest[: REFUSED_MEMORY // 2]:
                del self._refused[order_id]

    async def _lease(self, leased: list[str], room: int) -> None:
        """Lease up to `room` orders from the events' outboxes into `leased` (so a failure
        part way still releases what was taken)."""
        if self._leases is None:
            self._events.clear()
            return
        events = sorted(self._events)
        self._turn += 1
        turn = self._turn % len(events) if events else 0
        for event_id in events[turn:] + events[:turn]:
            if room - len(leased) <= 0:
                break
            before = len(leased)
            await self._lease_from(event_id, room - len(leased), leased)
            if len(leased) == before:
                self._events.discard(event_id)
                self._stuck_before.pop(event_id, None)

    async def _lease_from(self, event_id: int, want: int, leased: list[str]) -> None:
        assert self._leases is not None
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
            taken = await self._leases.lease(candidates, want - got)
            leased += taken
            got += len(taken)
            if got >= want or len(page) < OUTBOX_PAGE:
                break
            start += OUTBOX_PAGE  # the first pages are other batches' leases

    async def _leases_done(self, leased: list[str], settled: set[str]) -> None:
        if self._leases is None:
            return
        await self._leases.finish([order_id for order_id in leased if order_id in settled])
        await self._leases.release([o for o in leased if o not in settled], RETRY_DELAY_MS)

    async def _give_up(
        self, leased: list[str], own: list[tuple[str, asyncio.Future[None]]], exc: Exception
    ) -> None:
        for _, future in own:
            if not future.done():
                future.set_exception(exc)
        self._failures += 1
        if leased and self._leases is not None:
            try:
                await self._leases.release(leased, RETRY_DELAY_MS)
            except Exception:  # they lapse, and the outbox has them
                log.exception("releasing %d leases failed", len(leased))
        await asyncio.sleep(BATCH_FAILED_BACKOFF.nth(self._failures))

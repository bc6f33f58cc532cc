"""The worker's batcher: paid orders are persisted in batches, one transaction each, topped up
with orders claimed from their events' outboxes (workers/job_claims.py)."""

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
from workers.job_claims import JobClaims

log = logging.getLogger("boxoffice.worker")

OUTBOX_PAGE = 2000  # outbox entries read at a time when a batch claims orders
OUTBOX_PAGES = 4
RETRY_DELAY_MS = 2000  # a claimed order that could not be written: its job is due then
# a batch that failed as a whole (PostgreSQL or Redis unreachable): the next one waits 0.5 s,
# then twice as long after each failure in a row, up to 8 s
BATCH_FAILED_BACKOFF = Backoff(first_s=0.5, factor=2.0, cap_s=8.0)
REFUSED_MEMORY = 10_000  # refused orders remembered; beyond, the oldest half is forgotten


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
            if not pg_failures.expected(exc):
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
                last = self._refused.get(order_id)
                backoff = REFUSED_BACKOFF.after(last[1] if last else None)
                self._refused[order_id] = (now + backoff, backoff)
        if len(self._refused) > REFUSED_MEMORY:  # forget the oldest: PostgreSQL refuses them
            oldest = sorted(self._refused, key=lambda o: self._refused[o][0])
            for order_id in oldest[: REFUSED_MEMORY // 2]:
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
        await asyncio.sleep(BATCH_FAILED_BACKOFF.nth(self._failures))

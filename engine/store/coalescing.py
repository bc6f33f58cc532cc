"""Coalescing: requests for the same key that meet while its call is in flight go together.

The claim and waiting-room hot paths send many small requests about one event at once. Each
key has at most `max_in_flight` calls in flight; requests arriving meanwhile wait and go in
the next call. A lone request is sent at once, and under load the batches grow with the
load by themselves (no timer to tune): one round trip and one script call then serve many
buyers, which is what lets one Python process keep up with Redis. More than one call in
flight keeps the server and Redis busy at the same time instead of taking turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
I = TypeVar("I")  # noqa: E741 - an item of a batch
R = TypeVar("R")

SendBatch = Callable[[K, list[I]], Awaitable[list[R]]]


class Coalescer(Generic[K, I, R]):
    def __init__(
        self, send_batch: SendBatch[K, I, R], max_batch: int, max_in_flight: int = 1
    ) -> None:
        self._send_batch = send_batch
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._pending: dict[K, list[tuple[I, asyncio.Future[R]]]] = {}
        self._in_flight: dict[K, int] = {}
        self._scheduled: set[K] = set()
        self._sending: set[asyncio.Task[None]] = set()  # keeps running calls referenced

    async def submit(self, key: K, item: I) -> R:
        """The result of `item`, sent with whatever else is waiting for `key`."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(key, []).append((item, future))
        self._schedule(key)
        return await future

    def _schedule(self, key: K) -> None:
        if (
            key in self._pending
            and key not in self._scheduled
            and self._in_flight.get(key, 0) < self._max_in_flight
        ):
            self._scheduled.add(key)
            # after this turn of the loop: what else arrives in it goes in the same call
            asyncio.get_running_loop().call_soon(self._send_next, key)

    def _send_next(self, key: K) -> None:
        self._scheduled.discard(key)
        pending = self._pending.pop(key, [])
        if not pending:
            return
        if len(pending) > self._max_batch:
            pending, self._pending[key] = pending[: self._max_batch], pending[self._max_batch :]
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        task = asyncio.ensure_future(self._send(key, pending))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        task.add_done_callback(lambda _: self._call_done(key))

    def _call_done(self, key: K) -> None:
        left = self._in_flight.pop(key) - 1
        if left:
            self._in_flight[key] = left
        self._schedule(key)

    async def _send(self, key: K, batch: list[tuple[I, asyncio.Future[R]]]) -> None:
        try:
            results = await self._send_batch(key, [item for item, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a buyer who hung up cancelled it
                future.set_result(result)

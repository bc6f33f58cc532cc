"""The coalescer behind claim and poll batching: a lone request goes at once, requests that
meet while calls are in flight go together, and never more than max_in_flight calls run."""

from __future__ import annotations

import asyncio

import pytest

from engine.store.coalescing import Coalescer


class SlowStore:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.running = 0
        self.most_running = 0
        self.release = asyncio.Event()

    async def send(self, key: str, items: list[int]) -> list[int]:
        self.calls.append(items)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        await self.release.wait()
        self.running -= 1
        if -1 in items:
            raise RuntimeError("store refused")
        return [item * 10 for item in items]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_lone_request_goes_at_once() -> None:
    store = SlowStore()
    store.release.set()
    coalescer: Coalescer[str, int, int] = Coalescer(store.send, max_batch=8)
    assert await coalescer.submit("ev1", 3) == 30
    assert store.calls == [[3]]


@pytest.mark.parametrize("max_in_flight", [1, 3])
async def test_requests_meeting_calls_in_flight_go_together(max_in_flight: int) -> None:
    store = SlowStore()
    coalescer: Coalescer[str, int, int] = Coalescer(store.send, 8, max_in_flight)
    first = []
    for n in range(max_in_flight):  # one by one: each starts a call of its own
        first.append(asyncio.ensure_future(coalescer.submit("ev1", n)))
        await settle()
    assert store.calls == [[n] for n in range(max_in_flight)]
    waiting = [asyncio.ensure_future(coalescer.submit("ev1", n)) for n in range(100, 120)]
    await settle()
    assert len(store.calls) == max_in_flight  # the rest wait for a call to finish
    store.release.set()
    results = await asyncio.gather(*first, *waiting)
    assert results == [n * 10 for n in [*range(max_in_flight), *range(100, 120)]]
    assert store.most_running <= max_in_flight
    assert sorted(len(call) for call in store.calls[max_in_flight:]) == [4, 8, 8]  # max_batch


async def test_a_failed_call_fails_its_requests_only() -> None:
    store = SlowStore()
    store.release.set()
    coalescer: Coalescer[str, int, int] = Coalescer(store.send, 8)
    bad = asyncio.ensure_future(coalescer.submit("ev1", -1))
    other_event = asyncio.ensure_future(coalescer.submit("ev2", 2))
    with pytest.raises(RuntimeError):
        await bad
    assert await other_event == 20
    assert await coalescer.submit("ev1", 4) == 40

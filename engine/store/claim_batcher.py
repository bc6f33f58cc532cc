"""Coalesce concurrent claims on one event into one Lua call.

Claims submitted during the same turn of the event loop for the same event are sent together
as one EVALSHA of lua/claim.lua, which runs each claim all-or-nothing on its own. One round
trip and one script call then serve many buyers, which is what lets one Python process keep
up with Redis instead of paying a round trip per claim.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import msgspec

from engine.store.scripts import EventScripts

MAX_BATCH = 128


class ClaimBatcher:
    def __init__(self, scripts: EventScripts) -> None:
        self._scripts = scripts
        self._pending: dict[int, list[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]]] = (
            defaultdict(list)
        )
        self._scheduled = False
        self._sending: set[asyncio.Task[None]] = set()  # keeps running sends referenced

    async def claim(self, event_id: int, claim: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending[event_id].append((claim, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, defaultdict(list)
        for event_id, entries in pending.items():
            for start in range(0, len(entries), MAX_BATCH):
                batch = entries[start : start + MAX_BATCH]
                task = asyncio.ensure_future(self._send(event_id, batch))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)

    async def _send(
        self, event_id: int, batch: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]]
    ) -> None:
        try:
            raw = await self._scripts.run(
                "claim", event_id, msgspec.json.encode([claim for claim, _ in batch])
            )
            results = msgspec.json.decode(raw)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

"""An event's orders as Redis holds them, written to PostgreSQL before the event leaves Redis
(its removal: engine.catalogue.Catalogue.delete), so no order, refund or refusal is lost."""

from __future__ import annotations

import asyncpg

from engine.errors import InvalidState
from engine.persistence import Persister
from engine.store.pg_orders import write_refusals
from engine.store.redis_inventory import RedisInventory
from engine.store.redis_order_log import RedisOrderLog

BATCH = 500  # orders per transaction
PENDING_DEPTH = 10_000  # pending changes looked at per other event
REFUSALS_PAGE = 1000


class RedisEventOrders:
    def __init__(
        self,
        log: RedisOrderLog,
        persister: Persister,
        inventory: RedisInventory,
        pool: asyncpg.Pool,
    ) -> None:
        self._log = log
        self._persister = persister
        self._inventory = inventory
        self._pool = pool

    async def write_all(self, event_id: int) -> bool:
        own, parts = await self._log.event_orders(event_id)
        for batch in _batches(own):
            written, unchanged = await self._persister.settle(batch)
            if refused := sorted(set(batch) - written - unchanged):
                raise InvalidState(
                    f"PostgreSQL refused order {refused[0]} of this event; try again later"
                )
        # an order spanning events lives in its first event, and a cancelled one leaves no
        # part here: the changes pending in the other events are written too, so that
        # PostgreSQL's order lines name every order of this event
        for other in await self._inventory.hydrated_events():
            if other != event_id:
                pending = await self._log.changed_orders(other, PENDING_DEPTH, PENDING_DEPTH)
                for batch in _batches(pending):
                    await self._persister.persist(batch, include_paid=False)
        while refusals := await self._log.refusals(event_id, REFUSALS_PAGE):
            await write_refusals(self._pool, event_id, refusals)
            await self._log.forget_refusals(event_id, [entry_id for entry_id, _ in refusals])
        return bool(own) or parts > 0


def _batches(order_ids: list[str]) -> list[list[str]]:
    return [order_ids[start : start + BATCH] for start in range(0, len(order_ids), BATCH)]

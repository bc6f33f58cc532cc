"""Live inventory in Redis: hydration, and the counts and states catalogue reads overlay."""

from __future__ import annotations

import msgspec

from engine import keys
from engine.hydration import Availability, EventSnapshot
from engine.live_tickets import LiveTicketStore, load_event_tickets
from engine.store.redis_client import SaleRedis
from engine.store.redis_gate_keys import copy_fields
from engine.store.scripts import EventScripts


class RedisInventory:
    def __init__(
        self, redis: SaleRedis, scripts: EventScripts, tickets: LiveTicketStore | None = None
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self._tickets = tickets

    async def load(self, event_id: int, snapshot: EventSnapshot) -> Availability:
        # what the claim, queue and admission paths read besides the inventory, written first
        # so nothing that sees the event on sale misses it, and without expiry so nothing
        # sends them back to PostgreSQL mid-sale: the waiting room's settings (a partner's
        # pause, resume or new rate applies at the next visit), each ticket type's event and
        # the gate keys (added to, never replaced: a key added meanwhile stays)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.waiting_room_settings(event_id), msgspec.json.encode(snapshot.room))
            if snapshot.gate_keys is not None:
                pipe.hset(keys.gate_keys(event_id), mapping=copy_fields(snapshot.gate_keys))
            if snapshot.pools:
                event = str(event_id)
                pipe.hset(
                    keys.TICKET_TYPE_EVENTS, mapping={pool[0]: event for pool in snapshot.pools}
                )
            await pipe.execute()
        available, held, sold = await self._scripts.hydrate(
            event_id,
            msgspec.json.encode(snapshot.meta),
            msgspec.json.encode(snapshot.seats),
            msgspec.json.encode(snapshot.pools),
            msgspec.json.encode(snapshot.sold_parts),
        )
        if snapshot.tickets is not None and self._tickets is not None:
            # what PostgreSQL has, merged under what Redis knows (scans and voids not
            # written yet); from then on the Redis states are authoritative
            await load_event_tickets(event_id, snapshot.tickets, self._tickets)
        await self._redis.sadd(keys.HYDRATED_EVENTS, str(event_id))
        return Availability(int(available), int(held), int(sold))

    async def withdraw_seat(self, event_id: int, seat_id: int) -> bool:
        """Take an available seat off sale; False if it is held or sold."""
        result = await self._scripts.withdraw(event_id, str(seat_id))
        return bytes(result) == b"ok"

    async def close_unsold(self, event_id: int) -> bool:
        """Stop claims on an event about to be deleted; False if anything is held or sold."""
        return bytes(await self._scripts.close_unsold(event_id)) == b"ok"

    async def forget(self, event_id: int) -> None:
        pool_fields = await self._redis.hkeys(keys.event_key(event_id, "pools"))
        await self._redis.srem(keys.HYDRATED_EVENTS, str(event_id))
        await self._redis.delete(
            *keys.event_keys(event_id),
            keys.waiting_room_settings(event_id),
            keys.gate_keys(event_id),
        )
        types = {field.decode().partition(":")[0] for field in pool_fields}
        if types:
            await self._redis.hdel(keys.TICKET_TYPE_EVENTS, *types)

    async def hydrated_events(self) -> list[int]:
        return sorted(int(e) for e in await self._redis.smembers(keys.HYDRATED_EVENTS))

    async def counts(self, event_ids: list[int]) -> dict[int, Availability]:
        """Live counts of the hydrated events among `event_ids`."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for event_id in event_ids:
                pipe.hmget(keys.event_key(event_id, "counts"), "a", "h", "s")
            replies = await pipe.execute()
        return {
            event_id: Availability(int(a), int(h), int(s))
            for event_id, (a, h, s) in zip(event_ids, replies, strict=True)
            if a is not None
        }

    async def seat_states(self, event_id: int, seat_ids: list[int]) -> dict[int, str]:
        """'available' | 'held' | 'sold' per seat, for a hydrated event ({} otherwise)."""
        if not seat_ids:
            return {}
        states = await self._redis.hmget(
            keys.event_key(event_id, "seats"), [str(s) for s in seat_ids]
        )
        names = {b"a": "available", b"h": "held", b"s": "sold"}
        return {
            seat: names[state[:1]] for seat, state in zip(seat_ids, states, strict=True) if state
        }

    async def seats_marked(
        self, event_id: int, mark: str, after_id: int, most: int
    ) -> list[int] | None:
        seats = keys.event_key(event_id, "seats")
        if await self._redis.hlen(seats) > most:
            return None
        wanted = mark.encode()
        marks = await self._redis.hgetall(seats)
        return sorted(
            seat
            for seat, state in ((int(k), v) for k, v in marks.items())
            if seat > after_id and state[:1] == wanted
        )

    async def pool_counts(self, event_id: int, type_ids: list[int]) -> dict[int, Availability]:
        if not type_ids:
            return {}
        fields = [f"{t}:{x}" for t in type_ids for x in ("a", "h", "s")]
        values = await self._redis.hmget(keys.event_key(event_id, "pools"), fields)
        result = {}
        for i, type_id in enumerate(type_ids):
            a, h, s = values[3 * i : 3 * i + 3]
            if a is not None:
                result[type_id] = Availability(int(a), int(h), int(s))
        return result

    async def pool_available(self, event_id: int) -> dict[int, int]:
        """Units available now per ticket type of a hydrated event ({} otherwise)."""
        raw = await self._redis.hgetall(keys.event_key(event_id, "pools"))
        return {
            int(field.decode()[:-2]): int(value)
            for field, value in raw.items()
            if field.decode().endswith(":a")
        }

    async def seat_marks(self, event_id: int) -> dict[str, str]:
        raw = await self._redis.hgetall(keys.event_key(event_id, "seats"))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def pool_sold(self, event_id: int) -> dict[str, int]:
        raw = await self._redis.hgetall(keys.event_key(event_id, "pools"))
        return {k.decode()[:-2]: int(v) for k, v in raw.items() if k.decode().endswith(":s")}

    async def known_orders(self, event_id: int, order_ids: list[str]) -> set[str]:
        """Which of these orders (homed at event_id) Redis still has a document for."""
        if not order_ids:
            return set()
        found = await self._redis.hmget(keys.event_key(event_id, "orders"), order_ids)
        return {order_id for order_id, doc in zip(order_ids, found, strict=True) if doc}

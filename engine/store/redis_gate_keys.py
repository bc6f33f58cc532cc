"""Redis side of gate keys: the copy of each live event's keys, under the event's hash tag,
that scans verify codes with while PostgreSQL is slow or down (engine/gate_keys.py)."""

from __future__ import annotations

import msgspec

from engine import keys
from engine.gate_keys import EventKeyCopy, GateKey
from engine.store.redis_client import SaleRedis

PARTNER_FIELD = "partner"

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(GateKey).decode


def copy_fields(copy: EventKeyCopy) -> dict[str, bytes | str]:
    """The fields of an event's copy: each key under its id, and the partner."""
    fields: dict[str, bytes | str] = {str(key.key_id): _encode(key) for key in copy.keys}
    fields[PARTNER_FIELD] = str(copy.partner_id)
    return fields


class RedisGateKeys:
    def __init__(self, redis: SaleRedis) -> None:
        self._redis = redis

    async def event_copy(self, event_id: int) -> EventKeyCopy | None:
        fields = await self._redis.hgetall(keys.gate_keys(event_id))
        partner = fields.pop(PARTNER_FIELD.encode(), None)
        if partner is None:
            return None
        return EventKeyCopy(int(partner), [_decode(key) for key in fields.values()])

    async def write(self, event_id: int, copy: EventKeyCopy) -> None:
        await self._redis.hset(keys.gate_keys(event_id), mapping=copy_fields(copy))

"""Order ids: opaque strings that name the order's home event, where its document lives.

`"42-5f1c9a0e7d3b2a14c6e8"`: the order's document is in event 42's Redis slot, so the claim
that creates it and every status change are single-slot scripts.
"""

from __future__ import annotations

import re
import secrets

from engine.errors import NotFound

_ORDER_ID = re.compile(r"^([1-9][0-9]{0,18})-([0-9a-f]{20})$")


_ID_BYTES = 10
_random = bytearray()  # cryptographic random bytes, fetched in blocks: a claim is too hot
# a path for one urandom call per order


def new_order_id(home_event_id: int) -> str:
    global _random
    if len(_random) < _ID_BYTES:
        _random = bytearray(secrets.token_bytes(_ID_BYTES * 1024))
    chunk, _random[:_ID_BYTES] = _random[:_ID_BYTES], b""
    return f"{home_event_id}-{chunk.hex()}"


def home_event_of(order_id: str) -> int:
    match = _ORDER_ID.match(order_id)
    if not match:
        raise NotFound("No such order")
    return int(match.group(1))

"""Idempotency-Key: the same key from the same user gets the first response again (24 h);
a duplicate that arrives while the first is still running is told to retry."""

from __future__ import annotations

from typing import Protocol

import msgspec

from engine.errors import IdempotencyInProgress, InvalidInput

KEEP_SECONDS = 24 * 3600
RUNNING_SECONDS = 60
MAX_KEY_LENGTH = 200


class StoredResponse(msgspec.Struct):
    status: int
    body: bytes
    media_type: str


class IdempotencyStore(Protocol):
    async def reserve(self, user_id: int, key: str, ttl: int) -> bool:
        """True if this call now owns the key; False if it was already taken."""

    async def stored(self, user_id: int, key: str) -> StoredResponse | None: ...

    async def save(self, user_id: int, key: str, response: StoredResponse, ttl: int) -> None: ...

    async def drop(self, user_id: int, key: str) -> None: ...


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters", field="Idempotency-Key"
        )
    return key


async def replay_or_reserve(
    store: IdempotencyStore, user_id: int, key: str
) -> StoredResponse | None:
    """The stored response to replay, or None when the caller must run the request now."""
    if await store.reserve(user_id, check_key(key), RUNNING_SECONDS):
        return None
    stored = await store.stored(user_id, key)
    if stored is None:
        raise IdempotencyInProgress(retry_after=1)
    return stored

"""Idempotency-Key: a key belongs to one request of one user, named by its method, path and
body. The same request again gets the first response (kept 24 h); a duplicate that arrives
while the first is still running is told to retry; the key on any other request is refused
(422) before anything is done."""

from __future__ import annotations

import hashlib
from typing import Protocol

import msgspec

from engine.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidInput

KEEP_SECONDS = 24 * 3600
RUNNING_SECONDS = 60
MAX_KEY_LENGTH = 200


class StoredResponse(msgspec.Struct):
    status: int
    body: bytes
    media_type: str


class IdempotencyRecord(msgspec.Struct):
    """What a used key holds: the request it belongs to, and its response once there is one."""

    request: str  # request_fingerprint of the request that used the key first
    response: StoredResponse | None = None  # None while that request runs


class IdempotencyStore(Protocol):
    async def reserve(self, user_id: int, key: str, record: IdempotencyRecord, ttl: int) -> bool:
        """True if this call now owns the key; False if it was already taken."""

    async def stored(self, user_id: int, key: str) -> IdempotencyRecord | None: ...

    async def save(self, user_id: int, key: str, record: IdempotencyRecord, ttl: int) -> None: ...

    async def drop(self, user_id: int, key: str) -> None: ...


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters", field="Idempotency-Key"
        )
    return key


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of the method, the path and the raw body bytes. A client retrying a request
    sends the same bytes; one that re-encodes its JSON differently is refused (422), which is
    safe: nothing is done, and a fresh key is one header away."""
    # a JSON array ends where it ends: the path and the body cannot trade bytes
    digest = hashlib.sha256(msgspec.json.encode([method.upper(), path]))
    digest.update(body)
    return digest.hexdigest()


async def replay_or_reserve(
    store: IdempotencyStore, user_id: int, key: str, request: str
) -> StoredResponse | None:
    """The stored response to replay, or None when the caller must run the request now.
    `request` is the request's fingerprint."""
    if await store.reserve(user_id, check_key(key), IdempotencyRecord(request), RUNNING_SECONDS):
        return None
    record = await store.stored(user_id, key)
    if record is None:  # the first request failed and let go of the key just now
        raise IdempotencyInProgress(retry_after=1)
    if record.request != request:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for another request (method, path or body)"
        )
    if record.response is None:
        raise IdempotencyInProgress(retry_after=1)
    return record.response

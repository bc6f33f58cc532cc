"""Run a handler under an Idempotency-Key: replay the first response, refuse a concurrent
duplicate, refuse the key on any other request (see engine/idempotency.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request, Response

from api.problems import domain_error
from api.services import services_of
from engine.errors import BoxofficeError, TooManyAttempts
from engine.idempotency import (
    KEEP_SECONDS,
    IdempotencyRecord,
    StoredResponse,
    replay_or_reserve,
    request_fingerprint,
)


async def idempotent(
    request: Request[Any, Any, Any],
    user_id: int,
    status: int,
    run: Callable[[], Awaitable[Any]],
) -> Response[Any]:
    key = request.headers.get("idempotency-key")
    if key is None:
        return Response(await run(), status_code=status)
    store = services_of(request.app).idempotency
    fingerprint = request_fingerprint(request.method, request.scope["path"], await request.body())
    replay = await replay_or_reserve(store, user_id, key, fingerprint)
    if replay is not None:
        return Response(
            replay.body,
            status_code=replay.status,
            media_type=replay.media_type,
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        body = msgspec.json.encode(await run())
        stored = StoredResponse(status, body, "application/json")
    except TooManyAttempts:
        await store.drop(user_id, key)  # not looked at, so not an answer: the retry runs it
        raise
    except BoxofficeError as exc:
        problem = domain_error(request, exc)
        stored = StoredResponse(
            problem.status_code, msgspec.json.encode(problem.content), "application/problem+json"
        )
    except BaseException:
        await store.drop(user_id, key)  # a crash is not an answer: let the client retry
        raise
    await store.save(user_id, key, IdempotencyRecord(fingerprint, stored), KEEP_SECONDS)
    return Response(stored.body, status_code=stored.status, media_type=stored.media_type)

"""Refresh tokens: a buyer who signed in earlier gets a new access token without a login
(no password, no argon2), so an opening does not start with a login storm.

A refresh token is opaque: `<sign-in id>.<secret>`, both random. Redis keeps, per sign-in,
the user and the digest (SHA-256: the secret is 256 random bits, so no slow hash is needed)
of the one token that may be used next (`lua/refresh_rotate.lua`). Each use rotates it: the
presented token is spent and a new one is handed back with the new access token. A spent
token presented again means two parties hold it (it leaked): the whole sign-in is revoked,
so the thief's newer token dies with it and the customer logs in again. A sign-in lapses
after REFRESH_TTL_SECONDS unused, ends on `POST /auth/logout`, and a disabled or deleted
user's refresh is refused (and the sign-in revoked) by `engine/accounts.py`, which asks
PostgreSQL, the record of who is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal, Protocol

from engine.errors import RefreshTokenRefused

Rotation = tuple[Literal["ok", "reused", "unknown"], int | None]


class RefreshStore(Protocol):
    async def start(self, family_id: str, user_id: int, digest: str, ttl_ms: int) -> None: ...

    async def rotate(self, family_id: str, presented: str, successor: str, ttl_ms: int) -> Rotation:
        """Spend `presented` for `successor`: ('ok', user id), ('reused', None) (the sign-in
        is revoked now), or ('unknown', None) (nothing changed)."""

    async def revoke(self, family_id: str) -> None: ...


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _parts(token: str) -> tuple[str, str]:
    family_id, dot, secret = token.partition(".")
    if not dot or not family_id or not secret or len(token) > 200:
        raise RefreshTokenRefused()
    return family_id, secret


class RefreshTokens:
    def __init__(self, store: RefreshStore, ttl_seconds: int) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds

    async def start(self, user_id: int) -> str:
        """A new sign-in's first refresh token."""
        family_id, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        await self._store.start(family_id, user_id, _digest(secret), self.ttl_seconds * 1000)
        return f"{family_id}.{secret}"

    async def rotate(self, token: str) -> tuple[int, str]:
        """The user of this token and the token that replaces it; refused if the token is
        unknown, lapsed, revoked or already spent (which revokes its sign-in)."""
        family_id, secret = _parts(token)
        successor = secrets.token_urlsafe(32)
        result, user_id = await self._store.rotate(
            family_id, _digest(secret), _digest(successor), self.ttl_seconds * 1000
        )
        if result == "reused":
            raise RefreshTokenRefused(
                "This refresh token was already used: every token of its sign-in is revoked;"
                " log in again"
            )
        if result != "ok" or user_id is None:
            raise RefreshTokenRefused()
        return user_id, f"{family_id}.{successor}"

    async def revoke(self, token: str) -> None:
        """End the sign-in this token belongs to (whether or not it is still current)."""
        family_id, _ = _parts(token)
        await self._store.revoke(family_id)

"""Tokens of disabled or deleted users stop working within about a second, with no
database read per request.

Access tokens are signed and checked without a lookup (engine/tokens.py), so a user's
disablement cannot ride in the token. PostgreSQL keeps who is disabled (users.disabled_at);
Redis keeps a copy every process reads (engine/store/redis_revocation.py), with a version
that changes with every change; each process keeps its own copy in memory, refreshed every
REFRESH_S by a background task that reads the version (one small Redis read) and the ids
only when the version moved. Every request, the hot paths included, checks its principal
against the in-memory copy. If Redis lost the copy, the first process to notice rebuilds it
from PostgreSQL (a background read, never one per request).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Protocol

from engine.errors import AccountDisabled
from engine.principal import Principal

log = logging.getLogger(__name__)

REFRESH_S = 1.0


class RevocationCopy(Protocol):
    """The shared copy of the revoked user ids (Redis)."""

    async def version(self) -> str | None:
        """The copy's version; None when there is no copy (never built, or lost)."""

    async def revoked(self) -> tuple[str | None, frozenset[int]]: ...

    async def rebuild(self, user_ids: Iterable[int]) -> None:
        """Add these ids and give the copy a version if it has none."""

    async def revoke(self, user_ids: Iterable[int]) -> None: ...

    async def restore(self, user_ids: Iterable[int]) -> None: ...


class RevocationSource(Protocol):
    """Who is disabled, as the system of record keeps it (PostgreSQL)."""

    async def revoked_user_ids(self) -> list[int]: ...


class RevokedUsers:
    """This process's copy of the revoked user ids."""

    def __init__(self, copy: RevocationCopy, source: RevocationSource) -> None:
        self._copy = copy
        self._source = source
        self._ids: frozenset[int] = frozenset()
        self._version: str | None = None

    def check(self, principal: Principal) -> Principal:
        """The principal, if its user was not disabled or deleted."""
        if principal.user_id in self._ids:
            raise AccountDisabled("This account is disabled; its tokens no longer work")
        return principal

    def allows(self, principal: Principal) -> bool:
        return principal.user_id not in self._ids

    async def refresh(self) -> None:
        version = await self._copy.version()
        if version is None:
            await self._copy.rebuild(await self._source.revoked_user_ids())
        elif version == self._version:
            return
        self._version, self._ids = await self._copy.revoked()

    async def keep_fresh(self, every_s: float = REFRESH_S) -> None:
        """Refresh for ever; an unreachable Redis (or PostgreSQL, while rebuilding) leaves
        the last copy in force until it answers again."""
        while True:
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("revoked users not refreshed: %r", exc)
            await asyncio.sleep(every_s)


async def apply_revocation(
    copy: RevocationCopy, source: RevocationSource, user_ids: list[int], revoked: bool
) -> None:
    """Publish a change PostgreSQL already holds. Without a copy (Redis lost it), the copy is
    rebuilt from PostgreSQL, change included, rather than started with this change alone."""
    if await copy.version() is None:
        await copy.rebuild(await source.revoked_user_ids())
    elif revoked:
        await copy.revoke(user_ids)
    else:
        await copy.restore(user_ids)

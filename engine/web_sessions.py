"""Browser sessions: what a signed-in page visitor is, kept on the server.

The pages (web/) carry only a random session id in a cookie; the session itself (the same
`Principal` an access token carries, and the name shown in the header) lives in the store
until it expires or its owner signs out. Signing out deletes it, so a copied cookie stops
working at once, which a self-contained token could not promise. A disabled user's sessions
are refused by the same in-memory revocation check as its tokens (engine/revocation.py).
"""

from __future__ import annotations

import secrets
import time
from typing import Protocol

import msgspec

from engine.principal import Principal

SESSION_ID_BYTES = 32


class WebSession(msgspec.Struct, frozen=True):
    principal: Principal
    name: str
    email: str
    expires_at: int  # unix seconds


class WebSessionStore(Protocol):
    async def put(self, session_id: str, session: WebSession, ttl_seconds: int) -> None: ...

    async def get(self, session_id: str) -> WebSession | None: ...

    async def delete(self, session_id: str) -> None: ...


class WebSessions:
    def __init__(self, store: WebSessionStore, ttl_seconds: int) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds

    async def start(self, principal: Principal, name: str, email: str) -> tuple[str, WebSession]:
        """A new session under a new random id: signing in never reuses an id the browser
        already had, so a planted cookie cannot become a signed-in one (session fixation)."""
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        expires_at = int(time.time()) + self.ttl_seconds
        session = WebSession(principal=principal, name=name, email=email, expires_at=expires_at)
        await self._store.put(session_id, session, self.ttl_seconds)
        return session_id, session

    async def find(self, session_id: str) -> WebSession | None:
        """The live session of this id; None when unknown, expired or signed out."""
        if not session_id or len(session_id) > 2 * SESSION_ID_BYTES:
            return None
        session = await self._store.get(session_id)
        if session is None or session.expires_at <= time.time():
            return None
        return session

    async def end(self, session_id: str) -> None:
        if session_id:
            await self._store.delete(session_id)

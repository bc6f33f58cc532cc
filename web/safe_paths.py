"""Where a page may send the browser after signing in: only a path on this site."""

from __future__ import annotations

from urllib.parse import urlsplit

from engine.principal import Role

MAX_NEXT = 2000
ROLE_HOME: dict[Role, str] = {
    "partner": "/panel/",
    "staff": "/gate/",
    "customer": "/account/",
    "admin": "/",
}


def local_path(candidate: str | None) -> str | None:
    """`candidate` when it is a path on this site (`/panel/events/3?tab=x`), else None.

    Refused: absolute URLs, scheme-relative `//host`, backslashes (browsers read `/\\host`
    as `//host`), control characters and anything over MAX_NEXT characters: an open
    redirect would let a link to our sign-in page send a visitor anywhere."""
    if not candidate or len(candidate) > MAX_NEXT or not candidate.startswith("/"):
        return None
    if "\\" in candidate or any(ord(c) < 0x20 or ord(c) == 0x7F for c in candidate):
        return None
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or candidate.startswith("//"):
        return None
    return candidate


def landing(role: Role, next_path: str | None) -> str:
    """Where a user of `role` goes after signing in: `next_path` when local, else home."""
    return local_path(next_path) or ROLE_HOME[role]

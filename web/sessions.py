"""The browser session's cookie, and who is signed in on a request.

The cookie carries only the session's random id (engine/web_sessions.py keeps the rest):
HttpOnly (no script reads it), SameSite=Lax (not sent on another site's form posts or
fetches), Secure when the request came over TLS or SECURE_COOKIES says so, and Max-Age of the
session's lifetime. Every page request reads the session once and checks its user against the
in-memory list of disabled users, as the API does with tokens.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie

from api.services import services_of
from engine.principal import Role
from engine.web_sessions import WebSession

SESSION_COOKIE = "bx_session"
_STATE_KEY = "web_session"


class SignInRequired(Exception):
    """The page needs a signed-in user: the browser is sent to the sign-in page."""


class WrongRole(Exception):
    """Signed in, but as a role this page is not for."""

    def __init__(self, session: WebSession, roles: tuple[Role, ...]) -> None:
        super().__init__(f"for {' or '.join(roles)} accounts")
        self.session = session
        self.roles = roles


def is_secure(request: Request[Any, Any, Any]) -> bool:
    return (
        request.url.scheme == "https" or services_of(request.app).resources.settings.secure_cookies
    )


def session_id_of(request: Request[Any, Any, Any]) -> str:
    return request.cookies.get(SESSION_COOKIE, "")


async def current_session(request: Request[Any, Any, Any]) -> WebSession | None:
    """The signed-in user's session, or None; read once per request."""
    state = request.state
    if _STATE_KEY not in state:
        services = services_of(request.app)
        session = await services.web_sessions.find(session_id_of(request))
        if session is not None and not services.revoked_users.allows(session.principal):
            session = None
        state[_STATE_KEY] = session
    found: WebSession | None = state[_STATE_KEY]
    return found


async def require(request: Request[Any, Any, Any], *roles: Role) -> WebSession:
    """The session of a signed-in user of one of `roles`: SignInRequired or WrongRole else."""
    session = await current_session(request)
    if session is None:
        raise SignInRequired()
    if roles and session.principal.role not in roles:
        raise WrongRole(session, roles)
    return session


def session_cookie(request: Request[Any, Any, Any], session_id: str, max_age: int) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=session_id,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


def set_session(
    request: Request[Any, Any, Any], response: Response[Any], session_id: str, max_age: int
) -> None:
    response.set_cookie(session_cookie(request, session_id, max_age))


def clear_session(request: Request[Any, Any, Any], response: Response[Any]) -> None:
    response.set_cookie(session_cookie(request, "", 0))

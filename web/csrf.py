"""CSRF tokens: every request of the pages that changes state must carry one.

A signed double-submit token. The token is `<random>.<HMAC(random, session id)>`: it is set
in an HttpOnly cookie and written into each page (a hidden `csrf_token` field in forms, a
`<meta name="csrf-token">` that scripts send back as `X-CSRF-Token`). A state-changing
request passes only when the token it sends equals its cookie's and is signed for the
browser's current session id. Another site can make a browser send our cookies (SameSite=Lax
already stops most of that) but can neither read the token nor make one, because it knows
neither the secret nor the session id; binding to the session also means a token planted
before signing in is worthless after. The sign-in form itself is covered by the cookie half
(login CSRF). `csrf_guard` checks every non-safe request of the pages' router.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers import BaseRouteHandler

from api.services import services_of
from web.sessions import is_secure, session_id_of

CSRF_COOKIE = "bx_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_STATE_KEY = "csrf_token"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfRefused(Exception):
    """A state-changing request without a valid CSRF token: answered 403."""


def _key(request: Request[Any, Any, Any]) -> bytes:
    secret = services_of(request.app).resources.settings.jwt_secret
    return hashlib.sha256(f"csrf:{secret}".encode()).digest()


def _signature(key: bytes, random_part: str, session_id: str) -> str:
    mac = hmac.new(key, f"{random_part}|{session_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def new_token(request: Request[Any, Any, Any], session_id: str) -> str:
    random_part = secrets.token_urlsafe(24)
    return f"{random_part}.{_signature(_key(request), random_part, session_id)}"


def is_valid(request: Request[Any, Any, Any], token: str, session_id: str) -> bool:
    random_part, _, signature = token.partition(".")
    if not random_part or not signature or len(token) > 200:
        return False
    expected = _signature(_key(request), random_part, session_id)
    return hmac.compare_digest(signature, expected)


def page_token(request: Request[Any, Any, Any]) -> str:
    """The token to write into this request's page: the cookie's when it is still valid for
    the browser's session, else a new one (`token_cookie` then sets it)."""
    if _STATE_KEY not in request.state:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        session_id = session_id_of(request)
        valid = bool(cookie) and is_valid(request, cookie, session_id)
        request.state[_STATE_KEY] = cookie if valid else new_token(request, session_id)
    token: str = request.state[_STATE_KEY]
    return token


def token_cookie(request: Request[Any, Any, Any], token: str) -> Cookie:
    return Cookie(
        key=CSRF_COOKIE,
        value=token,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


def attach_token(request: Request[Any, Any, Any], response: Response[Any]) -> None:
    """Set the page's token cookie unless the browser already holds that very token."""
    token = page_token(request)
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(token_cookie(request, token))


def rotate_token(request: Request[Any, Any, Any], response: Response[Any], session_id: str) -> None:
    """A new token for a new session id (signing in or out)."""
    token = new_token(request, session_id)
    request.state[_STATE_KEY] = token
    response.set_cookie(token_cookie(request, token))


async def submitted_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(_FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def check_csrf(request: Request[Any, Any, Any]) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    submitted = await submitted_token(request)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise CsrfRefused("The form's security token is missing or does not match")
    if not is_valid(request, submitted, session_id_of(request)):
        raise CsrfRefused("The form's security token belongs to another session")


async def csrf_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard of every page handler: non-safe methods need a valid token."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    if not isinstance(connection, Request):  # websockets: no state-changing pages use them
        return
    await check_csrf(connection)

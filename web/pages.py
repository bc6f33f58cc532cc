"""Rendering a page: the template plus what the shared layout needs on every page."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from engine.web_sessions import WebSession
from web.csrf import attach_token, page_token
from web.i18n import LANGUAGE_NAMES, N_, language_of, translator
from web.sessions import current_session

NAV_BY_ROLE: dict[str, tuple[tuple[str, str], ...]] = {
    "partner": (("/panel/", N_("Events")), ("/panel/staff", N_("Staff")), ("/gate/", N_("Gate"))),
    "staff": (("/gate/", N_("Gate")),),
    "customer": (("/", N_("Events")), ("/account/", N_("My tickets"))),
    "admin": (("/", N_("Events")),),
}
ANONYMOUS_NAV = (("/", N_("Events")),)


def current_nav(nav: tuple[tuple[str, str], ...], path: str) -> str | None:
    """The nav link of the page: the longest one the path starts with ('/' only for '/')."""
    matches = [href for href, _ in nav if path == href or (href != "/" and path.startswith(href))]
    return max(matches, key=len, default=None)


def layout_context(request: Request[Any, Any, Any], session: WebSession | None) -> dict[str, Any]:
    """What base.html reads: the user, the nav, the CSRF token, the language."""
    language = language_of(request)
    role = session.principal.role if session else None
    nav = NAV_BY_ROLE.get(role, ANONYMOUS_NAV) if role else ANONYMOUS_NAV
    path = request.url.path
    return {
        "user": session,
        "nav": nav,
        "current_nav": current_nav(nav, path),
        "path": path,
        "csrf_token": page_token(request),
        "lang": language,
        "languages": LANGUAGE_NAMES,
        "_": translator(language),
    }


async def render(
    request: Request[Any, Any, Any], template: str, status: int = 200, **context: Any
) -> Template:
    """The page `template` (under web/templates/) with `context`; sets the CSRF cookie the
    page's forms need when the browser does not hold it yet."""
    session = await current_session(request)
    response = Template(
        template_name=template,
        context={**layout_context(request, session), **context},
        status_code=status,
    )
    attach_token(request, response)
    return response


def render_now(
    request: Request[Any, Any, Any], template: str, status: int, **context: Any
) -> Template:
    """`render` for exception handlers, which cannot await: the session is the one the
    request already read, if any."""
    session: WebSession | None = request.state.get("web_session")
    response = Template(
        template_name=template,
        context={**layout_context(request, session), **context},
        status_code=status,
    )
    attach_token(request, response)
    return response

"""How the pages answer a refusal: an HTML page for a browser, problem+json (the API's one
mapping, api/problems.py) for a page's script that asked for JSON."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.response import Redirect

from api.problems import domain_error, http_error, problem, status_of, validation_error
from engine.errors import BoxofficeError
from web.csrf import CsrfRefused
from web.i18n import N_
from web.pages import render_now
from web.sessions import SignInRequired, WrongRole


def wants_json(request: Request[Any, Any, Any]) -> bool:
    return "application/json" in request.headers.get("accept", "")


def sign_in_required(request: Request[Any, Any, Any], _: SignInRequired) -> Response[Any]:
    if wants_json(request):
        return problem(401, "not_authenticated", "Sign in", "Your session ended: sign in again")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/sign-in?next={quote(target, safe='')}", status_code=303)


def wrong_role(request: Request[Any, Any, Any], exc: WrongRole) -> Response[Any]:
    detail = f"This page is {exc}; you are signed in as a {exc.session.principal.role}."
    if wants_json(request):
        return problem(403, "forbidden", "Not allowed", detail)
    return render_now(
        request,
        "error.html",
        403,
        title=N_("Not for this account"),
        detail=detail,
        offer_sign_out=True,
    )


def csrf_refused(request: Request[Any, Any, Any], exc: CsrfRefused) -> Response[Any]:
    detail = f"{exc}. Reload the page and try again."
    if wants_json(request):
        return problem(403, "csrf_failed", "Security token refused", detail)
    title = N_("Security token refused")
    return render_now(request, "error.html", 403, title=title, detail=detail)


def domain_refusal(request: Request[Any, Any, Any], exc: BoxofficeError) -> Response[Any]:
    if wants_json(request):
        return domain_error(request, exc)
    return render_now(request, "error.html", status_of(exc), title=exc.title, detail=exc.detail)


def http_refusal(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if wants_json(request):
        return http_error(request, exc)
    title = N_("Page not found") if exc.status_code == 404 else N_("Request refused")
    return render_now(request, "error.html", exc.status_code, title=title, detail=str(exc.detail))


def invalid_request(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    if wants_json(request):
        return validation_error(request, exc)
    title = N_("Invalid request")
    return render_now(request, "error.html", 400, title=title, detail=str(exc.detail))


WEB_EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    SignInRequired: sign_in_required,
    WrongRole: wrong_role,
    CsrfRefused: csrf_refused,
    BoxofficeError: domain_refusal,
    ValidationException: invalid_request,
    NotFoundException: http_refusal,
    HTTPException: http_refusal,
}

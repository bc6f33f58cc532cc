"""Sign up, sign in and sign out: the same accounts as the API, for every role's pages.

Each takes `next`, the local path to go on to (web/safe_paths.py). Signing in starts a new
server-side session (engine/web_sessions.py) and sets its cookie; signing out deletes the
session, so the cookie is dead even if a copy of it survives somewhere.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from api.accounts import RegisterIn
from api.services import services_of
from engine.accounts import Registration, User
from engine.errors import (
    AuthenticationRequired,
    EmailTaken,
    InvalidInput,
    TooManyAttempts,
)
from web.csrf import rotate_token
from web.forms import convert, field_errors, form_fields
from web.i18n import language_of
from web.pages import render
from web.safe_paths import landing, local_path
from web.sessions import clear_session, current_session, session_id_of, set_session

SIGN_UP_ROLES = ("customer", "partner")
# lenient: a bad `next` is ignored (web/safe_paths.py), not refused
Next = Annotated[str | None, QueryParameter()]
Flag = Annotated[bool, QueryParameter()]
Text = Annotated[str, QueryParameter(max_length=40)]


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


async def signed_in(
    request: Request[Any, Any, Any], user: User, next_path: str | None
) -> Response[Any]:
    """Start a session for `user` and send the browser on."""
    sessions = services_of(request.app).web_sessions
    session_id, _ = await sessions.start(user.principal, user.name, user.email)
    response: Response[Any] = Redirect(landing(user.role, next_path), status_code=303)
    set_session(request, response, session_id, sessions.ttl_seconds)
    rotate_token(request, response, session_id)
    return response


class AccountPages(Controller):
    include_in_schema = False

    @get("/sign-in")
    async def sign_in_form(
        self, request: Request[Any, Any, Any], next: Next = None, signed_out: Flag = False
    ) -> Template:
        return await render(
            request,
            "sign_in.html",
            next=local_path(next),
            email="",
            notice="You are signed out." if signed_out else None,
            current=await current_session(request),
        )

    @post("/sign-in")
    async def sign_in(self, request: Request[Any, Any, Any]) -> Response[Any]:
        fields = await form_fields(request)
        next_path = local_path(fields.get("next"))
        email = fields.get("email", "")
        accounts = services_of(request.app).accounts
        try:
            result = await accounts.login(
                email, fields.get("password", ""), client_address(request)
            )
        except TooManyAttempts as exc:
            return await render(
                request, "sign_in.html", 429, next=next_path, email=email, error=exc.detail
            )
        except AuthenticationRequired as exc:
            return await render(
                request, "sign_in.html", 401, next=next_path, email=email, error=exc.detail
            )
        return await signed_in(request, result.user, next_path)

    @get("/sign-up")
    async def sign_up_form(
        self, request: Request[Any, Any, Any], role: Text = "customer", next: Next = None
    ) -> Template:
        role = role if role in SIGN_UP_ROLES else "customer"
        return await render(
            request, "sign_up.html", role=role, next=local_path(next), form={}, errors={}
        )

    @post("/sign-up")
    async def sign_up(self, request: Request[Any, Any, Any]) -> Response[Any]:
        fields = await form_fields(request)
        next_path = local_path(fields.pop("next", None))
        role = fields.get("role", "customer")
        role = role if role in SIGN_UP_ROLES else "customer"
        fields["role"] = role
        wanted = {name: value for name, value in fields.items() if value != ""}
        try:
            data = convert(wanted, RegisterIn)
            registration = Registration(
                role=data.role,
                name=data.name,
                email=data.email,
                password=data.password,
                company_name=data.company_name,
                address=data.address,
                phone=data.phone,
            )
            user = await services_of(request.app).accounts.register(
                registration, client_address(request)
            )
        except InvalidInput as exc:
            return await render(
                request,
                "sign_up.html",
                422,
                role=role,
                next=next_path,
                form=fields,
                errors=field_errors(exc),
                error=exc.detail,
            )
        except (EmailTaken, TooManyAttempts) as exc:
            status = 409 if isinstance(exc, EmailTaken) else 429
            return await render(
                request,
                "sign_up.html",
                status,
                role=role,
                next=next_path,
                form=fields,
                errors={},
                error=exc.detail,
            )
        # the language the customer signed up in is the one their e-mails are written in
        await services_of(request.app).accounts.set_locale(user.principal, language_of(request))
        return await signed_in(request, user, next_path)

    @get("/sign-out")
    async def sign_out_form(self, request: Request[Any, Any, Any]) -> Template:
        return await render(request, "sign_out.html")

    @post("/sign-out")
    async def sign_out(self, request: Request[Any, Any, Any]) -> Response[Any]:
        await services_of(request.app).web_sessions.end(session_id_of(request))
        response: Response[Any] = Redirect("/sign-in?signed_out=1", status_code=303)
        clear_session(request, response)
        rotate_token(request, response, "")
        return response

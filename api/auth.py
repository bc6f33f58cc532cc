"""Bearer-token authentication and role checks, as Litestar dependencies.

A handler asks for the principal it needs by parameter name: `user` (any role), `customer`,
`partner`, `gate` (staff or partner) or `viewer` (optional: None when anonymous). A token of a
disabled or deleted user is refused (401 account_disabled) from this process's copy of the
revoked users (engine/revocation.py), without a database read.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide

from api.services import services_of
from engine.errors import AuthenticationRequired, PermissionDenied
from engine.principal import Principal
from engine.tokens import read_access_token


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, None when there is no header.

    The one rule for the documented handlers and the hot paths (api/hot_paths.py): the scheme
    is case-insensitive (RFC 7235) and separated from the token by a space; anything else is
    refused (401)."""
    if not header:
        return None
    if not header.startswith("Bearer ") and header[:7].lower() != "bearer ":
        raise AuthenticationRequired("Authorization header must be 'Bearer <token>'")
    token = header[7:].strip()
    if not token:
        raise AuthenticationRequired("Authorization header must be 'Bearer <token>'")
    return token


def _bearer(request: Request[Any, Any, Any]) -> str | None:
    return bearer_token(request.headers.get("authorization"))


def _principal(request: Request[Any, Any, Any]) -> Principal:
    token = _bearer(request)
    if token is None:
        raise AuthenticationRequired("Log in and send 'Authorization: Bearer <token>'")
    services = services_of(request.app)
    secret = services.resources.settings.jwt_secret
    return services.revoked_users.check(read_access_token(token, secret))


def _with_role(request: Request[Any, Any, Any], *roles: str) -> Principal:
    principal = _principal(request)
    if principal.role not in roles:
        raise PermissionDenied(f"This action is for {' or '.join(roles)} accounts")
    return principal


def provide_user(request: Request[Any, Any, Any]) -> Principal:
    return _principal(request)


def provide_customer(request: Request[Any, Any, Any]) -> Principal:
    return _with_role(request, "customer")


def provide_partner(request: Request[Any, Any, Any]) -> Principal:
    return _with_role(request, "partner")


def provide_gate(request: Request[Any, Any, Any]) -> Principal:
    return _with_role(request, "staff", "partner")


def provide_viewer(request: Request[Any, Any, Any]) -> Principal | None:
    return None if _bearer(request) is None else _principal(request)


AUTH_DEPENDENCIES = {
    "user": Provide(provide_user, sync_to_thread=False),
    "customer": Provide(provide_customer, sync_to_thread=False),
    "partner": Provide(provide_partner, sync_to_thread=False),
    "gate": Provide(provide_gate, sync_to_thread=False),
    "viewer": Provide(provide_viewer, sync_to_thread=False),
}

# Handler parameter types: `partner: AsPartner` resolves the "partner" dependency above.
AsUser = NamedDependency[Principal]
AsCustomer = NamedDependency[Principal]
AsPartner = NamedDependency[Principal]
AsGate = NamedDependency[Principal]
AsViewer = NamedDependency[Principal | None]

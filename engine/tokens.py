"""Signed access tokens (JWT, HS256) carrying the user's role in their payload."""

from __future__ import annotations

import time
from functools import lru_cache

import jwt

from engine.errors import AuthenticationRequired
from engine.principal import Principal

ALGORITHM = "HS256"
AUDIENCE = "boxoffice"


def issue_access_token(principal: Principal, secret: str, ttl_seconds: int) -> str:
    now = int(time.time())
    payload: dict[str, object] = {
        "sub": str(principal.user_id),
        "role": principal.role,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if principal.partner_id is not None:
        payload["pid"] = principal.partner_id
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read_access_token(token: str, secret: str) -> Principal:
    """The principal of a valid token. Verified tokens are remembered (bounded), so a buyer
    hammering the API pays the signature check once, while expiry is still checked each time."""
    principal, expires = _verified(token, secret)
    if expires <= time.time():
        raise AuthenticationRequired("Access token expired")
    return principal


@lru_cache(maxsize=65536)
def _verified(token: str, secret: str) -> tuple[Principal, int]:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "role", "exp"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationRequired("Access token expired") from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationRequired("Invalid access token") from exc
    role = payload.get("role")
    if role not in ("partner", "customer", "staff", "admin"):
        raise AuthenticationRequired("Invalid access token")
    try:
        user_id = int(payload["sub"])
    except (TypeError, ValueError) as exc:
        raise AuthenticationRequired("Invalid access token") from exc
    partner_id = payload.get("pid")
    return Principal(user_id=user_id, role=role, partner_id=partner_id), int(payload["exp"])

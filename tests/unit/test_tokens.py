"""Access tokens: a valid token gives back its principal; anything else is
AuthenticationRequired."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from engine.errors import AuthenticationRequired
from engine.principal import Principal
from engine.tokens import ALGORITHM, AUDIENCE, issue_access_token, read_access_token

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
OTHER_SECRET = "another-test-secret-that-is-long-enough-too"
PARTNER = Principal(user_id=7, role="partner", partner_id=7)


def signed(claims: dict[str, Any], secret: str = SECRET) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 60, **claims}, secret, algorithm=ALGORITHM)


@pytest.mark.parametrize(
    "principal",
    [
        PARTNER,
        Principal(user_id=8, role="staff", partner_id=7),
        Principal(user_id=9, role="customer"),
        Principal(user_id=10, role="admin"),
    ],
)
def test_a_token_reads_back_as_its_principal(principal: Principal) -> None:
    token = issue_access_token(principal, SECRET, ttl_seconds=60)

    assert read_access_token(token, SECRET) == principal


def test_an_expired_token_is_refused() -> None:
    token = issue_access_token(PARTNER, SECRET, ttl_seconds=-1)

    with pytest.raises(AuthenticationRequired, match="expired"):
        read_access_token(token, SECRET)


def test_a_token_read_before_it_expired_is_refused_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # verified tokens are cached: expiry must still be checked on every read
    token = issue_access_token(PARTNER, SECRET, ttl_seconds=30)
    assert read_access_token(token, SECRET) == PARTNER
    later = time.time() + 31
    monkeypatch.setattr(time, "time", lambda: later)

    with pytest.raises(AuthenticationRequired, match="expired"):
        read_access_token(token, SECRET)


def test_a_tampered_token_is_refused() -> None:
    header, _, signature = issue_access_token(
        Principal(user_id=9, role="customer"), SECRET, ttl_seconds=60
    ).split(".")
    claims = signed({"sub": "9", "role": "admin", "aud": AUDIENCE}, OTHER_SECRET).split(".")[1]

    with pytest.raises(AuthenticationRequired, match="Invalid access token"):
        read_access_token(f"{header}.{claims}.{signature}", SECRET)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = issue_access_token(PARTNER, OTHER_SECRET, ttl_seconds=60)

    with pytest.raises(AuthenticationRequired, match="Invalid access token"):
        read_access_token(token, SECRET)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"sub": "7", "role": "partner", "aud": "another-service"}, id="wrong-aud"),
        pytest.param({"sub": "7", "role": "partner"}, id="no-aud"),
        pytest.param({"sub": "7", "aud": AUDIENCE}, id="no-role"),
        pytest.param({"sub": "7", "role": "root", "aud": AUDIENCE}, id="unknown-role"),
        pytest.param({"role": "partner", "aud": AUDIENCE}, id="no-sub"),
        pytest.param({"sub": "seven", "role": "partner", "aud": AUDIENCE}, id="non-numeric-sub"),
    ],
)
def test_a_token_with_wrong_claims_is_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(AuthenticationRequired):
        read_access_token(signed(claims), SECRET)


def test_a_token_without_expiry_is_refused() -> None:
    token = jwt.encode({"sub": "7", "role": "partner", "aud": AUDIENCE}, SECRET, ALGORITHM)

    with pytest.raises(AuthenticationRequired):
        read_access_token(token, SECRET)


def test_an_unsigned_token_is_refused() -> None:
    token = jwt.encode(
        {"sub": "7", "role": "admin", "aud": AUDIENCE, "exp": int(time.time()) + 60},
        "",
        algorithm="none",
    )

    with pytest.raises(AuthenticationRequired):
        read_access_token(token, SECRET)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(AuthenticationRequired):
        read_access_token(garbage, SECRET)

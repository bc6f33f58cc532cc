"""Every domain error has one documented HTTP status and a unique snake_case code."""

from __future__ import annotations

import re

import pytest

from api.problems import PROBLEM_JSON, domain_error, status_of
from engine import errors

ALL_ERRORS = sorted(
    (
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.BoxofficeError)
    ),
    key=lambda cls: cls.__name__,
)

# the documented statuses; subclasses of Conflict are 409 by rule (see below)
DOCUMENTED_STATUS: dict[type[errors.BoxofficeError], int] = {
    errors.BoxofficeError: 400,  # the root alone: a plain bad request
    errors.InvalidInput: 422,
    errors.IdempotencyKeyReused: 422,
    errors.InvalidCursor: 422,
    errors.MalformedBody: 400,
    errors.UnsupportedMediaType: 415,
    errors.AuthenticationRequired: 401,
    errors.InvalidCredentials: 401,
    errors.AccountDisabled: 401,
    errors.RefreshTokenRefused: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.TooManyAttempts: 429,
    errors.Conflict: 409,
    errors.PurchaseRefused: 409,
    errors.SeatUnavailable: 409,
    errors.SoldOut: 409,
    errors.LimitExceeded: 409,
    errors.SaleNotOpen: 409,
    errors.AdmissionRequired: 403,
    errors.PaymentDeclined: 402,
    errors.HoldExpired: 410,
    errors.StoreUnavailable: 503,
    errors.PaymentNotReplicated: 503,
}


def expected_status(cls: type[errors.BoxofficeError]) -> int:
    if cls in DOCUMENTED_STATUS:
        return DOCUMENTED_STATUS[cls]
    if issubclass(cls, errors.Conflict):
        return 409
    pytest.fail(f"{cls.__name__} has no documented status: add it to this test")


def test_the_error_tree_is_found() -> None:
    assert len(ALL_ERRORS) >= len(DOCUMENTED_STATUS) + 8  # + the Conflict subclasses


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_maps_to_its_documented_status(cls: type[errors.BoxofficeError]) -> None:
    # status_of reads only the type; __new__ skips constructors that need arguments
    error = cls.__new__(cls)

    assert status_of(error) == expected_status(cls)


def test_codes_are_unique_and_snake_case() -> None:
    codes = [cls.code for cls in ALL_ERRORS]

    assert len(set(codes)) == len(codes), codes
    for code in codes:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code), code


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_is_in_the_documented_tree(cls: type[errors.BoxofficeError]) -> None:
    assert errors.__doc__ is not None
    assert re.search(rf"\b{cls.__name__}\b", errors.__doc__)


def test_a_problem_carries_code_status_and_retry_after() -> None:
    response = domain_error(None, errors.TooManyAttempts(retry_after=30))  # type: ignore[arg-type]

    assert response.status_code == 429
    assert response.media_type == PROBLEM_JSON
    assert response.headers["Retry-After"] == "30"
    assert response.content["code"] == "rate_limited"
    assert response.content["status"] == 429
    assert "retry_after" not in response.content

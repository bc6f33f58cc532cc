"""Every error becomes RFC 9457 problem+json with a stable `code`, mapped here and only here."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from redis.exceptions import ClusterError, RedisClusterException
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine import errors

log = logging.getLogger("boxoffice.api")

PROBLEM_JSON = "application/problem+json"

STATUS_BY_ERROR: dict[type[errors.BoxofficeError], int] = {
    errors.InvalidInput: 422,
    errors.MalformedBody: 400,
    errors.UnsupportedMediaType: 415,
    errors.AuthenticationRequired: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.TooManyAttempts: 429,
    errors.Conflict: 409,
    errors.PurchaseRefused: 409,
    errors.AdmissionRequired: 403,
    errors.PaymentDeclined: 402,
    errors.HoldExpired: 410,
    errors.StoreUnavailable: 503,
}

_CODE_BY_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def status_of(error: errors.BoxofficeError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def problem_fields(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The problem+json document; the one builder, for the handlers and the hot paths."""
    return {
        "type": f"https://boxoffice.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }


def error_fields(exc: errors.BoxofficeError, status: int) -> dict[str, Any]:
    """The problem+json document of a domain error (its Retry-After is a header, not a field)."""
    extra = {k: v for k, v in exc.extra.items() if k != "retry_after"}
    return problem_fields(status, exc.code, exc.title, exc.detail, **extra)


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body = problem_fields(status, code, title, detail, **extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_error(_: Request[Any, Any, Any], exc: errors.BoxofficeError) -> Response[Any]:
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    status = status_of(exc)
    body = error_fields(exc, status)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


def validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    detail = str(exc.detail)
    if any(word in detail.lower() for word in ("malformed", "truncated")):
        return problem(400, "malformed_json", "Malformed JSON", detail)
    fields = [
        {"field": item.get("key"), "message": item.get("message"), "source": item.get("source")}
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    if fields:
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return problem(422, "validation_error", "Invalid input", detail, errors=fields)


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status == 400 and any(w in str(exc.detail).lower() for w in ("malformed", "truncated")):
        return problem(400, "malformed_json", "Malformed JSON", str(exc.detail))
    if status >= 500:
        log.error("http error %s: %s", status, exc.detail)
    code = _CODE_BY_STATUS.get(status, "error" if status >= 500 else "bad_request")
    title = {401: "Authentication required", 403: "Not allowed", 404: "Not found"}.get(
        status, exc.detail if status < 500 else "Internal error"
    )
    headers = dict(exc.headers or {})
    return problem(status, code, title, str(exc.detail), headers or None)


def too_deep(_: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    return problem(400, "malformed_json", "Malformed JSON", "JSON nested too deeply")


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "Internal error",
        "The server failed to handle this request; it has been logged.",
    )


# what redis-py raises while the sale's Redis is unreachable or its cluster is failing over
STORE_ERRORS = (RedisConnectionError, RedisTimeoutError, ClusterError, RedisClusterException)


def unavailable(exc: Exception) -> errors.StoreUnavailable:
    return errors.StoreUnavailable(f"{type(exc).__name__}: {exc}")


def store_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The sale's Redis refused or dropped the connection, or its cluster is failing over:
    503 with Retry-After, as errors.StoreUnavailable, not a 500."""
    log.warning("Redis unavailable on %s %s: %r", request.method, request.url.path, exc)
    return domain_error(request, unavailable(exc))


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    **dict.fromkeys(STORE_ERRORS, store_unavailable),
    errors.BoxofficeError: domain_error,
    ValidationException: validation_error,
    NotAuthorizedException: http_error,
    PermissionDeniedException: http_error,
    NotFoundException: http_error,
    HTTPException: http_error,
    RecursionError: too_deep,
    Exception: unexpected_error,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_JSON",
    "MediaType",
    "error_fields",
    "problem",
    "problem_fields",
    "status_of",
]

"""The hot paths: the requests a flash sale sends by the thousand, served before routing.

`POST /orders` (claims), `POST /orders/{id}/pay` (payments), `POST|GET /events/{id}/queue`
(waiting-room joins and polls) and `POST /tickets/validate` (gate scans) arrive tens of
thousands at once, and Litestar's per-request machinery (routing, the middleware stack,
request parsing, dependency resolution, response building) costs more than the claim
itself. `BoxofficeApp` hands these paths to their serve functions, which sit beside their
documented handlers (api/orders.py, api/waiting_room.py, api/tickets.py), before any of
that runs. A serve function answers the common case (a valid token of the right role, a
well-formed body) by calling the engine and writing the response itself, and returns the
status it sent; for anything else it passes the request on to Litestar with the body
replayed and returns None, so those answers (401, 403,
422, idempotent replays, ...) come from the documented handlers.

This module is the hot paths' whole HTTP layer, sharing its rules with the handlers': the
Bearer token is read by api/auth.py's `bearer_token`, problem+json documents are built by
api/problems.py, and every body is encoded by `encode_json`. Requests answered here are
counted in the same Prometheus metrics as the rest, under the same path templates.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Litestar
from litestar.plugins.prometheus import PrometheusConfig

from api.auth import bearer_token
from api.bodies import is_json_media_type
from api.options_allow import with_full_allow
from api.problems import PROBLEM_JSON, STORE_ERRORS, error_fields, status_of, unavailable
from api.route_templates import untyped
from api.services import services_of
from engine.errors import BoxofficeError
from engine.principal import Principal
from engine.tokens import read_access_token

log = logging.getLogger("boxoffice.api")

# plain ASGI, typed loosely: this module speaks the protocol directly
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# serve(scope, receive, send, pass_on) -> the status sent, or None when passed on
Serve = Callable[[Scope, Receive, Send, ASGIApp], Awaitable[int | None]]

HOT_BODY_LIMIT = 64 * 1024  # claims and scans are tiny; larger bodies go the long way
# hot paths with a path parameter: template -> (the path's last segment, its pattern, the
# parameter's name and type), matched only on paths ending so
_Pattern = tuple[str, re.Pattern[str], str, type]
_PATTERNS: dict[str, _Pattern] = {
    "/events/{event_id:int}/queue": (
        "/queue",
        re.compile(r"/events/([1-9][0-9]{0,17})/queue"),
        "event_id",
        int,
    ),
    "/orders/{order_id:str}/pay": (
        "/pay",
        re.compile(r"/orders/([^/]{1,200})/pay"),
        "order_id",
        str,
    ),
}
encode_json = msgspec.json.Encoder().encode
_JSON = b"application/json"
_PROBLEM_JSON = PROBLEM_JSON.encode()
T = TypeVar("T")


class BoxofficeApp(Litestar):
    """Litestar, with the hot paths served before routing (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        prometheus: PrometheusConfig,
        response_headers: Callable[[Scope, Receive, Send, ASGIApp], Awaitable[None]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._response_headers = response_headers  # api/security_headers.py
        self._routes: dict[tuple[str, str], tuple[str, Serve]] = {}
        # by method: (the path's pattern, its metrics label, its serve function)
        self._patterned: dict[str, list[tuple[_Pattern, str, Serve]]] = {}
        self._metrics = HotMetrics(prometheus)

    def hot_path(self, method: str, template: str, serve: Serve) -> None:
        """Serve `template`'s requests with `serve`, counted under its metrics label (worked
        out here, once)."""
        label = untyped(template)  # as Litestar's middleware labels its own routes
        if template in _PATTERNS:
            self._patterned.setdefault(method, []).append((_PATTERNS[template], label, serve))
        else:
            self._routes[(method, template)] = (label, serve)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self._response_headers(scope, receive, send, self._dispatch)
        else:
            await super().__call__(scope, receive, send)

    async def _dispatch(self, scope: Any, receive: Any, send: Any) -> None:
        method, path = scope["method"], scope["path"]
        route = self._routes.get((method, path))
        if route is None and method in self._patterned:
            route = self._patterned_route(scope, method, path)
        if route is not None and _small_body(scope):
            await self._serve(scope, receive, send, *route)
            return
        if method == "OPTIONS":  # Litestar's own answer, with every method in Allow
            send = with_full_allow(self, scope, send)
        await super().__call__(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The long way: routing, middleware and the documented handler."""
        await super().__call__(scope, receive, send)  # type: ignore[arg-type]

    def _patterned_route(self, scope: Scope, method: str, path: str) -> tuple[str, Serve] | None:
        for (suffix, pattern, name, kind), label, serve in self._patterned[method]:
            if path.endswith(suffix):
                match = pattern.fullmatch(path)
                if match is not None:
                    scope["path_params"] = {name: kind(match.group(1))}
                    return label, serve
        return None

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, label: str, serve: Serve
    ) -> None:
        scope["app"] = self
        started = time.perf_counter()
        try:
            status = await serve(scope, receive, send, self._route)
        except STORE_ERRORS as exc:  # raised before any response was sent: 503, as Litestar's
            log.warning("Redis unavailable on %s %s: %r", scope["method"], label, exc)
            status = await respond_error(send, unavailable(exc))
        except Exception:  # answered 500 by api/security_headers.py: count it as such
            self._metrics.observe(scope["method"], label, 500, started)
            raise
        if status is not None:  # passed on: Litestar's middleware counted it
            self._metrics.observe(scope["method"], label, status, started)


def _small_body(scope: Scope) -> bool:
    """A body of a declared size the hot path may read whole; chunked or large bodies go to
    Litestar, which enforces the app's limit."""
    if scope["method"] == "GET":
        return True
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.isdigit() and int(value) <= HOT_BODY_LIMIT
    return False


class HotMetrics:
    """The Prometheus metrics Litestar's middleware keeps, for requests answered here.

    The metric objects are the middleware's own, reached through its public accessors
    (`request_count`, `request_time`, `requests_error_count`) on an instance built from the
    app's PrometheusConfig, so /metrics shows one `boxoffice_requests_total` whoever
    answered, with the same labels and buckets; the labelled children are looked up once per
    (method, path, status). The path label is Litestar's own form of the template
    (`/events/{event_id}/queue`, without the `:int`), so a route has one label whoever
    answered; a 5xx counts in `boxoffice_requests_error_total` as Litestar's do."""

    def __init__(self, config: PrometheusConfig) -> None:
        self._app_name = config.app_name
        middleware = config.middleware_class(app=_never_called, config=config)
        labels: dict[str, str | int | float] = {
            "method": "",
            "path": "",
            "status_code": 0,
            "app_name": config.app_name,
        }  # the middleware's label names, in its order
        self._count = middleware.request_count(labels)
        self._time = middleware.request_time(labels)
        self._errors = middleware.requests_error_count(labels)
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def observe(self, method: str, path: str, status: int, started: float) -> None:
        """One answer to `method` on `path` (the route's untyped template,
        api/route_templates.py) with `status`."""
        key = (method, path, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, path, status, self._app_name)
            errors = self._errors.labels(*labels) if status >= 500 else None
            children = self._count.labels(*labels), self._time.labels(*labels), errors
            self._children[key] = children
        children[0].inc()
        children[1].observe(time.perf_counter() - started)
        if children[2] is not None:
            children[2].inc()


async def _never_called(scope: Any, receive: Any, send: Any) -> None:
    """The next app of the middleware instance HotMetrics reads its metrics from: that
    instance only hands out metric objects and never serves a request."""
    raise RuntimeError("HotMetrics' middleware instance does not serve requests")


# a token or body the hot path will not serve: the documented handler answers it
UNSERVED = (BoxofficeError, msgspec.DecodeError, UnicodeDecodeError, RecursionError)


async def authenticated(
    scope: Scope,
    receive: Receive,
    send: Send,
    pass_on: ASGIApp,
    roles: tuple[str, ...],
    parse: Callable[[bytes], T],
) -> tuple[Principal, T] | None:
    """The caller and the parsed body, when a hot path can serve the request: a Bearer token
    of one of `roles`, of a user not disabled, and a body `parse` accepts. Otherwise the
    request is passed on with its body replayed, and None returned. A body not declared
    JSON is passed on unread (415 there)."""
    headers = dict(scope["headers"])
    token = headers.get(b"authorization")
    if token is None or not is_json_media_type(headers.get(b"content-type")):
        await pass_on(scope, receive, send)
        return None
    body = await read_body(receive)
    try:
        principal = caller(scope, token, roles)
        parsed = parse(body)
    except UNSERVED:
        principal = None
    if principal is None:
        await pass_on(scope, replay(body), send)
        return None
    return principal, parsed


def caller(scope: Scope, authorization: bytes | None, roles: tuple[str, ...]) -> Principal | None:
    """The principal of an Authorization header (the rule of api/auth.py, on the header as
    Litestar decodes it), when it is of one of `roles` and not disabled; None otherwise.
    Raises what reading the token raises (a BoxofficeError) for a refused token."""
    token = bearer_token(authorization.decode("latin-1")) if authorization else None
    if token is None:
        return None
    services = services_of(scope["app"])
    principal = read_access_token(token, services.resources.settings.jwt_secret)
    if principal.role not in roles or not services.revoked_users.allows(principal):
        return None
    return principal


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replay(body: bytes) -> Receive:
    """A receive that hands the already-read body to the next app."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def retry_after_header(exc: BoxofficeError) -> list[tuple[bytes, bytes]] | None:
    """Retry-After of a refusal that carries one (429 rate_limited, 409 in progress)."""
    retry_after = getattr(exc, "retry_after", None)
    return None if retry_after is None else [(b"retry-after", str(retry_after).encode())]


async def respond_error(send: Send, exc: BoxofficeError) -> int:
    """A domain error as the documented handlers answer it (api/problems.py)."""
    status = status_of(exc)
    body = encode_json(error_fields(exc, status))
    return await respond(send, status, body, _PROBLEM_JSON, retry_after_header(exc))


async def respond_json(
    send: Send, status: int, document: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> int:
    """`document` as JSON, or as problem+json when `status` is an error."""
    media_type = _JSON if status < 400 else _PROBLEM_JSON
    return await respond(send, status, encode_json(document), media_type, headers)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    media_type: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> int:
    """Send a complete response; returns its status for the metrics."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
    return status

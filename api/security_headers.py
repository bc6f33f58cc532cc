"""Security headers on every answer, and a request id in every log line of the request.

`ResponseHeaders` wraps the whole application (BoxofficeApp calls it first), so what it adds
holds for the documented handlers, Litestar's own errors (404, 405, 413, ...), the hot paths
that write their responses themselves (api/hot_paths.py) and the pages alike:

- `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` on every answer;
- `X-Request-ID`: the client's own when it is sane (1-128 token characters), otherwise a
  new one; it is also in `REQUEST_ID` while the request runs, so each JSON log line of the
  request carries it (ops/logs.py);
- `Content-Security-Policy` on HTML: the pages load only their own scripts and styles and may
  not be framed; the API docs under /schema (api/docs_pages.py) load only this server's
  vendored Swagger UI and Scalar too, but need the inline scripts and styles those render;
- `Strict-Transport-Security` when HSTS_SECONDS is set (the API is served over TLS);
- an exception that escapes before anything was sent is logged and answered as a 500
  problem+json, rather than uvicorn's plain-text one without these headers;
- the access log line of the answer (api/access_log.py), written with the id still set; the
  one send wrapper here shows each message to the access log's record of the answer.

It runs on every claim, so it allocates little: the constant headers are built once, the
request id of a request without one is a per-process prefix and a counter.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
from typing import Any

from api.access_log import AccessLog
from api.hot_paths import ASGIApp, Message, Receive, Scope, Send, respond
from api.problems import PROBLEM_JSON
from ops.logs import REQUEST_ID

log = logging.getLogger("boxoffice.api")

# RFC 9110 token characters, and / = : @ that tracing systems put in their ids
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9!#$%&'*+.^_`|~/=:@-]{1,128}")
_ID_PREFIX = secrets.token_hex(6).encode()
_id_counter = itertools.count(1)

PAGE_POLICY = (
    b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    b"object-src 'none'"
)
DOCS_POLICY = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
    b"object-src 'none'"
)
DOCS_PATH = "/schema"

_INTERNAL_ERROR = (
    b'{"type":"https://boxoffice.dev/problems/internal_error","title":"Internal error",'
    b'"status":500,"detail":"The server failed to handle this request; it has been logged.",'
    b'"code":"internal_error"}'
)
_PROBLEM = PROBLEM_JSON.encode()


def new_request_id() -> bytes:
    """Unique across processes (a random prefix per process), cheaper than uuid4."""
    return b"%s%x" % (_ID_PREFIX, next(_id_counter))


def request_id_of(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The client's X-Request-ID when it is sane, otherwise a new one."""
    for name, value in headers:
        if name == b"x-request-id":
            if _SANE_REQUEST_ID.fullmatch(value):
                return value
            break
    return new_request_id()


class ResponseHeaders:
    def __init__(self, hsts_seconds: int = 0, access_log: AccessLog | None = None) -> None:
        common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
        if hsts_seconds > 0:
            common.append((b"strict-transport-security", b"max-age=%d" % hsts_seconds))
        self.common: tuple[tuple[bytes, bytes], ...] = tuple(common)
        self.access_log = access_log  # api/access_log.py: its lines carry the request id

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        request_id = request_id_of(scope["headers"])
        context = REQUEST_ID.set(request_id)
        added = (*self.common, (b"x-request-id", request_id))
        access_log = self.access_log
        answer = None if access_log is None else access_log.begin(scope)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [*message.get("headers", ()), *added]
                if _is_html(headers):
                    headers.append((b"content-security-policy", _policy_of(scope["path"])))
                message["headers"] = headers
            if answer is not None:
                answer.see(message)
            await send(message)

        try:
            await app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started:  # half an answer: uvicorn closes the connection
                raise
            await respond(send_with_headers, 500, _INTERNAL_ERROR, _PROBLEM)
        finally:
            if access_log is not None and answer is not None:
                access_log.finish(scope, answer)  # with the request id still set
            REQUEST_ID.reset(context)


def _policy_of(path: str) -> bytes:
    return DOCS_POLICY if path.startswith(DOCS_PATH) else PAGE_POLICY


def _is_html(headers: list[Any]) -> bool:
    for name, value in headers:
        if name == b"content-type":  # ASGI: response header names are lowercase
            return bool(value.startswith(b"text/html"))
    return False

"""The response-headers wrapper (api/security_headers.py) on a bare ASGI app: what it adds,
which request ids it keeps, HSTS only when configured, an escaped exception as a 500
problem+json, and the request id in the JSON log lines written meanwhile."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from api.security_headers import ResponseHeaders, request_id_of
from ops.logs import REQUEST_ID, JsonFormatter

Sent = list[dict[str, Any]]


def http_scope(path: str = "/x", *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "headers": list(headers)}


async def no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def answering(content_type: bytes, then: Exception | None = None) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        logging.getLogger("boxoffice.test").warning("answering")
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", content_type)],
            }
        )
        if then is not None:
            raise then
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def call(
    wrapper: ResponseHeaders, app: Any, scope: dict[str, Any]
) -> tuple[Sent, dict[bytes, bytes]]:
    sent: Sent = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await wrapper(scope, no_body, send, app)
    return sent, dict(sent[0]["headers"])


async def test_every_answer_gets_the_headers_and_html_a_policy() -> None:
    _, json_headers = await call(ResponseHeaders(), answering(b"application/json"), http_scope())
    assert json_headers[b"x-content-type-options"] == b"nosniff"
    assert json_headers[b"referrer-policy"] == b"no-referrer"
    assert json_headers[b"x-request-id"]
    assert b"content-security-policy" not in json_headers
    assert b"strict-transport-security" not in json_headers

    _, page = await call(ResponseHeaders(), answering(b"text/html; charset=utf-8"), http_scope())
    assert b"default-src 'self'" in page[b"content-security-policy"]
    assert b"frame-ancestors 'none'" in page[b"content-security-policy"]
    _, docs = await call(ResponseHeaders(), answering(b"text/html"), http_scope("/schema/swagger"))
    # the docs pages load only this server's vendored assets (api/docs_pages.py)
    assert docs[b"content-security-policy"].startswith(b"default-src 'self'; ")
    assert b"frame-ancestors 'none'" in docs[b"content-security-policy"]


async def test_hsts_only_when_configured() -> None:
    _, headers = await call(
        ResponseHeaders(hsts_seconds=31536000), answering(b"text/plain"), http_scope()
    )
    assert headers[b"strict-transport-security"] == b"max-age=31536000"


@pytest.mark.parametrize(
    "given",
    [b"", b"a" * 129, b"two words", b"line\r\nbreak", b"\xff\xfe", b'quote"d', b"<script>"],
)
def test_an_insane_request_id_is_replaced(given: bytes) -> None:
    chosen = request_id_of([(b"x-request-id", given)])
    assert chosen != given
    assert 8 < len(chosen) <= 32 and chosen.isalnum()


@pytest.mark.parametrize("given", [b"abc", b"0f8fad5b-d9cb-469f-a165-70867728950e", b"a" * 128])
def test_a_sane_request_id_is_kept(given: bytes) -> None:
    assert request_id_of([(b"x-request-id", given)]) == given


def test_generated_request_ids_are_unique() -> None:
    assert len({request_id_of([]) for _ in range(10_000)}) == 10_000


async def test_log_lines_of_the_request_carry_its_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("boxoffice.test")
    logger.addHandler(handler)
    try:
        scope = http_scope("/x", (b"x-request-id", b"trace-42"))
        _, headers = await call(ResponseHeaders(), answering(b"application/json"), scope)
        logger.warning("after the request")
    finally:
        logger.removeHandler(handler)
    during, after = (json.loads(line) for line in stream.getvalue().splitlines())
    assert headers[b"x-request-id"] == b"trace-42"
    assert during["request_id"] == "trace-42"
    assert "request_id" not in after
    assert REQUEST_ID.get() is None


async def test_an_exception_before_the_answer_is_a_500_problem_with_the_headers() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    sent, headers = await call(ResponseHeaders(), failing, http_scope())
    assert sent[0]["status"] == 500
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert json.loads(sent[1]["body"])["code"] == "internal_error"


async def test_an_exception_after_the_answer_started_is_raised_for_the_server() -> None:
    with pytest.raises(RuntimeError):
        await call(ResponseHeaders(), answering(b"text/plain", RuntimeError("late")), http_scope())

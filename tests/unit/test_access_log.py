"""Access log lines: every answer of the ordinary routes and every 5xx, a share of the hot
paths' others; ticket codes kept out; uvicorn's colours and ARQ's text turned into fields."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from api.access_log import AccessLog, action_of, logged_path
from api.security_headers import ResponseHeaders
from ops.logs import ArqFields, JsonFormatter


def scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": [], "client": ("1.2.3.4", 5)}


def answering(status: int, body: bytes = b"{}", media: bytes = b"application/json") -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", media)]}
        )
        await send({"type": "http.response.body", "body": body})

    return app


async def ignore(message: Any) -> None:
    return None


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def logged(
    access: AccessLog, method: str, path: str, app: Any, caplog: pytest.LogCaptureFixture
) -> list[logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="boxoffice.access"):
        await ResponseHeaders(access_log=access)(scope(method, path), receive, ignore, app)
    return [r for r in caplog.records if r.name == "boxoffice.access"]


async def test_hot_paths_are_sampled_and_errors_are_not(caplog: pytest.LogCaptureFixture) -> None:
    never = AccessLog(hot_sample=0.0)
    assert await logged(never, "POST", "/orders", answering(201), caplog) == []
    assert await logged(never, "GET", "/events/7/queue", answering(200), caplog) == []
    problem = b'{"code":"sold_out","status":409}'
    sold_out = answering(409, problem, b"application/problem+json")
    assert await logged(never, "POST", "/orders", sold_out, caplog) == []
    (failed,) = await logged(never, "POST", "/orders", answering(503), caplog)
    assert failed.levelno == logging.WARNING
    (ordinary,) = await logged(never, "GET", "/events", answering(200), caplog)
    assert ordinary.status == 200 and not hasattr(ordinary, "sampled")

    always = AccessLog(hot_sample=1.0)
    (claim,) = await logged(always, "POST", "/orders", sold_out, caplog)
    assert (claim.code, claim.sampled) == ("sold_out", 1.0)


async def test_an_exception_is_logged_as_a_500(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    (line,) = await logged(AccessLog(0.0), "POST", "/tickets/validate", broken, caplog)
    assert line.status == 500 and line.levelno == logging.WARNING


class Lines(logging.Handler):
    """The lines as written: formatted when logged, while the request's id is set."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_a_line_carries_the_request_id() -> None:
    asked = scope("GET", "/events")
    asked["headers"] = [(b"x-request-id", b"trace-42")]
    lines, logger = Lines(), logging.getLogger("boxoffice.access")
    logger.addHandler(lines)
    level, logger.level = logger.level, logging.INFO
    try:
        await ResponseHeaders(access_log=AccessLog(0.0))(asked, receive, ignore, answering(200))
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    (line,) = lines.lines
    assert (line["request_id"], line["status"], line["path"]) == ("trace-42", 200, "/events")


def test_actions_and_paths() -> None:
    assert action_of("POST", "/orders") == "claim"
    assert action_of("POST", "/orders/abc/pay") == "pay"
    assert action_of("POST", "/orders/abc/cancel") == "cancel"
    assert action_of("POST", "/tickets/validate") == "scan"
    assert action_of("POST", "/tickets/123456/validate") == "scan"
    assert action_of("GET", "/orders/abc") is None
    assert logged_path("/tickets/123456/validate") == "/tickets/{code}/validate"


def format_record(msg: str, args: tuple[Any, ...], **extra: Any) -> dict[str, Any]:
    record = logging.LogRecord("arq.worker", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    ArqFields().filter(record)
    return dict(json.loads(JsonFormatter().format(record)))


def test_arq_lines_become_fields_and_colours_go() -> None:
    done = format_record("%6.2fs ← %s ● %s", (0.25, "ord-1-abc:persist_order", "'persisted'"))
    assert done["arq_event"] == "job_completed"
    assert (done["job_id"], done["function"], done["seconds"]) == (
        "ord-1-abc",
        "persist_order",
        0.25,
    )
    retry = format_record("%6.2fs ↻ %s retrying job in %0.2fs", (1.0, "x:persist_order", 2.0))
    assert (retry["arq_event"], retry["retry_in_seconds"]) == ("job_retrying", 2.0)
    cron = format_record("%6.2fs → %s(%s)%s", (0.0, "cron:reconcile", "", ""))
    assert (cron["job_id"], cron["function"]) == ("cron", "reconcile")
    plain = format_record("Started %s", ("x",), color_message="\x1b[32mStarted\x1b[0m")
    assert "color_message" not in plain and "arq_event" not in plain

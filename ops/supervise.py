"""Supervision for `make run`: a process that exits is started again, with backoff.

Each supervised thing (the API, the worker, an embedded PostgreSQL or Valkey) is a
`Supervised`: how to start it and how to tell whether it still runs. `Supervisor.check`,
called a few times a second by the launcher, logs every exit (which process, exit code or
signal, the delay before the next start) and every start (with the new pid). The delay
starts at `Backoff.first_s` and doubles with each exit up to `Backoff.max_s`; a process that
stayed up `Backoff.stable_s` starts again from the first delay.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("boxoffice.stack")


@dataclass
class Backoff:
    first_s: float = 0.5
    max_s: float = 30.0
    stable_s: float = 10.0
    _next_s: float = field(default=0.0, init=False)

    def delay_after(self, uptime_s: float) -> float:
        """Seconds to wait before starting again a process that ran `uptime_s`."""
        if uptime_s >= self.stable_s or self._next_s == 0.0:
            self._next_s = self.first_s
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        return delay


def describe_exit(code: int | None) -> str | None:
    """None while running (code None), else 'exit code 1' or 'killed by SIGKILL'."""
    if code is None:
        return None
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class RestartFailed(RuntimeError):
    """A supervised thing could not be started again; the launcher stops everything."""


@dataclass
class Supervised:
    """`start` starts it and returns its pid; `exited` is None while it runs, else how it
    ended ('exit code 1', 'killed by SIGKILL', ...)."""

    name: str
    start: Callable[[], int | None]
    exited: Callable[[], str | None]
    backoff: Backoff = field(default_factory=Backoff)
    pid: int | None = None
    started_at: float = 0.0
    restart_at: float | None = None


class Supervisor:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.supervised: list[Supervised] = []
        self._clock = clock

    def launch(self, item: Supervised) -> None:
        self.supervised.append(item)
        self._start(item)

    def watch(self, item: Supervised, pid: int | None) -> None:
        """Supervise something started already (an embedded server)."""
        item.pid, item.started_at = pid, self._clock()
        self.supervised.append(item)
        log.info(
            "%s supervised (pid %s)",
            item.name,
            pid,
            extra={"child": item.name, "pid": pid, "restarted": False},
        )

    def check(self) -> None:
        """Note exits and start again what is due; RestartFailed if a start fails."""
        now = self._clock()
        for item in self.supervised:
            if item.restart_at is None:
                how = item.exited()
                if how is not None:
                    self._exited(item, how, now)
            if item.restart_at is not None and item.restart_at <= now:
                self._start(item)

    def _exited(self, item: Supervised, how: str, now: float) -> None:
        delay = item.backoff.delay_after(now - item.started_at)
        item.restart_at = now + delay
        log.error(
            "%s (pid %s) exited: %s; restarting in %gs",
            item.name,
            item.pid,
            how,
            delay,
            extra={"child": item.name, "pid": item.pid, "exit": how, "restart_in_s": delay},
        )

    def _start(self, item: Supervised) -> None:
        restart = item.restart_at is not None
        try:
            item.pid = item.start()
        except Exception as exc:
            raise RestartFailed(f"{item.name} could not be started: {exc}") from exc
        item.started_at = self._clock()
        item.restart_at = None
        log.info(
            "%s %s (pid %s)",
            item.name,
            "restarted" if restart else "started",
            item.pid,
            extra={"child": item.name, "pid": item.pid, "restarted": restart},
        )

"""Where the machine's CPU went during a load test, by role (API, workers, Locust, Redis,
PostgreSQL, anything else), read from /proc: so a report can say whether the server, the
load generator or something else on the machine was the limit."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

ROLES = (
    ("harness", "loadtests.run_loadtest"),
    ("api", "uvicorn"),
    ("workers", "-m workers"),
    ("locust", "locust"),
    ("redis", "valkey-server"),
    ("redis", "redis-server"),
    ("postgres", "postgres"),
)
_TICK = os.sysconf("SC_CLK_TCK")


def role_of(cmdline: str) -> str:
    for role, marker in ROLES:
        if marker in cmdline:
            return role
    return "other"


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """Each live process's role and the CPU seconds it has used so far."""
    used: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        used[int(entry.name)] = (role_of(cmdline), (int(stat[11]) + int(stat[12])) / _TICK)
    return used


class CpuSampler(threading.Thread):
    """Samples every process's CPU use once a second; `shares()` gives the mean share of one
    core each role used over the run. A process is counted from the first sample that sees
    it (all it used before, if it started meanwhile) to the last."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, dict[int, tuple[str, float]]]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((time.monotonic(), cpu_by_process()))
            self._stop_event.wait(1.0)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)

    def shares(self) -> dict[str, float]:
        """Mean share of one core per role over the run (1.0: one core busy throughout)."""
        totals: dict[str, float] = {}
        span = 0.0
        for (t0, before), (t1, after) in zip(self.samples, self.samples[1:], strict=False):
            span += t1 - t0
            for pid, (role, used) in after.items():
                totals[role] = totals.get(role, 0.0) + used - before.get(pid, (role, 0.0))[1]
        return {role: round(used / span, 2) for role, used in totals.items()} if span else {}


def cpu_seconds(pid: int) -> float:
    """The CPU seconds (user + system) process `pid` has used so far; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(stat[11]) + int(stat[12])) / _TICK


def role_of_pid(pid: int) -> str | None:
    """The role of process `pid` (see ROLES), or None if there is no such process."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return None
    return role_of(cmdline.decode(errors="replace"))

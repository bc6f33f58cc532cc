"""The login figure of `make bench`: `POST /auth/login` with real argon2id hashes, as many at
once as the load generator's connections, against one API process; and what one verify
costs, so the figure can be held to the machine: the goal is 0.8 x cores / verify time
(every core verifying all the time, less a fifth for the rest of the request). The verify
time is its CPU time (the thread's own, one verify at a time in this process): on a shared
machine the wall time of a verify grows with whatever else runs, its CPU time does not;
the wall time is kept beside it."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher

from engine.settings import Settings
from engine.store.resources import Resources

LOGIN_PASSWORD = "bench-login-password"
LOGIN_USERS = 500  # more than the connections: no e-mail is in flight twice at once


@dataclass(frozen=True)
class Argon2Cost:
    """The argon2id parameters of this run, and one verify's time on one core."""

    time_cost: int
    memory_kib: int
    verify_ms: float  # CPU time of one verify
    verify_wall_ms: float
    cores: int
    threads: int

    @property
    def goal_per_s(self) -> float:
        return 0.8 * self.cores / (self.verify_ms / 1000)

    def describe(self) -> str:
        return (
            f"argon2id t={self.time_cost}, m={self.memory_kib} KiB, p=1; one verify "
            f"{self.verify_ms:.1f} ms of CPU ({self.verify_wall_ms:.1f} ms of wall time; "
            "medians of the bench's own, one at a time); "
            f"{self.cores} cores, {self.threads} verify threads in the API process; "
            f"goal 0.8 x {self.cores} / {self.verify_ms / 1000:.4f} s = {self.goal_per_s:,.0f}/s"
        )


async def login_requests(resources: Resources, customers: list[int]) -> list[dict[str, Any]]:
    """One login a customer, for LOGIN_USERS customers given one real password hash."""
    users = customers[:LOGIN_USERS]
    password_hash = await resources.passwords.hash(LOGIN_PASSWORD)
    await resources.pool.execute(
        "UPDATE users SET password_hash = $1 WHERE id = ANY($2)", password_hash, users
    )
    rows = await resources.pool.fetch("SELECT email FROM users WHERE id = ANY($1)", users)
    return [
        {
            "method": "POST",
            "path": "/auth/login",
            "body": {"email": row["email"], "password": LOGIN_PASSWORD},
        }
        for row in rows
    ]


def argon2_cost(settings: Settings, verifies: int = 15) -> Argon2Cost:
    """Time `verifies` verifies one after the other in this process, as the API makes them."""
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib, parallelism=1
    )
    password_hash = hasher.hash(LOGIN_PASSWORD)
    cpu, wall = [], []
    for _ in range(verifies):
        started, started_cpu = time.perf_counter(), time.thread_time()
        hasher.verify(password_hash, LOGIN_PASSWORD)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return Argon2Cost(
        settings.argon2_time_cost,
        settings.argon2_memory_kib,
        statistics.median(cpu),
        statistics.median(wall),
        os.cpu_count() or 1,
        settings.password_threads,
    )

"""Start and kill real worker processes (`python -m workers`) for fault tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable

import asyncpg
from redis.asyncio import Redis

from engine import keys
from engine.settings import ROOT
from tests.services import RUN_DATA


def start_worker(**env: str) -> subprocess.Popen[bytes]:
    """A worker process; its log goes to the test run's folder for post-mortems."""
    full_env = {**os.environ, "LOG_LEVEL": "WARNING", **env}
    RUN_DATA.mkdir(parents=True, exist_ok=True)
    with open(RUN_DATA / "workers.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "workers"],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def kill(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    process.wait(10)


async def wait_for_status(
    pool: asyncpg.Pool, order_ids: Iterable[str], status: str, within: float
) -> int:
    """Wait until every order has `status` in PostgreSQL; return how many do at the end."""
    ids = list(order_ids)
    deadline = time.monotonic() + within
    done = 0
    while time.monotonic() < deadline:
        done = await pool.fetchval(
            "SELECT count(*) FROM orders WHERE id = ANY($1) AND status = $2", ids, status
        )
        if done == len(ids):
            break
        await asyncio.sleep(0.2)
    return int(done)


async def wait_until_started(redis: Redis, within: float = 30) -> None:
    """Wait until a worker started after `forget_started` has finished its start-up (ARQ
    writes its health-check key then), so a fault injected next hits a running worker."""
    deadline = time.monotonic() + within
    while not await redis.exists(keys.ARQ_HEALTH_CHECK):
        if time.monotonic() > deadline:
            raise AssertionError(f"no worker finished its start-up within {within} s")
        await asyncio.sleep(0.1)


async def forget_started(redis: Redis) -> None:
    await redis.delete(keys.ARQ_HEALTH_CHECK)

"""A private stack for benchmarks and load tests: its own database (and embedded servers
when no URLs are given), the API and worker processes, all stopped afterwards; and the load
generator's driver (`http_load`) the benchmarks share."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from api.process_metrics import launch_environment
from engine.settings import ROOT, load_stack_settings, reset_settings
from engine.store.migrate import apply_migrations
from ops.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedRedisCluster,
    die_with_parent,
    free_port,
)
from ops.stack import api_arguments

# The benchmarks' buyers are scripts: 2,000 customers making 5-10 claims a second each, and
# every request from 127.0.0.1. Under them the request-rate buckets are still checked (their
# cost is part of every figure) but sized never to be met. `make loadtest` keeps the
# defaults: its buyers pace like people and each has an address (X-Forwarded-For).
UNMET_RATE_LIMITS = {
    name: "1000000/1"
    for name in (
        "RATE_LIMIT_CLAIMS_PER_CUSTOMER",
        "RATE_LIMIT_CLAIMS_PER_ADDRESS",
        "RATE_LIMIT_QUEUE_PER_CUSTOMER",
        "RATE_LIMIT_PAY_PER_CUSTOMER",
        "RATE_LIMIT_LOGIN_PER_ADDRESS",
        "RATE_LIMIT_REGISTER_PER_ADDRESS",
    )
}


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


class BenchStack:
    """Embedded servers and the API for a benchmark or load test; `unmet_rate_limits` for
    the benchmarks (see UNMET_RATE_LIMITS)."""

    def __init__(
        self, name: str, unmet_rate_limits: bool = False, redis_cluster: bool = False
    ) -> None:
        if unmet_rate_limits:
            os.environ.update(UNMET_RATE_LIMITS)  # before start() reads the settings
        self.data = ROOT / ".data" / name / f"run-{os.getpid()}"
        self.pg: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None
        # with `redis_cluster`: the sale's Redis Cluster, and `redis` is the job queue's
        self.redis_cluster = redis_cluster
        self.cluster: EmbeddedRedisCluster | None = None
        self.server_dsn = ""
        self.database = f"bx_{name}_{uuid.uuid4().hex[:8]}"
        self.children: list[subprocess.Popen[bytes]] = []
        self.port = 0

    def start(self) -> None:
        given = load_stack_settings()
        self.server_dsn = given.database_url or ""
        if not self.server_dsn:
            self.pg = EmbeddedPostgres(self.data / "pg")
            self.server_dsn = self.pg.start()
        redis_url = given.redis_url or ""
        if self.redis_cluster:
            redis_url = self._start_cluster(redis_url, given.redis_appendfsync)
        elif not redis_url:
            self.redis = EmbeddedRedis(self.data / "redis", appendfsync=given.redis_appendfsync)
            redis_url = self.redis.start()
        database_url = _with_path(self.server_dsn, f"/{self.database}")
        asyncio.run(self._create_database())
        asyncio.run(apply_migrations(database_url))
        os.environ.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            BOXOFFICE_DATA_DIR=str(self.data),
            LOG_LEVEL="WARNING",
        )
        if not self.redis_cluster:
            os.environ.pop("QUEUE_REDIS_URL", None)
            os.environ.pop("REDIS_CLUSTER", None)
        reset_settings()

    def _start_cluster(self, given_url: str, appendfsync: str) -> str:
        """The sale's Redis Cluster (the one given, or 3 embedded masters with a replica
        each, payments acknowledged once a replica has them) and a standalone Redis for the
        job queue unless QUEUE_REDIS_URL names one. Returns the cluster's URL."""
        os.environ["REDIS_CLUSTER"] = "1"
        if not os.environ.get("QUEUE_REDIS_URL"):
            self.redis = EmbeddedRedis(self.data / "queue-redis", appendfsync=appendfsync)
            os.environ["QUEUE_REDIS_URL"] = self.redis.start()
        if given_url:
            return given_url
        self.cluster = EmbeddedRedisCluster(
            self.data / "redis-cluster", masters=3, replicas=1, appendfsync=appendfsync
        )
        os.environ.setdefault("REDIS_PAYMENT_REPLICAS", "1")
        return self.cluster.start()

    async def _create_database(self) -> None:
        conn = await asyncpg.connect(self.server_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await conn.close()

    def _spawn(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        self.data.mkdir(parents=True, exist_ok=True)
        with open(self.data / "processes.log", "ab") as log:
            child = subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=log,
                stderr=log,
                preexec_fn=die_with_parent,
            )
        self.children.append(child)
        return child

    def start_api(self, workers: int = 1, app: str = "api.app:create_app", **env: str) -> str:
        """Serve `app` (a uvicorn factory, e.g. loadtests.pg_lock_baseline:create_app)."""
        self.port = free_port()
        metrics = launch_environment(self.data / f"api-metrics-{self.port}", workers)
        self._spawn(
            *api_arguments("127.0.0.1", self.port, workers, app),
            "--log-level",
            "warning",
            **metrics,
            **env,
        )
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/ready", timeout=1) as response:
                    if response.status == 200:
                        return base
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the API did not start; see {self.data / 'processes.log'}")

    def start_worker(self) -> subprocess.Popen[bytes]:
        return self._spawn("-m", "workers")

    def stop_children(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
        self.children.clear()

    def stop(self) -> None:
        self.stop_children()
        asyncio.run(self._drop_database())
        if self.redis:
            self.redis.stop()
        if self.cluster:
            self.cluster.stop()
        if self.pg:
            self.pg.stop()
        shutil.rmtree(self.data, ignore_errors=True)

    async def _drop_database(self) -> None:
        conn = await asyncpg.connect(self.server_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        finally:
            await conn.close()


class NoJobQueue:
    """A persist queue that drops the jobs: for claims measured without workers."""

    async def persist_paid(self, order_id: str) -> None:
        return None


def http_load(
    port: int, requests: list[dict[str, Any]], seconds: float, repeat: bool, connections: int = 64
) -> dict[str, Any]:
    """One run of loadtests/http_load.py in its own process; its JSON summary."""
    return run_load_module(
        "loadtests.http_load",
        [json.dumps(r) for r in requests],
        "--requests",
        *("--port", str(port), "--connections", str(connections), "--seconds", str(seconds)),
        *(["--repeat"] if repeat else []),
    )


def run_load_module(module: str, lines: list[str], file_flag: str, *args: str) -> dict[str, Any]:
    """`python -m module file_flag FILE *args` in its own process, FILE holding `lines`; the
    JSON summary it prints. The file is one of its own: other benchmark runs in this tree may
    be loading at the same time."""
    with tempfile.NamedTemporaryFile("w", suffix=".lines", delete=False) as file:
        file.write("\n".join(lines))
    path = Path(file.name)
    try:
        output = subprocess.run(
            [sys.executable, "-m", module, file_flag, str(path), *args],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        path.unlink()
    result: dict[str, Any] = json.loads(output)
    return result


def results_dir() -> Path:
    path = ROOT / "reports"
    path.mkdir(exist_ok=True)
    return path

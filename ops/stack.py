"""`make run`: start the whole stack in the foreground and stop all of it on Ctrl-C / SIGTERM.

When DATABASE_URL / REDIS_URL are not set, embedded PostgreSQL and Valkey are started under
`.data/` first. Then migrations run, and the API (uvicorn) and the ARQ worker are started as
child processes. Everything started here is supervised (ops/supervise.py): an API or worker
process that exits, and an embedded server that stops, is started again after a delay
(0.5 s, doubling to 30 s, back to 0.5 s once it stayed up 10 s), each exit and start logged
with the process name and pid. Only Ctrl-C / SIGTERM stops the stack: children are
terminated (killed after 15 s), then the embedded servers are stopped; a child dies with
this process if it is killed. An embedded server that cannot be started again (its log
says why) stops the whole stack with an error, as nothing works without it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from api.process_metrics import launch_environment
from engine.settings import ROOT, StackSettings, get_settings, load_stack_settings
from engine.store.migrate import apply_migrations
from ops.embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedRedisCluster, die_with_parent
from ops.logs import configure_logging
from ops.supervise import RestartFailed, Supervised, Supervisor, describe_exit

log = logging.getLogger("boxoffice.stack")


class Stack:
    def __init__(self, data_dir: Path, settings: StackSettings | None = None) -> None:
        self.data_dir = data_dir
        self._settings = settings
        self.embedded_pg: EmbeddedPostgres | None = None
        self.embedded_redis: EmbeddedRedis | None = None
        self.embedded_cluster: EmbeddedRedisCluster | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.supervisor = Supervisor()

    @property
    def settings(self) -> StackSettings:
        """Read from the environment once, when first needed."""
        if self._settings is None:
            self._settings = load_stack_settings()
        return self._settings

    def start_services(self) -> None:
        """Start the servers the environment does not name. Their URLs go into the environment
        (the plain names, which win over BOXOFFICE_ ones), where get_settings() and the child
        processes read them."""
        if not self.settings.database_url:
            self.embedded_pg = EmbeddedPostgres(self.data_dir / "pg")
            os.environ["DATABASE_URL"] = self.embedded_pg.start()
            log.info("embedded PostgreSQL started", extra={"url": os.environ["DATABASE_URL"]})
        if self.settings.redis_cluster:
            self._start_cluster()
        elif not self.settings.redis_url:
            self.embedded_redis = EmbeddedRedis(
                self.data_dir / "redis", appendfsync=self.settings.redis_appendfsync
            )
            os.environ["REDIS_URL"] = self.embedded_redis.start()
            log.info("embedded Valkey started", extra={"url": os.environ["REDIS_URL"]})

    def _start_cluster(self) -> None:
        """REDIS_CLUSTER=1: the sale's Redis is a cluster (REDIS_URL's, or 3 embedded masters
        with a replica each, started afresh: its slot map names this run's ports) and the
        job queue a standalone Redis (QUEUE_REDIS_URL's, or the embedded one)."""
        if not os.environ.get("QUEUE_REDIS_URL"):
            self.embedded_redis = EmbeddedRedis(
                self.data_dir / "redis", appendfsync=self.settings.redis_appendfsync
            )
            os.environ["QUEUE_REDIS_URL"] = self.embedded_redis.start()
            log.info("embedded Valkey started", extra={"url": os.environ["QUEUE_REDIS_URL"]})
        if self.settings.redis_url:
            return
        folder = self.data_dir / "redis-cluster"
        shutil.rmtree(folder, ignore_errors=True)
        self.embedded_cluster = EmbeddedRedisCluster(
            folder, masters=3, replicas=1, appendfsync=self.settings.redis_appendfsync
        )
        os.environ["REDIS_URL"] = self.embedded_cluster.start()
        os.environ.setdefault("REDIS_PAYMENT_REPLICAS", "1")
        log.info("embedded Redis Cluster started", extra={"url": os.environ["REDIS_URL"]})

    def supervise_services(self) -> None:
        """Watch the embedded servers started above; one that stops is started again (same
        data folder and address, so the API and the worker reconnect to it)."""
        if (pg := self.embedded_pg) is not None:

            def start_pg() -> int | None:
                pg.start_after_crash()
                return pg.pid()

            self.supervisor.watch(
                Supervised(
                    "postgres",
                    start_pg,
                    exited=lambda: None if pg.pid() else "no longer running",
                ),
                pg.pid(),
            )
        if (redis := self.embedded_redis) is not None:
            self._watch_valkey("valkey", redis)
        cluster_nodes = self.embedded_cluster.nodes if self.embedded_cluster else None
        for index, node in enumerate(cluster_nodes or []):
            # a node started again rejoins the cluster (its nodes.conf), as a replica if
            # its replica took over meanwhile
            self._watch_valkey(f"valkey-cluster-{index}", node)

    def _watch_valkey(self, name: str, redis: EmbeddedRedis) -> None:
        def start_redis() -> int | None:
            redis.start()
            return redis.pid()

        self.supervisor.watch(
            Supervised(name, start_redis, exited=lambda: describe_exit(redis.exit_code())),
            redis.pid(),
        )

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        def start() -> int:
            child = subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env={**os.environ, **env} if env else None,
                preexec_fn=die_with_parent,
            )
            self.children[name] = child
            return child.pid

        self.supervisor.launch(
            Supervised(name, start, exited=lambda: describe_exit(self.children[name].poll()))
        )

    def start_processes(self) -> None:
        settings = get_settings()
        processes = self.settings.web_concurrency
        self.spawn(
            "api",
            *api_arguments(settings.host, settings.port, processes),
            env=launch_environment(self.data_dir / "api-metrics", processes),
        )
        if (ROOT / "workers" / "settings.py").exists():
            self.spawn("worker", "-m", "workers")

    def wait_ready(self, timeout: float = 60.0) -> bool:
        settings = get_settings()
        url = f"http://{settings.host}:{settings.port}/ready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.supervisor.check()
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return True
            except OSError:
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        for child in self.children.values():
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.embedded_redis:
            self.embedded_redis.stop()
        if self.embedded_cluster:
            self.embedded_cluster.stop()
        if self.embedded_pg:
            self.embedded_pg.stop()
        log.info("stack stopped")


def api_arguments(
    host: str, port: int, workers: int = 1, app: str = "api.app:create_app"
) -> list[str]:
    """The API's command line after `python`, for `make run` and the benchmarks alike;
    `--no-server-header` drops `server: uvicorn`, which tells an attacker what to look up
    (the Dockerfile and docker-compose.yml match)."""
    return [
        *("-m", "uvicorn", app, "--factory"),
        *("--host", host, "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools"),
        *("--no-access-log", "--no-server-header", "--workers", str(workers)),
    ]


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(after_ready: Callable[[str], str] | None = None) -> int:
    """The stack until Ctrl-C; `after_ready(base_url)`, once the API answers, returns text
    to print (`make demo` seeds its data there, ops/demo.py)."""
    launch = load_stack_settings()
    configure_logging(launch.log_level)
    started = time.monotonic()
    stack = Stack(launch.data_dir, launch)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        stack.start_services()
        stack.supervise_services()
        applied = asyncio.run(apply_migrations(get_settings().database_url))
        log.info("migrations applied", extra={"applied": applied})
        stack.start_processes()
        if not stack.wait_ready():
            log.error("the API did not become ready")
            return 1
        settings = get_settings()
        base = f"http://{settings.host}:{settings.port}"
        print(
            f"\nboxoffice is ready in {time.monotonic() - started:.1f}s\n"
            f"  API      {base}\n  docs     {base}/schema/swagger  ·  {base}/schema/scalar\n"
            f"  metrics  {base}/metrics\n"
            f"  postgres {settings.database_url}\n  redis    {settings.redis_url}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        if after_ready is not None:
            print(after_ready(base), flush=True)
        while True:
            stack.supervisor.check()
            time.sleep(0.2)
    except RestartFailed as exc:
        log.error("%s; stopping the stack", exc)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(run())

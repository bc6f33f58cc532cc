"""`make run`: start the whole stack in the foreground and stop all of it on Ctrl-C / SIGTERM.

When DATABASE_URL / REDIS_URL are not set, embedded PostgreSQL and Valkey are started under
`.data/` first. Then migrations run, and the API (uvicorn) and the ARQ worker are started as
child processes. Every child is stopped on exit, and dies with this process if it is killed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from engine.settings import ROOT, get_settings, redis_appendfsync
from engine.store.migrate import apply_migrations
from ops.embedded import EmbeddedPostgres, EmbeddedRedis, die_with_parent
from ops.logs import configure_logging

log = logging.getLogger("boxoffice.stack")


class Stack:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.embedded_pg: EmbeddedPostgres | None = None
        self.embedded_redis: EmbeddedRedis | None = None
        self.children: list[subprocess.Popen[bytes]] = []

    def start_services(self) -> None:
        if not os.environ.get("DATABASE_URL"):
            self.embedded_pg = EmbeddedPostgres(self.data_dir / "pg")
            os.environ["DATABASE_URL"] = self.embedded_pg.start()
            log.info("embedded PostgreSQL started", extra={"url": os.environ["DATABASE_URL"]})
        if not os.environ.get("REDIS_URL"):
            self.embedded_redis = EmbeddedRedis(
                self.data_dir / "redis", appendfsync=redis_appendfsync()
            )
            os.environ["REDIS_URL"] = self.embedded_redis.start()
            log.info("embedded Valkey started", extra={"url": os.environ["REDIS_URL"]})

    def spawn(self, *args: str) -> None:
        self.children.append(
            subprocess.Popen([sys.executable, *args], cwd=ROOT, preexec_fn=die_with_parent)
        )

    def start_processes(self) -> None:
        settings = get_settings()
        self.spawn(
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            settings.host,
            "--port",
            str(settings.port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--workers",
            os.environ.get("WEB_CONCURRENCY", "1"),
        )
        if (ROOT / "workers" / "settings.py").exists():
            self.spawn("-m", "workers")

    def wait_ready(self, timeout: float = 60.0) -> bool:
        settings = get_settings()
        url = f"http://{settings.host}:{settings.port}/ready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(child.poll() is not None for child in self.children):
                return False
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return True
            except OSError:
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.embedded_redis:
            self.embedded_redis.stop()
        if self.embedded_pg:
            self.embedded_pg.stop()
        log.info("stack stopped")


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run() -> int:
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    started = time.monotonic()
    stack = Stack(Path(os.environ.get("BOXOFFICE_DATA_DIR", ROOT / ".data")))
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        stack.start_services()
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
        while all(child.poll() is None for child in stack.children):
            time.sleep(0.5)
        log.error("a child process exited; stopping the stack")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(run())

"""The API under uvicorn in a subprocess, on the test run's database and Redis: for tests
that need requests really in parallel (the in-process test client serves one at a time) or
client addresses of their own (uvicorn takes X-Forwarded-For from 127.0.0.1)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from api.process_metrics import launch_environment
from engine.settings import ROOT
from ops.embedded import die_with_parent, free_port

if TYPE_CHECKING:
    from litestar import Litestar


def create_documented_app() -> Litestar:
    """The app without its hot paths (see api/hot_paths.py), for `running_api(app=...)`."""
    from api.app import create_app

    return create_app(hot_paths=False)


DOCUMENTED_APP = "tests.api_server:create_documented_app"


@contextmanager
def running_api(app: str = "api.app:create_app", workers: int = 1, **env: str) -> Iterator[str]:
    """The server's base URL; `env` is added to the test run's environment. With `workers`
    above 1, uvicorn's own processes share the port and their metrics, as under `make run`'s
    WEB_CONCURRENCY."""
    port = free_port()
    log_path = ROOT / ".data" / "test" / f"api-{os.getpid()}-{port}.log"
    metrics = launch_environment(log_path.with_suffix(".metrics"), workers)  # as make run
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", app, "--factory"),
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
                *("--workers", str(workers)),
            ],
            cwd=ROOT,
            env={**os.environ, **metrics, **env},
            stdout=log,
            stderr=log,
            preexec_fn=die_with_parent,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server, log_path)
        if workers > 1:
            _wait_workers(server.pid, workers, log_path)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log_path.unlink(missing_ok=True)
        shutil.rmtree(log_path.with_suffix(".metrics"), ignore_errors=True)


def _wait_ready(base: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the API server did not start:\n{log_path.read_text()[-3000:]}")


def worker_processes(pid: int) -> list[int]:
    """The processes uvicorn started to serve (multiprocessing's spawn children of `pid`)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = []
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(int(child))
    return found


def _wait_workers(pid: int, workers: int, log_path: Path) -> None:
    """Until `workers` serving processes run: /ready answered by one does not mean the
    others have started."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(worker_processes(pid)) >= workers:
            return
        time.sleep(0.2)
    raise RuntimeError(f"uvicorn did not start {workers} workers:\n{log_path.read_text()[-3000:]}")

"""`make run` (python -m ops.stack) supervises what it starts.

One real stack for the module, on the test database and a private embedded Valkey, on a free
port. Its JSON log names every child it starts with the pid; the tests kill children with
SIGKILL and expect them back (a paid order still completed, the API answering again), and
SIGTERM to stop every one of them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.settings import ROOT
from ops.embedded import free_port, process_runs, processes_in
from tests import services as test_services
from tests.conftest import unique_email

PASSWORD = "correct horse"
# what a child's command line contains
CHILD_MARKERS = {"api": "uvicorn api.app", "worker": "-m workers", "valkey": "valkey-server"}


def _children(parent: int) -> list[tuple[int, list[str]]]:
    """(pid, argv) of the processes whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent:
            found.append((int(entry.name), argv))
    return found


class RunningStack:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, base: str) -> None:
        self.process = process
        self.log_path = log_path
        self.http = httpx.Client(base_url=base, timeout=5)

    def log(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                entries.append(json.loads(line))
        return entries

    def pids(self, child: str) -> list[int]:
        """Every pid `child` ran as, in start order, as the stack logged them."""
        return [e["pid"] for e in self.log() if e.get("child") == child and "restarted" in e]

    def running_child(self, child: str) -> int:
        """The pid of the stack's child process running `child`, found in /proc."""
        marker = CHILD_MARKERS[child]
        found = [pid for pid, argv in _children(self.process.pid) if marker in " ".join(argv)]
        assert len(found) == 1, (child, found)
        return found[0]

    def wait_for(self, what: str, condition: Callable[[], object], timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the stack exited:\n{self.log_path.read_text()}"
            try:
                if result := condition():
                    return result
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{what} within {timeout}s; log:\n{self.log_path.read_text()}")

    def answers(self, path: str) -> bool:
        return self.http.get(path).status_code == 200

    def restarted(self, child: str, old_pid: int) -> int:
        """The pid of the new `child` process, once it runs and the log names it."""
        new = self.wait_for(
            f"{child} restarted",
            lambda: [
                pid
                for pid, argv in _children(self.process.pid)
                if pid != old_pid
                and CHILD_MARKERS[child] in " ".join(argv)
                and self.pids(child)[-1] == pid
            ],
        )
        exits = [e for e in self.log() if e.get("child") == child and e.get("pid") == old_pid]
        assert any(e.get("exit") == "killed by SIGKILL" and e["restart_in_s"] > 0 for e in exits)
        return int(new[0])


@contextmanager
def running_stack(data_dir: Path, **env_changes: str | None) -> Iterator[RunningStack]:
    """python -m ops.stack on a free port, ready; `None` unsets a variable."""
    port = free_port()
    env = dict(os.environ, PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="INFO")
    env.update(BOXOFFICE_DATA_DIR=str(data_dir))
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    log_path = data_dir / "stack.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ops.stack"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    running = RunningStack(process, log_path, f"http://127.0.0.1:{port}")
    try:
        running.wait_for("the stack ready", lambda: running.answers("/ready"), timeout=40)
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        running.http.close()


@pytest.fixture(scope="module")
def stack(services: test_services.TestServices) -> Iterator[RunningStack]:
    """On the test database, with an embedded Valkey of its own (also supervised)."""
    data_dir = _data_dir("stack")
    with running_stack(data_dir, DATABASE_URL=services.database_url, REDIS_URL=None) as running:
        yield running


def _data_dir(name: str) -> Path:
    """A folder in the run's own data folder, not under pytest's temporary root: embedded
    PostgreSQL runs as another user and opens the folders above its data for it, and any
    other pytest session starting meanwhile closes pytest's root again (chmod 700), so a
    restarted PostgreSQL could no longer reach its data."""
    path = test_services.RUN_DATA / f"{name}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return path


def _registration(role: str) -> dict[str, str]:
    body = {"role": role, "name": f"A {role}", "email": unique_email(role), "password": PASSWORD}
    if role == "partner":
        body["company_name"] = "Acme Shows"
    return body


def _actor(http: httpx.Client, role: str) -> dict[str, str]:
    body = _registration(role)
    assert http.post("/auth/register", json=body).status_code == 201
    login = http.post("/auth/login", json={"email": body["email"], "password": PASSWORD})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def _reserved_order(http: httpx.Client) -> tuple[str, dict[str, str]]:
    """A customer's order of one general-admission ticket of an event on sale."""
    partner = _actor(http, "partner")
    now = datetime.now(UTC)
    event = http.post(
        "/events",
        headers=partner,
        json={"name": "Show", "venue": "Hall", "starts_at": (now + timedelta(days=9)).isoformat()},
    ).json()
    ticket_type = http.post(
        f"/events/{event['id']}/ticket-types",
        headers=partner,
        json={"name": "General", "price_cents": 1000, "quantity": 5},
    ).json()
    assert http.post(f"/events/{event['id']}/publish", headers=partner).status_code == 200
    window = {
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
    }
    assert http.put(f"/events/{event['id']}/sale", headers=partner, json=window).status_code == 200
    customer = _actor(http, "customer")
    order = http.post(
        "/orders",
        headers=customer,
        json={"items": [{"ticket_type_id": ticket_type["id"], "quantity": 1}]},
    )
    assert order.status_code == 201, order.text
    return order.json()["id"], customer


def test_a_killed_worker_is_restarted_and_completes_an_order_paid_meanwhile(
    stack: RunningStack,
) -> None:
    order_id, customer = _reserved_order(stack.http)
    worker = stack.running_child("worker")
    os.kill(worker, signal.SIGKILL)
    paid = stack.http.post(
        f"/orders/{order_id}/pay", headers=customer, json={"payment_token": "tok_visa"}
    )
    assert paid.status_code == 202, paid.text
    stack.restarted("worker", worker)
    stack.wait_for(
        "the paid order completed",
        lambda: (
            stack.http.get(f"/orders/{order_id}", headers=customer).json()["status"] == "completed"
        ),
    )


def test_a_killed_api_is_restarted(stack: RunningStack) -> None:
    api = stack.running_child("api")
    os.kill(api, signal.SIGKILL)
    stack.restarted("api", api)
    stack.wait_for("the new API answering /health", lambda: stack.answers("/health"))


def test_a_killed_embedded_valkey_is_restarted(stack: RunningStack) -> None:
    valkey = stack.running_child("valkey")
    os.kill(valkey, signal.SIGKILL)
    stack.restarted("valkey", valkey)
    stack.wait_for("the API ready again", lambda: stack.answers("/ready"))


def test_sigterm_stops_every_child(stack: RunningStack) -> None:
    started = [e["pid"] for e in stack.log() if "restarted" in e]
    assert {e["child"] for e in stack.log() if "restarted" in e} >= {"api", "worker", "valkey"}
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(30) == 0
    assert [pid for pid in started if process_runs(pid)] == []
    assert stack.log()[-1]["msg"] == "stack stopped"


def test_a_killed_embedded_postgres_is_restarted(services: test_services.TestServices) -> None:
    """Without DATABASE_URL the stack runs its own PostgreSQL: killed, it comes back, on the
    same data, and the API works on it again."""
    data_dir = _data_dir("pg-stack")
    with running_stack(data_dir, DATABASE_URL=None, REDIS_URL=None) as stack:
        customer = _actor(stack.http, "customer")
        postgres = stack.pids("postgres")[-1]
        os.kill(postgres, signal.SIGKILL)
        stack.wait_for(
            "PostgreSQL restarted",
            lambda: (
                stack.pids("postgres")[-1] != postgres and process_runs(stack.pids("postgres")[-1])
            ),
            timeout=30,
        )
        exits = [e for e in stack.log() if e.get("child") == "postgres" and "exit" in e]
        assert exits and exits[0]["pid"] == postgres and exits[0]["restart_in_s"] > 0
        stack.wait_for(
            "the API reading and writing in the new PostgreSQL",
            lambda: (
                stack.http.get("/me/orders", headers=customer).status_code == 200
                and stack.http.post("/auth/register", json=_registration("customer")).status_code
                == 201
            ),
        )
        stack.process.send_signal(signal.SIGTERM)
        assert stack.process.wait(30) == 0
        assert processes_in(data_dir / "pg") == []

"""`make loadtest` / `make loadtest-large`: start a private stack, set up a flash sale, run
Locust headless against it, wait for the workers to drain, audit, and write the report.

    python -m loadtests.run_loadtest --profile small     # about 2 minutes, CI-sized
    python -m loadtests.run_loadtest --profile large     # 5,000 buyers, 3,000 tickets

The stack (loadtests/bench_stack.py) is embedded PostgreSQL and Valkey unless DATABASE_URL /
REDIS_URL (or --database-url / --redis-url) are given; it gets a private database, one API
process and two worker processes. Locust runs with --processes = half the cores (the other
half serves the stack), at least one.

Prints `oversold: N` and exits 1 on any breach of an invariant (loadtests/audit.py), any 5xx
or unanswered request, any unexpected answer from the waiting room (e.g. a join answered 404),
or a missed threshold: error ratio (failures / requests, where expected refusals such as 409
seat_unavailable are not failures) and p95 claim latency.

While Locust runs, a line every five seconds says how it goes (users, requests a second, p95,
units sold). Outputs go to reports/runs/ (not tracked, so a run leaves the checkout clean):
<prefix>.html and <prefix>_*.csv from Locust, <prefix>.md, <prefix>_summary.json and PNG
charts. `--publish` writes them to reports/ instead, replacing the committed reference
report (reports/loadtest.md and its charts) on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from redis import Redis, RedisCluster

from engine import keys
from engine.settings import ROOT, get_settings
from engine.store.resources import open_resources
from loadtests.audit import (
    AuditResult,
    Thresholds,
    audit,
    check_thresholds,
    locust_figures,
    read_client_records,
    wait_drained,
)
from loadtests.bench_stack import BenchStack, results_dir
from loadtests.cpu_sampler import CpuSampler
from loadtests.metrics_check import check_metrics
from loadtests.report import write_report
from loadtests.setup import Plan, read_plan
from ops.embedded import free_port

RUN_REPORTS = ROOT / "reports" / "runs"  # gitignored; --publish writes to reports/
STOP_TIMEOUT_S = 30  # users finish the request in flight; a refusal is never half counted
LOCUST_START_S = 3
PARTNER_ACCOUNTS = 2  # events alternate between them; each has a gate scanner


@dataclass
class Profile:
    prefix: str
    customers: int
    events: list[str]
    buyers: int
    browsers: int
    scanners: int
    partner_watchers: int
    spawn_rate: int
    run_time_s: int
    hold_seconds: int
    admit_per_minute: int
    max_active: int
    login_users: int
    login_storm_users: int
    login_storm_s: int
    grace_s: int  # after the load: the slowest request in flight completes
    thresholds: Thresholds = field(default_factory=Thresholds)


PROFILES = {
    # CI-sized: four events (seats and general admission, waiting room on and off)
    "small": Profile(
        prefix="loadtest",
        customers=1500,
        events=["seated:300", "seated:200:room", "ga:500", "ga:500:room"],
        buyers=250,
        browsers=20,
        scanners=2,
        partner_watchers=1,
        spawn_rate=125,
        run_time_s=60,
        hold_seconds=20,
        admit_per_minute=6000,
        max_active=150,
        login_users=200,
        login_storm_users=40,
        login_storm_s=15,
        grace_s=10,
        thresholds=Thresholds(max_error_ratio=0.01, max_claim_p95_ms=500),
    ),
    # 5,000 concurrent buyers for 1,000 seats and 2,000 general-admission tickets
    "large": Profile(
        prefix="loadtest-large",
        customers=6000,
        events=["seated:1000:room", "ga:2000:room"],
        buyers=5000,
        browsers=50,
        scanners=4,
        partner_watchers=2,
        spawn_rate=250,
        run_time_s=180,
        hold_seconds=30,
        admit_per_minute=3000,
        max_active=600,
        login_users=1000,
        login_storm_users=200,
        login_storm_s=30,
        grace_s=45,
        thresholds=Thresholds(max_error_ratio=0.01, max_claim_p95_ms=2000),
    ),
}


class SalesSampler(threading.Thread):
    """Samples every event's available / held / sold from Redis once a second."""

    def __init__(self, redis_url: str, event_ids: list[int], cluster: bool = False) -> None:
        super().__init__(daemon=True)
        self.redis: Redis | RedisCluster = (
            RedisCluster.from_url(redis_url) if cluster else Redis.from_url(redis_url)
        )
        self.event_ids = event_ids
        self.rows: list[tuple[float, int, int, int, int]] = []
        self.started = time.time()
        self.marks: dict[str, float] = {}
        self._stop_event = threading.Event()

    def mark(self, name: str) -> None:
        self.marks[name] = time.time() - self.started

    def run(self) -> None:
        while not self._stop_event.is_set():
            at = time.time() - self.started
            with self.redis.pipeline(transaction=False) as pipe:
                for event_id in self.event_ids:
                    pipe.hmget(keys.event_key(event_id, "counts"), ["a", "h", "s"])
                replies = pipe.execute()
            for event_id, (a, h, s) in zip(self.event_ids, replies, strict=True):
                self.rows.append((round(at, 2), event_id, int(a or 0), int(h or 0), int(s or 0)))
            self._stop_event.wait(1.0)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)
        self.redis.close()


class Progress(threading.Thread):
    """Prints a line every few seconds while Locust runs: its users, requests a second and
    p95 (the last aggregated row of its `_stats_history.csv`, written each second) and the
    units sold and held so far (the sales sampler's last reading)."""

    def __init__(
        self, history: Path, sampler: SalesSampler, capacity: int, every_s: float = 5.0
    ) -> None:
        super().__init__(daemon=True)
        self.history = history
        self.sampler = sampler
        self.capacity = capacity
        self.every_s = every_s
        self.started = time.monotonic()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            print(self.line(), flush=True)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)

    def line(self) -> str:
        users, rps, p95 = locust_now(self.history)
        latest: dict[int, tuple[int, int]] = {}
        for _, event_id, _, held, sold in self.sampler.rows[-len(self.sampler.event_ids) :]:
            latest[event_id] = (held, sold)
        held = sum(h for h, _ in latest.values())
        sold = sum(s for _, s in latest.values())
        return (
            f"[{time.monotonic() - self.started:5.0f}s] users {users:>5}  "
            f"requests/s {rps:>7,.0f}  p95 {p95:>6} ms  "
            f"sold {sold:,} of {self.capacity:,} (held {held:,})"
        )


def locust_now(history: Path) -> tuple[int, float, str]:
    """(users, requests a second, p95 in ms) of the last aggregated row Locust wrote."""
    try:
        with history.open() as file:
            rows = [row for row in csv.reader(file) if len(row) > 11 and row[3] == "Aggregated"]
    except OSError:
        rows = []
    if not rows:
        return 0, 0.0, "-"
    last = rows[-1]
    return int(last[1]), float(last[4]), last[11]  # "User Count", "Requests/s", "95%"


def locust(
    locustfile: str,
    host: str,
    users: int,
    spawn_rate: int,
    seconds: int,
    grace: int,
    processes: int,
    csv_prefix: Path,
    env: dict[str, str],
) -> str | None:
    """Run Locust headless for `seconds` of load; None when it ran, else why it did not.

    Users stop making requests after `seconds` (LOADTEST_STOP_AT) and Locust quits `grace`
    seconds later, so the requests in flight at the end complete and are counted: a headless
    Locust with --processes quits its workers without waiting for them."""
    for old in csv_prefix.parent.glob(f"{csv_prefix.name}_*.csv"):
        old.unlink()  # a failed run must not be judged on the files of an earlier one
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        locustfile,
        "--headless",
        "--host",
        host,
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        f"{seconds + grace}s",
        "--stop-timeout",
        str(STOP_TIMEOUT_S),
        "--processes",
        str(processes),
        # a port of its own (the forked workers dial --master-port), so two runs on one
        # machine do not collide
        "--master-bind-port",
        str(port),
        "--master-port",
        str(port),
        "--csv",
        str(csv_prefix),
        "--csv-full-history",
        "--html",
        f"{csv_prefix}.html",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    print("$", " ".join(command[2:]), flush=True)
    # Locust itself takes a moment to start; the load runs `seconds` from its first user
    stop_at = time.time() + seconds + LOCUST_START_S
    child_env = {**os.environ, **env, "PYTHONPATH": str(ROOT), "LOADTEST_STOP_AT": f"{stop_at}"}
    # its own process group: on a hang, the master and its forked workers are stopped together
    child = subprocess.Popen(command, cwd=ROOT, env=child_env, start_new_session=True)
    try:
        code = child.wait(timeout=seconds + grace + STOP_TIMEOUT_S + 120)
        wait_group_gone(child)  # the forked workers write their records as they stop
    except subprocess.TimeoutExpired:
        stop_group(child)
        return f"locust -f {locustfile} did not finish in time"
    except BaseException:  # interrupted: take Locust down with us
        stop_group(child)
        raise
    if code not in (0, 1):  # 1: the run had failures, which the audit weighs
        return f"locust -f {locustfile} exited with {code}"
    if not Path(f"{csv_prefix}_stats.csv").exists():
        return f"locust -f {locustfile} wrote no statistics"
    return None


def wait_group_gone(child: subprocess.Popen[bytes], within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(child.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)


def stop_group(child: subprocess.Popen[bytes]) -> None:
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def setup_command(args: argparse.Namespace, profile: Profile, host: str, plan: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "loadtests.setup",
        "--host",
        host,
        "--plan",
        str(plan),
        "--customers",
        str(profile.customers),
        "--login-users",
        str(profile.login_users),
        "--partners",
        str(PARTNER_ACCOUNTS),
        "--hold-seconds",
        str(profile.hold_seconds),
        "--admit-per-minute",
        str(profile.admit_per_minute),
        "--max-active",
        str(profile.max_active),
    ]
    for spec in profile.events:
        command += ["--event", spec]
    print("$", " ".join(command[2:]), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


def drift_repaired_in_logs(stack: BenchStack) -> list[dict[str, Any]]:
    """Real drift the workers' reconcile cron repaired while the sale ran (it repairs as it
    goes, so the audit's own reconcile afterwards would not see it). Counts that merely moved
    between its two reads, under live claims, are not drift: only sold units PostgreSQL has
    and Redis lacks, lost reservations, or an event missing from Redis are."""
    log = stack.data / "processes.log"
    found: list[dict[str, Any]] = []
    if not log.exists():
        return found
    for line in log.open(errors="replace"):
        if "reconcile repaired drift" not in line:
            continue
        for detail in json.loads(line).get("drift", {}).get("details", []):
            if (
                not detail["hydrated"]
                or detail["seats_sold_in_pg_not_in_redis"]
                or detail["pool_units_sold_in_pg_not_in_redis"]
                or detail["lost_reservations_expired"]
            ):
                found.append(detail)
    return found


async def audit_run(
    plan: Plan, run_dir: Path, drain_timeout: float
) -> tuple[AuditResult, dict[str, int], float]:
    resources = await open_resources(get_settings(), pool_size=4)
    try:
        ids = [event.id for event in plan.events]
        started = time.monotonic()
        left = await wait_drained(resources.redis, ids, drain_timeout)
        drained_s = time.monotonic() - started
        result = await audit(resources, plan.events, read_client_records(run_dir))
    finally:
        await resources.close()
    for name, count in left.items():
        result.breach(f"workers not drained after {drain_timeout:.0f}s: {count} {name}")
    return result, left, drained_s


def run(args: argparse.Namespace) -> int:
    profile = PROFILES[args.profile]
    if args.redis_cluster:  # its own report: reports/loadtest-cluster.md
        profile = replace(profile, prefix=f"{profile.prefix}-cluster")
    thresholds = Thresholds(
        max_error_ratio=args.max_error_ratio or profile.thresholds.max_error_ratio,
        max_claim_p95_ms=args.max_claim_p95_ms or profile.thresholds.max_claim_p95_ms,
    )
    processes = args.processes or max(1, (os.cpu_count() or 2) // 2)
    out = results_dir() if args.publish else RUN_REPORTS
    out.mkdir(parents=True, exist_ok=True)
    # the plan (tokens), the clients' records and the stack's log; kept when the audit fails
    run_dir = ROOT / ".data" / f"{profile.prefix}-run-{os.getpid()}"
    run_dir.mkdir(parents=True)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url
    # one secret for the API, the workers and the set-up that issues the tokens
    os.environ.setdefault("JWT_SECRET", secrets.token_urlsafe(48))
    timings: dict[str, float] = {}
    began = time.monotonic()
    stack = BenchStack("loadtest", redis_cluster=args.redis_cluster)
    try:
        stack.start()
        # above any load balancer's idle timeout, so a kept-alive connection is never closed
        # under a request in flight
        host = stack.start_api(UVICORN_TIMEOUT_KEEP_ALIVE="75")
        stack.start_worker()
        stack.start_worker()
        timings["stack_s"] = time.monotonic() - began

        mark = time.monotonic()
        plan_path = run_dir / "plan.json"
        setup_command(args, profile, host, plan_path)
        plan = read_plan(plan_path)
        timings["setup_s"] = time.monotonic() - mark

        settings = get_settings()
        sampler = SalesSampler(
            settings.redis_url, [e.id for e in plan.events], cluster=settings.redis_cluster
        )
        sampler.start()
        users = profile.buyers + profile.browsers + profile.scanners + profile.partner_watchers
        env = {
            "LOADTEST_PLAN": str(plan_path),
            "LOADTEST_OUT": str(run_dir),
            "LOADTEST_PROCESSES": str(processes),
            "LOADTEST_BROWSERS": str(profile.browsers),
            "LOADTEST_SCANNERS": str(profile.scanners),
            "LOADTEST_PARTNERS": str(profile.partner_watchers),
        }
        mark = time.monotonic()
        sampler.mark("load started")
        cpu = CpuSampler()
        cpu.start()
        capacity = sum(e.capacity for e in plan.events)
        progress = Progress(out / f"{profile.prefix}_stats_history.csv", sampler, capacity)
        progress.start()
        failed = locust(
            "loadtests/locustfile.py",
            host,
            users,
            profile.spawn_rate,
            args.run_time or profile.run_time_s,
            profile.grace_s,
            processes,
            out / profile.prefix,
            env,
        )
        sampler.mark("load stopped")
        progress.stop()
        cpu.stop()
        timings["sale_run_s"] = time.monotonic() - mark
        if failed:
            raise SystemExit(f"{failed}; no audit (the stack's log: {run_dir})")

        mark = time.monotonic()
        login_failed = locust(
            "loadtests/locust_login.py",
            host,
            profile.login_storm_users,
            profile.login_storm_users,
            profile.login_storm_s,
            profile.grace_s,
            processes,
            out / f"{profile.prefix}_login",
            env,
        )
        timings["login_run_s"] = time.monotonic() - mark

        mark = time.monotonic()
        result, _, drained_s = asyncio.run(
            audit_run(plan, run_dir, drain_timeout=profile.hold_seconds + 90)
        )
        sampler.mark("drained")
        sampler.stop()
        timings["drain_s"] = drained_s
        timings["audit_s"] = time.monotonic() - mark - drained_s
        result.facts["metrics"] = check_metrics(host, [e.id for e in plan.events], result)
        for detail in drift_repaired_in_logs(stack):
            result.breach(f"the workers' reconcile cron repaired drift during the run: {detail}")
        figures = locust_figures(out / f"{profile.prefix}_stats.csv")
        check_thresholds(figures, thresholds, result)
        if login_failed:
            result.breach(login_failed)
    finally:
        if (stack.data / "processes.log").exists():  # kept for a look after the run
            shutil.copy(stack.data / "processes.log", run_dir / "processes.log")
        stack.stop()
    timings["total_s"] = time.monotonic() - began

    context: dict[str, Any] = {
        "profile": args.profile,
        "prefix": profile.prefix,
        "command": ("make loadtest" if args.profile == "small" else "make loadtest-large")
        + (" LOADTEST_ARGS=--redis-cluster" if args.redis_cluster else ""),
        "processes": processes,
        "users": users,
        "profile_settings": asdict(profile),
        "thresholds": asdict(thresholds),
        "figures": figures,
        "audit": {"oversold": result.oversold, "breaches": result.breaches, **result.facts},
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "cpu_cores": dict(sorted(cpu.shares().items(), key=lambda kv: -kv[1])),
        "sales_samples": sampler.rows,
        "sales_marks": sampler.marks,
        "load_started_unix": sampler.started + sampler.marks.get("load started", 0.0),
        "capacity": sum(e.capacity for e in plan.events),
        "events": [
            {"id": e.id, "kind": e.kind, "capacity": e.capacity, "waiting_room": e.waiting_room}
            for e in plan.events
        ],
    }
    (out / f"{profile.prefix}_summary.json").write_text(
        json.dumps({k: v for k, v in context.items() if k != "sales_samples"}, indent=2)
    )
    context["report"] = str(write_report(out, context).relative_to(ROOT))
    print_summary(context, result)
    if result.ok:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0 if result.ok else 1


def print_summary(context: dict[str, Any], result: AuditResult) -> None:
    figures, audit_facts = context["figures"], context["audit"]
    sold = sum(e["sold"] for e in audit_facts.get("events", {}).values())
    print(
        f"\nrequests: {figures['requests']:,} at {figures['requests_per_s']:.0f}/s, "
        f"p95 {figures['p95_ms']:.0f} ms, claim p95 {figures['claim_p95_ms']:.0f} ms, "
        f"error ratio {figures['error_ratio']:.4f}"
    )
    print(f"sold: {sold:,} of {context['capacity']:,}")
    counted = audit_facts.get("metrics", {}).get("outcomes", {})
    print(f"/metrics outcomes: {json.dumps(counted)}")
    refusals = {k: v["clients"] for k, v in audit_facts.get("refusals", {}).items()}
    print(f"refusals: {json.dumps(refusals)}")
    print(f"timings: {json.dumps(context['timings'])}")
    print(f"CPU during the sale, in cores of {os.cpu_count()}: {json.dumps(context['cpu_cores'])}")
    print(f"report: {context['report']}")
    print(f"oversold: {result.oversold}")
    for breach in result.breaches:
        print(f"BREACH: {breach}")
    print("audit: passed" if result.ok else f"audit: FAILED ({len(result.breaches)} breaches)")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.run_loadtest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="small")
    parser.add_argument("--processes", type=int, default=0, help="Locust processes")
    parser.add_argument("--run-time", type=int, default=0, help="seconds of sale load")
    parser.add_argument("--database-url", default="", help="a PostgreSQL server to use")
    parser.add_argument("--redis-url", default="", help="a Redis server to use")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="write the reports to reports/ (the committed reference), not reports/runs/",
    )
    parser.add_argument(
        "--redis-cluster",
        action="store_true",
        help="the sale's Redis is a Redis Cluster: 3 embedded masters with a replica each "
        "(payments acknowledged once a replica has them), or --redis-url's cluster with "
        "QUEUE_REDIS_URL a standalone Redis for the job queue",
    )
    parser.add_argument("--max-error-ratio", type=float, default=0.0)
    parser.add_argument("--max-claim-p95-ms", type=float, default=0.0)
    # a CI timeout's SIGTERM still stops the stack (BenchStack.stop runs in `finally`)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()

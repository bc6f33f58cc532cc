"""docker-compose.yml, the alert rules and the Grafana dashboard, read as their tools would.

No Docker engine runs here, so compose is checked by parsing it: secrets required (no
default passwords), Redis with a password, published ports on 127.0.0.1 unless
BIND_ADDRESS says otherwise, a worker healthcheck, the loadtest profile writing its plan
before Locust reads it, the observability profile's files present, and every setting the
app services are given read by engine/settings.py. The alert rules go through promtool when
it is installed (Debian's `prometheus` package; `make test` installs it as root) and are
always parsed; the rules and the dashboard may name only metrics the code exports.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
OBSERVABILITY = ROOT / "ops" / "observability"
RULES = OBSERVABILITY / "prometheus" / "rules" / "boxoffice.yml"
DASHBOARD = OBSERVABILITY / "grafana" / "dashboards" / "boxoffice.json"
SECRETS = ("JWT_SECRET", "TICKET_SIGNING_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD")
# Litestar's HTTP metrics (created by its middleware on the first request) and
# redis_exporter's, besides those our modules register at import
OTHER_METRICS = {
    "boxoffice_requests_total",
    "boxoffice_requests_error_total",
    "boxoffice_request_duration_seconds",
    "redis_memory_used_bytes",
    "redis_memory_max_bytes",
    "redis_total_system_memory_bytes",
    "redis_commands_processed_total",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def test_secrets_are_required_and_nothing_has_a_default_password(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text()
    for name in SECRETS:
        assert f"${{{name}:?" in text, name
        assert f"${{{name}:-" not in text, name
    redis = compose["services"]["redis"]
    assert "--requirepass" in redis["command"]
    app = compose["x-app-environment"]
    for url in ("DATABASE_URL", "REDIS_URL", "QUEUE_REDIS_URL"):
        assert ":?set" in app[url], url


def test_published_ports_listen_on_localhost_by_default(compose: dict[str, Any]) -> None:
    published = [
        (name, port)
        for name, service in compose["services"].items()
        for port in service.get("ports", [])
    ]
    assert published
    for name, port in published:
        assert str(port).startswith("${BIND_ADDRESS:-127.0.0.1}:"), (name, port)


def test_the_worker_is_health_checked_and_keeps_its_mail(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["healthcheck"]["test"] == [
        "CMD",
        "arq",
        "workers.settings.WorkerSettings",
        "--check",
    ]
    assert "mail:/app/.data/mail" in worker["volumes"]
    assert "mail" in compose["volumes"]
    assert "mkdir -p /app/.data/mail" in (ROOT / "Dockerfile").read_text()
    interval = re.search(
        r"health_check_interval = (\d+)", (ROOT / "workers" / "settings.py").read_text()
    )
    assert interval is not None and int(interval.group(1)) <= 15


def test_the_loadtest_profile_prepares_its_plan_before_locust(compose: dict[str, Any]) -> None:
    locust = compose["services"]["locust"]
    assert locust["profiles"] == ["loadtest"]
    script = locust["command"][-1]
    setup, _, run = script.partition("&&")
    assert "python -m loadtests.setup" in setup and '--plan "$$LOADTEST_PLAN"' in setup
    assert "locust -f loadtests/locustfile.py" in run
    assert locust["environment"]["LOADTEST_PLAN"].startswith("/app/.data/")
    assert (ROOT / "loadtests" / "locustfile.py").exists()
    from loadtests.setup import parser

    parser().parse_args(["--host", "http://api:8000", "--plan", "/app/.data/plan.json"])


def test_the_observability_profile_mounts_files_that_exist(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("prometheus", "grafana", "redis-exporter"):
        assert services[name]["profiles"] == ["observability"]
        for volume in services[name].get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), volume
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}


def test_every_setting_given_to_the_app_is_read(compose: dict[str, Any]) -> None:
    read = set(
        re.findall(r'_(?:env|int|rate|share|flag|generated_secret)\("([A-Z0-9_]+)"', _settings())
    )
    given = set(compose["x-app-environment"]) - {"BOXOFFICE_ENV", "FORWARDED_ALLOW_IPS"}
    assert given <= read, given - read


def _settings() -> str:
    return (ROOT / "engine" / "settings.py").read_text()


METRIC_MODULES = ("api.business_metrics", "api.operations", "workers.metrics", "workers.tasks")


def exported_metrics() -> set[str]:
    """The metric names our modules register (at import) in prometheus_client's registry."""
    from prometheus_client import REGISTRY

    for module in METRIC_MODULES:
        importlib.import_module(module)
    names = {family.name for family in REGISTRY.collect()}
    names |= {f"{name}_total" for name in names}
    return names | OTHER_METRICS


def metrics_in(expr: str) -> set[str]:
    names = set(re.findall(r"\b((?:boxoffice|redis)_[a-z_]+)", expr))
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in names}


def rules() -> list[dict[str, Any]]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def test_the_alert_rules_cover_the_sale_and_name_real_metrics() -> None:
    known = exported_metrics()
    alerts = {rule["alert"]: rule for rule in rules()}
    watched = " ".join(rule["expr"] for rule in alerts.values())
    for metric in (
        "boxoffice_outbox_oldest_seconds",
        "boxoffice_persistence_lag_seconds_bucket",
        "boxoffice_outbox_orders",
        "boxoffice_requests_error_total",
        "redis_memory_used_bytes",
        "boxoffice_dead_letter_orders",
        "boxoffice_reconcile_drift_total",
    ):
        assert metric in watched, metric
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"], name
        assert metrics_in(rule["expr"]) <= known, (name, metrics_in(rule["expr"]) - known)


def test_promtool_accepts_the_rules_and_the_config(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: apt-get install -y prometheus (make test does as root)")
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = (OBSERVABILITY / "prometheus" / "prometheus.yml").read_text()
    (tmp_path / "token").write_text("t")
    config = config.replace("/etc/prometheus/rules", str(RULES.parent)).replace(
        "/run/secrets/metrics_token", str(tmp_path / "token")
    )
    (tmp_path / "prometheus.yml").write_text(config)
    checked = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dashboard_names_real_metrics_of_the_provisioned_source() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    source = yaml.safe_load(
        (OBSERVABILITY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    known = exported_metrics()
    targets = [t for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert len(targets) >= 15
    for target in targets:
        assert target["datasource"]["uid"] == source["uid"]
        assert metrics_in(target["expr"]) <= known, target["expr"]
    shown = " ".join(t["expr"] for t in targets)
    for metric in (
        "boxoffice_outcomes_total",
        "boxoffice_event_units",
        "boxoffice_waiting_room_customers",
    ):
        assert metric in shown

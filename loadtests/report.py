"""The load test's report: reports/<prefix>.md with PNG charts a person can read at a glance.

- <prefix>_throughput.png: requests per second (all, claims, failures) and users, over time
- <prefix>_latency.png: median and p95 response time, and p95 of claims, over time
  (Locust's stats history: percentiles over its last 10 seconds)
- <prefix>_sales.png: sold, held and available tickets over time, sampled from Redis
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

from engine.settings import ROOT

matplotlib.use("Agg")
import matplotlib.pyplot as plt

CLAIMS = ("POST /orders [seat]", "POST /orders [ga]")
COLOURS = {"sold": "#2e7d32", "held": "#f9a825", "available": "#cfd8dc"}


def history(stats_history_csv: Path, origin: float) -> dict[str, list[dict[str, float]]]:
    """Locust's history rows by request name, time in seconds since `origin` (unix time)."""
    rows: dict[str, list[dict[str, float]]] = defaultdict(list)
    if not stats_history_csv.exists():
        return rows
    for row in csv.DictReader(stats_history_csv.open()):
        rows[row["Name"]].append(
            {
                "t": float(row["Timestamp"]) - origin,
                "users": float(row["User Count"]),
                "rps": float(row["Requests/s"]),
                "fails": float(row["Failures/s"]),
                "p50": _number(row["50%"]),
                "p95": _number(row["95%"]),
            }
        )
    return rows


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # "N/A" before the first response
        return float("nan")


def _style(ax: Any, title: str, ylabel: str) -> None:
    ax.set_title(title, loc="left", fontsize=13, fontweight="bold")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel(ylabel)
    ax.set_xlim(left=0)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def _legend_below(ax: Any, handles: Any = None, labels: Any = None) -> None:
    """Under the plot, so it never hides a line."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    ax.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=min(len(handles), 4),
        frameon=False,
    )


def throughput_chart(rows: dict[str, list[dict[str, float]]], path: Path) -> None:
    total = rows.get("Aggregated", [])
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=110)
    t = [r["t"] for r in total]
    ax.plot(t, [r["rps"] for r in total], color="#1565c0", lw=2, label="all requests/s")
    claims = _summed(rows, CLAIMS, "rps")
    if claims:
        ax.plot(
            *zip(*claims, strict=True), color="#6a1b9a", lw=1.5, label="claims (POST /orders)/s"
        )
    ax.plot(t, [r["fails"] for r in total], color="#c62828", lw=1.5, label="failures/s")
    _style(ax, "Throughput", "requests per second")
    users = ax.twinx()
    users.plot(t, [r["users"] for r in total], color="grey", ls="--", lw=1, label="users")
    users.set_ylabel("concurrent users", color="grey")
    users.spines[["top"]].set_visible(False)
    users.set_ylim(bottom=0)
    ax.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    extra = users.get_legend_handles_labels()
    _legend_below(ax, lines[0] + extra[0], lines[1] + extra[1])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _summed(
    rows: dict[str, list[dict[str, float]]], names: tuple[str, ...], key: str
) -> list[tuple[float, float]]:
    by_time: dict[float, float] = defaultdict(float)
    for name in names:
        for r in rows.get(name, []):
            by_time[r["t"]] += r[key]
    return sorted(by_time.items())


def latency_chart(rows: dict[str, list[dict[str, float]]], path: Path, mark_ms: float) -> None:
    total = rows.get("Aggregated", [])
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=110)
    t = [r["t"] for r in total]
    ax.plot(t, [r["p50"] for r in total], color="#1565c0", lw=2, label="median, all requests")
    ax.plot(t, [r["p95"] for r in total], color="#ef6c00", lw=2, label="p95, all requests")
    for name, colour in zip(CLAIMS, ("#6a1b9a", "#ad1457"), strict=True):
        series = rows.get(name, [])
        if series:
            ax.plot(
                [r["t"] for r in series],
                [r["p95"] for r in series],
                color=colour,
                lw=1.5,
                ls="-.",
                label=f"p95, {name}",
            )
    ax.axhline(
        mark_ms, color="#c62828", ls=":", lw=1.5, label=f"p95 claim threshold {mark_ms:.0f} ms"
    )
    _style(ax, "Response time (last 10 s window)", "milliseconds")
    ax.set_ylim(bottom=0)
    _legend_below(ax)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def sales_chart(
    samples: list[tuple[float, int, int, int, int]],
    marks: dict[str, float],
    capacity: int,
    path: Path,
) -> None:
    totals: dict[float, list[int]] = {}
    for at, _, a, h, s in samples:
        bucket = totals.setdefault(round(at), [0, 0, 0])
        bucket[0] += a
        bucket[1] += h
        bucket[2] += s
    offset = marks.get("load started", 0.0)
    t = [at - offset for at in sorted(totals)]
    available, held, sold = (
        (list(v) for v in zip(*(totals[k] for k in sorted(totals)), strict=True))
        if totals
        else ([], [], [])
    )
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=110)
    ax.stackplot(
        t,
        sold,
        held,
        available,
        labels=["sold", "held (in carts)", "available"],
        colors=[COLOURS["sold"], COLOURS["held"], COLOURS["available"]],
    )
    ax.axhline(capacity, color="black", lw=1, ls="--", label=f"capacity {capacity:,}")
    for name, at in marks.items():
        if name != "load started":
            ax.axvline(at - offset, color="grey", ls=":", lw=1)
            ax.text(at - offset, capacity * 1.02, name, fontsize=9, color="grey", ha="center")
    _style(ax, "Sales progress (all events, from Redis each second)", "tickets")
    ax.set_ylim(0, capacity * 1.1)
    _legend_below(ax)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def peak_claim_p95(rows: dict[str, list[dict[str, float]]]) -> float:
    values = [r["p95"] for name in CLAIMS for r in rows.get(name, []) if r["p95"] == r["p95"]]
    return max(values, default=0.0)


def request_table(stats_csv: Path) -> list[str]:
    lines = [
        "| request | count | failures | req/s | median ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    if not stats_csv.exists():
        return lines
    for row in csv.DictReader(stats_csv.open()):
        name = row["Name"].replace("|", "\\|")  # names carry their method already
        lines.append(
            f"| {'**' + name + '**' if row['Name'] == 'Aggregated' else name} "
            f"| {int(row['Request Count']):,} | {int(row['Failure Count']):,} "
            f"| {float(row['Requests/s']):.1f} | {row['50%']} | {row['95%']} | {row['99%']} |"
        )
    return lines


def write_report(out: Path, context: dict[str, Any]) -> Path:
    prefix = context["prefix"]
    rows = history(out / f"{prefix}_stats_history.csv", context["load_started_unix"])
    throughput_chart(rows, out / f"{prefix}_throughput.png")
    latency_chart(rows, out / f"{prefix}_latency.png", context["thresholds"]["max_claim_p95_ms"])
    sales_chart(
        context["sales_samples"],
        context["sales_marks"],
        context["capacity"],
        out / f"{prefix}_sales.png",
    )
    save_samples(out / f"{prefix}_sales.csv", context["sales_samples"])
    path = out / f"{prefix}.md"
    path.write_text("\n".join(markdown(out, context)) + "\n")
    return path


def cpu_lines(cores: dict[str, float]) -> list[str]:
    """Where the CPU went while the sale ran: which of server, workers, load generator and
    stores was the limit, and whether anything else on the machine took a share."""
    if not cores:
        return []
    cells = ", ".join(f"{role} {used:.2f}" for role, used in cores.items())
    return [
        f"CPU during the sale, in cores (of {os.cpu_count()}; 1.00 = one core busy throughout; "
        f"`other` is anything else running on the machine): {cells}.",
        "",
    ]


def markdown(out: Path, context: dict[str, Any]) -> list[str]:
    prefix, figures, audit = context["prefix"], context["figures"], context["audit"]
    marks, timings = context["thresholds"], context["timings"]
    settings = context["profile_settings"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    verdict = "passed" if not audit["breaches"] and audit["oversold"] == 0 else "FAILED"
    sold = sum(e["sold"] for e in audit.get("events", {}).values())
    peak = peak_claim_p95(history(out / f"{prefix}_stats_history.csv", 0.0))
    lines = [
        f"# Load test: {context['profile']} profile",
        "",
        f"`{context['command']}` on {_machine()}, {when}: "
        f"{settings['buyers']:,} buyers, {settings['browsers']} browsers, "
        f"{settings['scanners']} gate scanners, {settings['partner_watchers']} partner watcher(s) "
        f"({context['users']:,} Locust users in {context['processes']} process(es)) for "
        f"{settings['run_time_s']} s against one API process and two workers, then a "
        f"{settings['login_storm_s']} s login storm of {settings['login_storm_users']} users.",
        "",
        f"**Audit {verdict}. oversold: {audit['oversold']}.** Sold {sold:,} of "
        f"{context['capacity']:,} tickets; {figures['requests']:,} requests at "
        f"{figures['requests_per_s']:.0f}/s; p95 {figures['p95_ms']:.0f} ms "
        f"(claims: p95 {figures['claim_p95_ms']:.0f} ms, "
        f"threshold {marks['max_claim_p95_ms']:.0f}); "
        f"error ratio {figures['error_ratio']:.4f} (threshold {marks['max_error_ratio']}). "
        f"Worst 10-second window of claims: p95 {peak:.0f} ms.",
        "",
    ]
    if audit["breaches"]:
        lines += ["Breaches:", ""] + [f"- {b}" for b in audit["breaches"]] + [""]
    lines += cpu_lines(context.get("cpu_cores", {}))
    lines += [
        f"![throughput]({prefix}_throughput.png)",
        "",
        f"![latency]({prefix}_latency.png)",
        "",
        f"![sales]({prefix}_sales.png)",
        "",
        "## Events",
        "",
        "| event | kind | waiting room | capacity | sold | held | available "
        "| tickets in PostgreSQL |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    rooms = {e["id"]: e["waiting_room"] for e in context["events"]}
    for event_id, e in audit.get("events", {}).items():
        lines.append(
            f"| {event_id} | {e['kind']} | {'on' if rooms.get(int(event_id)) else 'off'} "
            f"| {e['capacity']:,} | {e['sold']:,} | {e['held']:,} | {e['available']:,} "
            f"| {e['tickets_in_postgresql']:,} |"
        )
    lines += [
        "",
        "## Refused purchases by reason",
        "",
        "Every refusal a client was given, against the `purchase_refusals` rows PostgreSQL holds.",
        "",
        "| reason | told to clients | recorded |",
        "|---|---:|---:|",
    ]
    for reason, seen in audit.get("refusals", {}).items():
        lines.append(f"| `{reason}` | {seen['clients']:,} | {seen['postgresql']:,} |")
    gate = audit.get("gate", {})
    lines += [
        "",
        f"Orders by status: {_counts(audit.get('orders_by_status', {}))}. Gate: "
        f"{gate.get('admitted', 0):,} tickets admitted, {gate.get('used_in_postgresql', 0):,} "
        "used in PostgreSQL.",
        "",
        f"Unexpected answers (any from the waiting room fails the audit): "
        f"{_counts(audit.get('unexpected', {}))}.",
        "",
        "## Requests (sale scenario)",
        "",
        *request_table(out / f"{prefix}_stats.csv"),
        "",
        "## Login storm",
        "",
        *request_table(out / f"{prefix}_login_stats.csv"),
        "",
        "## How it ran",
        "",
        f"Timings (s): `{timings}`. Thresholds: error ratio at most "
        f"{marks['max_error_ratio']} (failures / requests; expected refusals such as 409 "
        f"`seat_unavailable` or 402 on a declined card are not failures), p95 claim latency at "
        f"most {marks['max_claim_p95_ms']:.0f} ms (the slower of seat and GA claims). "
        f"Locust HTML: `{prefix}.html`; CSV: `{prefix}_*.csv`, beside this report.",
    ]
    return lines


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in sorted(counts.items())) or "none"


def _machine() -> str:
    return f"{os.uname().nodename} ({os.cpu_count()} cores)"


def save_samples(path: Path, samples: list[tuple[float, int, int, int, int]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seconds", "event_id", "available", "held", "sold"])
        writer.writerows(samples)


def load_samples(path: Path) -> list[tuple[float, int, int, int, int]]:
    with path.open() as handle:
        return [
            (
                float(r["seconds"]),
                int(r["event_id"]),
                int(r["available"]),
                int(r["held"]),
                int(r["sold"]),
            )
            for r in csv.DictReader(handle)
        ]


def main() -> None:
    """Redraw a report from the files a run left: `python -m loadtests.report [prefix]`."""
    out = ROOT / "reports"
    prefix = sys.argv[1] if len(sys.argv) > 1 else "loadtest"
    context = json.loads((out / f"{prefix}_summary.json").read_text())
    context["sales_samples"] = load_samples(out / f"{prefix}_sales.csv")
    print(write_report(out, context))


if __name__ == "__main__":
    main()

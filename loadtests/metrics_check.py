"""The API's /metrics after a load test, held against what the clients saw and the audit found.

The business series (api/business_metrics.py) must have moved with the sale: the units sold
per event (read from Redis at the scrape) equal the audit's sold counts, gate scans counted
`admitted` equal the tickets the clients were admitted with, and each refusal reason counted
by the server equals what the clients were told. With one API process (make loadtest's
stack) the counters are the whole story.
"""

from __future__ import annotations

import re
import urllib.request
from collections import Counter

from loadtests.audit import AuditResult

_SAMPLE = re.compile(r"^(boxoffice_[a-z_]+)\{([^}]*)\} ([0-9.e+-]+)$")


def scrape(host: str) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(f"{host}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def check_metrics(host: str, event_ids: list[int], result: AuditResult) -> dict[str, object]:
    """The figures compared, as facts for the report; a disagreement is a breach."""
    samples = scrape(host)
    outcomes: Counter[str] = Counter()
    sold: dict[int, float] = {}
    for name, labels, value in samples:
        if name == "boxoffice_outcomes_total":
            outcomes[f"{labels['action']} {labels['result']}"] += int(value)
        elif name == "boxoffice_event_units" and labels["state"] == "sold":
            sold[int(labels["event_id"])] = value
    audited = result.facts.get("events", {})
    for event_id in event_ids:
        expected = audited.get(event_id, {}).get("sold")
        if expected is not None and sold.get(event_id) != expected:
            result.breach(
                f"/metrics shows {sold.get(event_id)} sold in event {event_id}, "
                f"the audit {expected}"
            )
    admitted = result.facts.get("gate", {}).get("admitted", 0)
    if outcomes["scan admitted"] != admitted:
        result.breach(
            f"/metrics counted {outcomes['scan admitted']} scans admitted, the clients {admitted}"
        )
    for reason, seen in result.facts.get("refusals", {}).items():
        counted = sum(n for key, n in outcomes.items() if key.endswith(f" {reason}"))
        if counted != seen["clients"]:
            result.breach(
                f"/metrics counted {counted} '{reason}' refusals, the clients {seen['clients']}"
            )
    return {"outcomes": dict(sorted(outcomes.items())), "sold": sold}

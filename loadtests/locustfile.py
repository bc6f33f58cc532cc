"""Locust flash-sale suite: buyers, browsers, gate scanners and a partner watching sales.

Run by `make loadtest` (see loadtests/run_loadtest.py), or by hand against a stack prepared by
`python -m loadtests.setup`:

    LOADTEST_PLAN=.data/loadtest-plan.json locust -f loadtests/locustfile.py --headless \
        -u 300 -r 100 -t 60s --processes 2

Users take ids and tokens from the plan. Every response is judged: an expected refusal
(409 `seat_unavailable`, `sold_out`, ..., 402 on a declined card, 410 on a lapsed hold) is a
success in Locust's statistics and is counted per reason; anything else unexpected is a
failure, and counted per request and answer (e.g. `POST /events/{id}/queue: 404 not_found`).
At test stop each process writes what it saw (refusals per reason, the ids of orders it paid,
declined and abandoned, tickets admitted at the gate, 5xx, unanswered requests and unexpected
answers) to `$LOADTEST_OUT/client-<pid>.json`, for loadtests/audit.py to hold against
PostgreSQL.

Environment: LOADTEST_PLAN, LOADTEST_OUT, LOADTEST_PROCESSES (to split customers between
processes), LOADTEST_BROWSERS / LOADTEST_SCANNERS / LOADTEST_PARTNERS (fixed user counts;
the rest of `-u` are buyers), LOADTEST_ABANDON / LOADTEST_DECLINE (shares of buyers who leave
the cart to expire / pay with a declined card).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
from locust import FastHttpUser, between, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner
from locust.user.task import LOCUST_STATE_STOPPING

from loadtests.locust_csv_close import stop_writing_once_closed
from loadtests.setup import Plan, PlanEvent, read_plan

stop_writing_once_closed()  # no CRITICAL traceback at shutdown (loadtests/locust_csv_close.py)

ABANDON_SHARE = float(os.environ.get("LOADTEST_ABANDON", "0.10"))
DECLINE_SHARE = float(os.environ.get("LOADTEST_DECLINE", "0.10"))
MAX_SEAT_TRIES = 6
MAX_QUEUE_WAIT_S = float(os.environ.get("LOADTEST_MAX_QUEUE_WAIT", "150"))
SOLD_OUT_PATIENCE = 3  # polls a buyer keeps waiting while the queue says sold out
# users make no request after this (unix time): what is in flight then completes before Locust
# quits (its -t is longer by a grace), so every answer is counted and none is cut off
STOP_AT = float(os.environ.get("LOADTEST_STOP_AT", "inf"))
TICKETS_WAIT_S = 60.0
# the purchase refusals API.md says are recorded, by the request that meets them
CLAIM_REFUSALS = {
    "seat_unavailable",
    "sold_out",
    "limit_exceeded",
    "sale_not_open",
    "admission_required",
}
PAY_REFUSALS = {"payment_declined", "hold_expired"}
# the 404 a poll gets once the customer is no longer in the queue (an admission lapsed): join
# again; any other 404 from the queue (e.g. "No such event on sale") is unexpected
LEFT_THE_QUEUE = "Not in this event's queue"


class ClientRecord:
    """What this process saw, written at test stop for the audit."""

    def __init__(self) -> None:
        self.refusals: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.unexpected: Counter[str] = Counter()  # "<request>: <status> <code>" -> answers
        self.orders: dict[str, list[str]] = {"paid": [], "declined": [], "abandoned": []}
        self.fresh_codes: deque[tuple[str, int]] = deque()  # issued, not scanned: (code, partner)
        self.used_codes: list[tuple[str, int]] = []

    def write(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        record = {
            "pid": os.getpid(),
            "refusals": dict(self.refusals),
            "counts": dict(self.counts),
            "unexpected": dict(self.unexpected),
            "orders": self.orders,
        }
        (directory / f"client-{os.getpid()}.json").write_text(json.dumps(record))


RECORD = ClientRecord()
_plan: Plan | None = None
_customer_numbers = itertools.count()


def plan() -> Plan:
    global _plan
    if _plan is None:
        _plan = read_plan(os.environ.get("LOADTEST_PLAN", ".data/loadtest-plan.json"))
    return _plan


def on_init(environment: Environment, **_: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):
        plan()


def on_test_stop(environment: Environment, **_: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):
        RECORD.write(Path(os.environ.get("LOADTEST_OUT", ".data/loadtest-run")))


events.init.add_listener(on_init)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(on_test_stop)  # type: ignore[no-untyped-call]


def body_of(response: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(response.text or "")
    except (ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def address_of(user_id: int) -> str:
    """A client address of one's own: the API sees Locust through a trusted proxy (uvicorn
    trusts X-Forwarded-For from 127.0.0.1), so per-address limits apply per person, as they
    would behind a load balancer, not to all simulated people at once."""
    return f"10.{(user_id >> 16) & 255}.{(user_id >> 8) & 255}.{user_id & 255}"


def left_the_queue_or_ok(status: int, body: dict[str, Any]) -> bool:
    return status == 200 or str(body.get("detail", "")).startswith(LEFT_THE_QUEUE)


class JudgedUser(FastHttpUser):
    """A user whose every request is judged against the statuses it may expect."""

    abstract = True
    network_timeout = 60.0
    connection_timeout = 60.0

    def call(
        self,
        method: str,
        path: str,
        name: str,
        ok: set[int],
        purchase: bool = False,
        expected: Callable[[int, dict[str, Any]], bool] | None = None,
        **kwargs: Any,
    ) -> tuple[int, dict[str, Any]]:
        """The answer, judged: a status in `ok` (and, given `expected`, one it accepts) is a
        success; anything else a failure, counted in RECORD.unexpected unless 5xx or none."""
        if time.time() >= STOP_AT:
            raise StopUser()
        with self.client.request(method, path, name=name, catch_response=True, **kwargs) as resp:
            status = resp.status_code
            body = body_of(resp)
            code = body.get("code", "")
            if purchase and status in (402, 403, 409, 410):
                RECORD.refusals[code or f"http_{status}"] += 1
            if status == 0:
                RECORD.counts[f"unanswered {name}"] += 1
                resp.failure(f"no response: {getattr(resp, 'error', '')}")
            elif status >= 500:
                RECORD.counts["http_5xx"] += 1
                resp.failure(f"server error {status}")
            elif status in ok and (expected is None or expected(status, body)):
                resp.success()
            else:
                RECORD.unexpected[f"{name}: {status} {code}".strip()] += 1
                resp.failure(f"unexpected {status} {code}".strip())
        return status, body

    def pause(self, seconds: float) -> None:
        """Sleep between steps; leave here (never mid-request) when the test is stopping."""
        if self._state == LOCUST_STATE_STOPPING or time.time() + seconds >= STOP_AT:
            raise StopUser()
        gevent.sleep(seconds)
        if self._state == LOCUST_STATE_STOPPING:
            raise StopUser()


class FlashSaleBuyer(JudgedUser):
    """Queue (when the event has a waiting room), claim, pay or not, fetch the tickets."""

    weight = 1
    wait_time = between(1, 3)

    def next_customer(self) -> tuple[int, str]:
        processes = int(os.environ.get("LOADTEST_PROCESSES", "1"))
        index = getattr(self.environment.runner, "worker_index", 0)
        number = next(_customer_numbers) * processes + max(index, 0)
        customer_id, token = plan().customers[number % len(plan().customers)]
        return customer_id, token

    @task
    def buy(self) -> None:
        customer_id, token = self.next_customer()
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": address_of(customer_id)}
        event = random.choice(plan().events)
        if event.waiting_room:
            admission = self.wait_for_admission(event, headers)
            if admission is None:
                return
            headers["X-Admission-Token"] = admission
        order = (
            self.claim_seats(event, headers) if event.seat_ids else self.claim_ga(event, headers)
        )
        if order is not None:
            self.checkout(event, order, headers)

    # --- waiting room ---

    def wait_for_admission(self, event: PlanEvent, headers: dict[str, str]) -> str | None:
        """Join and poll as the waiting-room page does; the admission token, or None if the
        buyer leaves (sale closed, sold out for a while, or waited too long)."""
        path = f"/events/{event.id}/queue"
        joined, sold_out_polls = False, 0
        deadline = time.monotonic() + MAX_QUEUE_WAIT_S
        while time.monotonic() < deadline:
            if joined:  # 404: no longer in the queue (an admission lapsed): join again
                status, body = self.call(
                    "GET",
                    path,
                    "GET /events/{id}/queue",
                    {200, 404},
                    expected=left_the_queue_or_ok,
                    headers=headers,
                )
            else:
                status, body = self.call(
                    "POST", path, "POST /events/{id}/queue", {200}, headers=headers
                )
            if status == 404 and joined:
                joined = False
                continue
            if status != 200:
                return None
            joined = True
            state = body.get("state")
            if state == "admitted" and body.get("admission_token"):
                RECORD.counts["queue admitted"] += 1
                return str(body["admission_token"])
            if state == "closed":
                RECORD.counts["queue closed"] += 1
                return None
            base = self.poll_interval(body)
            if state == "sold_out":
                sold_out_polls += 1
                if sold_out_polls > SOLD_OUT_PATIENCE:
                    RECORD.counts["queue sold out, left"] += 1
                    return None
            self.pause(base * random.uniform(0.5, 1.5))  # ±50% jitter, as the page does
        RECORD.counts["queue gave up"] += 1
        return None

    @staticmethod
    def poll_interval(status: dict[str, Any]) -> float:
        """The waiting-room page's pace: a tenth of the wait, between 2 and 15 seconds."""
        if status.get("state") == "sold_out":
            return 10.0
        eta = status.get("eta_seconds")
        return min(15.0, max(2.0, float(eta) / 10)) if eta else 3.0

    # --- claims ---

    def place(
        self, items: list[dict[str, Any]], name: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        return self.call(
            "POST",
            "/orders",
            name,
            {201, 403, 409},
            purchase=True,
            json={"items": items},
            headers=headers,
        )

    def claim_seats(self, event: PlanEvent, headers: dict[str, str]) -> dict[str, Any] | None:
        """Pick seats off a map that may be stale (everyone loaded it before the rush); on
        409 seat_unavailable drop what was refused and pick again, looking at a fresh map
        after the second and fourth refusal, as a person would."""
        candidates = list(event.seat_ids)
        for attempt in range(MAX_SEAT_TRIES):
            if not candidates:
                RECORD.counts["seat map empty"] += 1
                return None
            wanted = random.choice((1, 1, 2))
            seats = random.sample(candidates, min(wanted, len(candidates)))
            status, body = self.place(
                [{"event_id": event.id, "seat_ids": seats}], "POST /orders [seat]", headers
            )
            if status == 201:
                return body
            if body.get("code") != "seat_unavailable":
                return None
            refused = set(seats) | {int(s) for s in body.get("seats") or []}
            candidates = [seat for seat in candidates if seat not in refused]
            if attempt in (1, 3):
                candidates = self.available_seats(event)
            self.pause(random.uniform(0.1, 0.5))
        RECORD.counts["gave up on seats"] += 1
        return None

    def available_seats(self, event: PlanEvent) -> list[int]:
        status, body = self.call(
            "GET",
            f"/events/{event.id}/seats?status=available&limit=200",
            "GET /events/{id}/seats?status=available",
            {200},
        )
        return [int(s["id"]) for s in body.get("items", [])] if status == 200 else []

    def claim_ga(self, event: PlanEvent, headers: dict[str, str]) -> dict[str, Any] | None:
        type_id = random.choice(event.ticket_type_ids)
        quantity = random.choice((1, 2, 2, 3, 4))
        while True:
            item = {"ticket_type_id": type_id, "quantity": quantity}
            status, body = self.place([item], "POST /orders [ga]", headers)
            if status == 201:
                return body
            if body.get("code") != "sold_out" or quantity == 1:
                return None
            quantity = 1  # "only a few left": try for one

    # --- checkout ---

    def checkout(self, event: PlanEvent, order: dict[str, Any], headers: dict[str, str]) -> None:
        order_id = str(order["id"])
        roll = random.random()
        if roll < ABANDON_SHARE:
            RECORD.orders["abandoned"].append(order_id)  # the hold expires and is released
            return
        decline = roll < ABANDON_SHARE + DECLINE_SHARE
        self.pause(random.uniform(0.2, 1.0))  # typing the card number
        token = "tok_decline_insufficient_funds" if decline else "tok_visa"
        status, _ = self.call(
            "POST",
            f"/orders/{order_id}/pay",
            "POST /orders/{id}/pay",
            {402, 410} if decline else {202, 410},
            purchase=True,
            json={"payment_token": token},
            headers=headers,
        )
        if status == 402:
            RECORD.orders["declined"].append(order_id)
        elif status == 202:
            RECORD.orders["paid"].append(order_id)
            self.fetch_tickets(event, order_id, headers)

    def fetch_tickets(self, event: PlanEvent, order_id: str, headers: dict[str, str]) -> None:
        waited = 0.0
        while waited < TICKETS_WAIT_S:
            status, body = self.call(
                "GET",
                f"/orders/{order_id}/tickets",
                "GET /orders/{id}/tickets",
                {200},
                headers=headers,
            )
            if status == 404:
                RECORD.counts["tickets endpoint missing"] += 1
                return
            if status == 200 and body.get("status") == "completed" and body.get("items"):
                RECORD.counts["orders with tickets"] += 1
                for ticket in body["items"]:
                    RECORD.fresh_codes.append((str(ticket["code"]), event.partner))
                return
            delay = random.uniform(0.5, 1.5)
            self.pause(delay)
            waited += delay
        RECORD.counts["tickets late"] += 1


class Browser(JudgedUser):
    """Listing and event pages, seat maps and ticket types."""

    fixed_count = int(os.environ.get("LOADTEST_BROWSERS", "20"))
    wait_time = between(1, 3)

    @task(3)
    def listing(self) -> None:
        self.call("GET", "/events?limit=20", "GET /events", {200})

    @task(4)
    def event_page(self) -> None:
        event = random.choice(plan().events)
        self.call("GET", f"/events/{event.id}", "GET /events/{id}", {200})

    @task(3)
    def seat_map_or_types(self) -> None:
        event = random.choice(plan().events)
        if event.seat_ids:
            path, name = f"/events/{event.id}/seats?limit=200", "GET /events/{id}/seats"
        else:
            path, name = f"/events/{event.id}/ticket-types", "GET /events/{id}/ticket-types"
        self.call("GET", path, name, {200})


class GateScanner(JudgedUser):
    """Scans issued codes once (admitted), again (already used), and forged ones (invalid)."""

    fixed_count = int(os.environ.get("LOADTEST_SCANNERS", "2"))
    wait_time = between(0.2, 1.0)

    def scan(self, code: str, partner: int, name: str, ok: int) -> tuple[int, dict[str, Any]]:
        token = plan().partners[partner].staff_token
        return self.call(
            "POST",
            "/tickets/validate",
            name,
            {ok},
            json={"code": code, "gate": "north"},
            headers={"Authorization": f"Bearer {token}"},
        )

    @task(6)
    def first_scan(self) -> None:
        if not RECORD.fresh_codes:
            return
        code, partner = RECORD.fresh_codes.popleft()
        status, body = self.scan(code, partner, "POST /tickets/validate [valid]", 200)
        if status == 200 and body.get("result") == "admitted":
            RECORD.counts["scan admitted"] += 1
            RECORD.used_codes.append((code, partner))
        elif status == 404:
            RECORD.counts["scan refused a genuine code"] += 1

    @task(2)
    def repeated_scan(self) -> None:
        if RECORD.used_codes:
            code, partner = random.choice(RECORD.used_codes)
            self.scan(code, partner, "POST /tickets/validate [repeat]", 409)

    @task(2)
    def forged_scan(self) -> None:
        source = RECORD.used_codes or list(RECORD.fresh_codes)
        if not source:
            return
        code, partner = random.choice(source)
        position = random.randrange(len(code))
        replacement = random.choice([c for c in "0123456789" if c != code[position]])
        forged = code[:position] + replacement + code[position + 1 :]
        self.scan(forged, partner, "POST /tickets/validate [forged]", 404)


class PartnerWatcher(JudgedUser):
    """A partner refreshing the sales report; the counts must always add up to capacity."""

    fixed_count = int(os.environ.get("LOADTEST_PARTNERS", "1"))
    wait_time = between(2, 4)

    def on_start(self) -> None:
        self.last_sold: dict[int, int] = {}

    @task
    def sales_report(self) -> None:
        event = random.choice(plan().events)
        token = plan().partners[event.partner].token
        with self.client.request(
            "GET",
            f"/partner/events/{event.id}/sales",
            name="GET /partner/events/{id}/sales",
            headers={"Authorization": f"Bearer {token}"},
            catch_response=True,
        ) as resp:
            body = body_of(resp)
            if resp.status_code != 200:
                if resp.status_code >= 500:
                    RECORD.counts["http_5xx"] += 1
                resp.failure(f"unexpected {resp.status_code}")
                return
            total = body["available"] + body["held"] + body["sold"]
            if total != event.capacity:
                RECORD.counts["report capacity mismatch"] += 1
                resp.failure(f"available + held + sold = {total} != capacity {event.capacity}")
            elif body["sold"] < self.last_sold.get(event.id, 0):
                resp.failure("sold went down with no cancellation")
            else:
                self.last_sold[event.id] = body["sold"]
                resp.success()

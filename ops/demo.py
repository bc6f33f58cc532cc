"""`make demo`: `make run`, plus a demo partner, gate staff, customers and an event on sale.

The stack starts as with `make run` (ops/stack.py); once the API is ready, the demo data is
created through the public API, as a partner would (register, create the event, add rows of
seats and a general-admission ticket type, open the sale with its waiting room, publish),
then the logins and the addresses to open are printed. Run again, it finds what it made
before (logins work, the event exists) and creates nothing twice.

The pages to open are listed once, in `PAGES`: each is printed when the server answers it
(pages other work adds, such as `/panel/`, appear here as soon as they exist).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.settings import get_settings
from ops.stack import run

PASSWORD = "demo-password-1"
PARTNER = "partner@demo.boxoffice.test"
STAFF = "gate@demo.boxoffice.test"
CUSTOMERS = tuple(f"customer{n}@demo.boxoffice.test" for n in (1, 2, 3))
EVENT_NAME = "Demo Night: Flash Sale"

# (what, path): the pages and addresses to open; `{event}` is the demo event's id
PAGES = (
    ("storefront", "/"),
    ("account", "/account/"),
    ("waiting room", "/events/{event}/waiting-room"),
    ("partner panel", "/panel/"),
    ("gate scanner", "/gate/"),
    ("API docs", "/schema/swagger"),
    ("API docs", "/schema/scalar"),
    ("metrics", "/metrics"),
)


@dataclass
class Api:
    base: str
    token: str | None = None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def must(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return answer

    def as_user(self, email: str, **registration: Any) -> Api:
        """A client logged in as `email`, registered first unless it exists."""
        status, answer = self.call("POST", "/auth/login", {"email": email, "password": PASSWORD})
        if status == 401 and registration:
            self.must(
                "POST", "/auth/register", {"email": email, "password": PASSWORD, **registration}
            )
            answer = self.must("POST", "/auth/login", {"email": email, "password": PASSWORD})
        elif status >= 400:
            raise RuntimeError(f"log in as {email}: {status} {answer}")
        return Api(self.base, answer["access_token"])


def seed(base: str) -> int:
    """The demo event's id; accounts and event created unless they exist."""
    api = Api(base)
    partner = api.as_user(
        PARTNER, role="partner", name="Demo Partner", company_name="Demo Shows Ltd"
    )
    for number, email in enumerate(CUSTOMERS, 1):
        api.as_user(email, role="customer", name=f"Demo Customer {number}")
    status, _ = partner.call(
        "POST", "/partner/staff", {"name": "Demo Gate", "email": STAFF, "password": PASSWORD}
    )
    if status not in (201, 409):
        raise RuntimeError(f"POST /partner/staff: {status}")
    for event in partner.must("GET", "/partner/events?limit=200")["items"]:
        if event["name"] == EVENT_NAME:
            return int(event["id"])
    return create_event(partner)


def create_event(partner: Api) -> int:
    now = datetime.now(UTC)
    event = partner.must(
        "POST",
        "/events",
        {
            "name": EVENT_NAME,
            "venue": "Demo Arena",
            "description": "Reserved seats in rows A-E and a standing area; a waiting room "
            "lets 60 customers a minute in, 20 at a time.",
            "starts_at": (now + timedelta(days=30)).isoformat(),
        },
    )
    path = f"/events/{event['id']}"
    rows = {"rows": list("ABCDE"), "seats_per_row": 10, "price_cents": 4500, "section": "Stalls"}
    partner.must("POST", f"{path}/seats", rows)
    standing = {"name": "Standing", "price_cents": 2500, "quantity": 200}
    partner.must("POST", f"{path}/ticket-types", standing)
    sale = {
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(days=7)).isoformat(),
        "hold_seconds": 600,
        "max_tickets_per_customer": 6,
        "waiting_room": {"enabled": True, "admit_per_minute": 60, "max_active": 20},
    }
    partner.must("PUT", f"{path}/sale", sale)
    partner.must("POST", f"{path}/publish")
    return int(event["id"])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status < 400)
    except urllib.error.HTTPError as error:
        return error.code in (401, 403)  # there, behind a login
    except OSError:
        return False


def summary(base: str, event_id: int) -> str:
    pages = [(what, base + path.format(event=event_id)) for what, path in PAGES]
    shown = [f"  {what:<14} {url}" for what, url in pages if answers(url)]
    logins = [
        f"  partner        {PARTNER}",
        f"  gate staff     {STAFF}",
        *(f"  customer       {email}" for email in CUSTOMERS),
    ]
    return "\n".join(
        [
            f"\nDemo ready: event {event_id} ({EVENT_NAME}) is on sale, seats A1-E10, "
            "200 standing, waiting room on.",
            f"Logins (password for all: {PASSWORD}):",
            *logins,
            "Open:",
            *shown,
            f"  worker metrics http://127.0.0.1:{get_settings().worker_metrics_port}/metrics",
            "",
        ]
    )


def main() -> int:
    return run(after_ready=lambda base: summary(base, seed(base)))


if __name__ == "__main__":
    sys.exit(main())

"""The OpenAPI document, completed to say what the server really answers.

Litestar writes the document from the handlers' signatures: their parameters, bodies and
success responses. What it cannot see is added here, in one place, so the handlers stay a
few lines:

- a human summary of every operation (`OPERATIONS`; a route missing from it fails
  tests/integration/test_openapi.py, so a new route cannot go undocumented);
- the bearer security scheme, on each operation whose handler asks for a principal
  (`user`, `customer`, `partner`, `gate`; `viewer` makes it optional);
- every status an operation can answer, errors as RFC 9457 problem+json with their stable
  `code`s: those that follow from the handler (401/403 from its principal, 400/413/415/422
  from a JSON body, 422 from query parameters, 404 from path parameters) and the refusals
  of its rules, listed in `OPERATIONS`;
- the headers: `Idempotency-Key` and `X-Admission-Token` on the requests that read them,
  `Retry-After` on 429 and on a concurrent duplicate, `X-Request-ID` on every answer;
- the bodies of the three hot paths (api/hot_paths.py), which write their responses
  themselves, and request bodies whose shape is "one of two" (an order's items, new seats),
  which msgspec checks in code rather than in the type;
- examples the server accepts.

`complete_openapi` runs once at start-up and hands the finished document to Litestar's
OpenAPI plugin, which serves it as /schema/openapi.json and renders it in the docs pages.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.routes import HTTPRoute

from api.problems import PROBLEM_JSON
from engine.gate import ScannedTicket

BEARER = "bearer"
METRICS_TOKEN = "metricsToken"

# handler parameter -> may that principal be refused for its role (403)
_PRINCIPALS = {"user": False, "customer": True, "partner": True, "gate": True}


class Problem(msgspec.Struct):
    """RFC 9457 problem details, as every error is answered (api/problems.py). Refusals may
    add fields: `errors` (the offending fields of a 422), `field`, `seats`, `checks`, ..."""

    type: str
    title: str
    status: int
    detail: str
    code: str


class FieldError(msgspec.Struct):
    field: str | None
    message: str | None
    source: str | None = None


class ValidationProblem(msgspec.Struct):
    """A 422 `validation_error`: the problem, with the offending fields named."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None
    field: str | None = None


class ScanAdmitted(msgspec.Struct):
    """A first scan of a valid ticket: the holder may enter."""

    result: Literal["admitted"]
    ticket: ScannedTicket


class ScanRefused(msgspec.Struct):
    """A scan that does not admit: problem+json with the scan's `result`."""

    type: str
    title: str
    status: int
    detail: str
    code: Literal["invalid_ticket", "already_used", "ticket_void"]
    result: Literal["invalid", "already_used", "void"]
    used_at: datetime | None = None
    ticket_id: int | None = None


@dataclass(frozen=True)
class Operation:
    """What the handler's signature does not say about an operation."""

    summary: str
    # status -> the problem `code`s the operation's rules answer with it
    refusals: dict[int, tuple[str, ...]] = field(default_factory=dict)
    description: str | None = None
    rate_limited: bool = False
    idempotent: bool = False


_PURCHASE = "A refused purchase is recorded with its reason for the event's sales report."

PAYMENT_TOKENS = (
    "Payments are simulated: any `payment_token` pays, except one that starts with "
    "`tok_decline` (for example `tok_decline_insufficient_funds`), which is declined: 402 "
    "`payment_declined`, the order becomes `payment_failed` and its seats or units are on "
    "sale again at once. Use `tok_visa` (or any other token) to pay."
)

_SCAN_CODES: dict[int, tuple[str, ...]] = {
    404: ("invalid_ticket",),
    409: ("already_used",),
    410: ("ticket_void",),
}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/auth/register"): Operation(
        "Create a partner or customer account",
        {409: ("email_taken",)},
        rate_limited=True,
    ),
    ("POST", "/auth/login"): Operation(
        "Log in: a bearer token for the other requests",
        {401: ("invalid_credentials", "account_disabled")},
        rate_limited=True,
    ),
    ("POST", "/auth/refresh"): Operation(
        "Trade a refresh token for a new access token and the refresh token that replaces it",
        {401: ("invalid_refresh_token", "account_disabled")},
    ),
    ("POST", "/auth/logout"): Operation(
        "End a sign-in: none of its refresh tokens works again",
        {401: ("invalid_refresh_token",)},
    ),
    ("GET", "/me"): Operation("The logged-in user"),
    ("POST", "/partner/staff"): Operation(
        "Create a gate scanner account for this partner", {409: ("email_taken",)}
    ),
    ("GET", "/health"): Operation("Liveness: the process answers"),
    ("GET", "/ready"): Operation("Readiness: PostgreSQL and Redis answer", {503: ("not_ready",)}),
    ("GET", "/metrics"): Operation(
        "Prometheus metrics (text exposition format)",
        description=(
            "Open in development; with METRICS_TOKEN set it needs "
            "`Authorization: Bearer <METRICS_TOKEN>`; in production without a token, 404."
        ),
    ),
    ("GET", "/events"): Operation("Published events, searchable by text and date"),
    ("POST", "/events"): Operation("Create an event (a draft)"),
    ("GET", "/events/{event_id}"): Operation(
        "An event with its ticket types and lineup (drafts: their owner only)"
    ),
    ("PATCH", "/events/{event_id}"): Operation("Change an event's details"),
    ("DELETE", "/events/{event_id}"): Operation(
        "Delete an event (archived when it has past orders)", {409: ("event_has_sales",)}
    ),
    ("POST", "/events/{event_id}/publish"): Operation(
        "Publish an event (not a cancelled one)", {409: ("invalid_state",)}
    ),
    ("POST", "/events/{event_id}/cancel"): Operation(
        "Call an event off: cancelled, its sale stops; orders stay for their customers to cancel",
        {409: ("invalid_state",)},
    ),
    ("PUT", "/events/{event_id}/sale"): Operation(
        "Open the on-sale window (hold time, per-customer limit, waiting room)",
        {409: ("invalid_state",)},
    ),
    ("PATCH", "/events/{event_id}/sale"): Operation(
        "Change the running sale: pause the waiting room, change its rate, close early",
        {409: ("invalid_state",)},
    ),
    ("GET", "/partner/events"): Operation("The partner's own events, drafts included"),
    ("GET", "/events/{event_id}/seats"): Operation("An event's seats with their live status"),
    ("POST", "/events/{event_id}/seats"): Operation(
        "Add reserved seats, listed or as rows", {409: ("duplicate_seat",)}
    ),
    ("GET", "/events/{event_id}/ticket-types"): Operation(
        "An event's general-admission ticket types with live availability"
    ),
    ("POST", "/events/{event_id}/ticket-types"): Operation("Add a general-admission ticket type"),
    ("PATCH", "/seats/{seat_id}"): Operation(
        "Change a seat's price or section", {409: ("seat_not_available",)}
    ),
    ("DELETE", "/seats/{seat_id}"): Operation("Delete a seat", {409: ("seat_not_available",)}),
    ("PATCH", "/ticket-types/{type_id}"): Operation(
        "Change a ticket type", {409: ("quantity_below_sold",)}
    ),
    ("DELETE", "/ticket-types/{type_id}"): Operation(
        "Delete a ticket type", {409: ("event_has_sales",)}
    ),
    ("GET", "/attractions"): Operation("Attractions (performers)"),
    ("POST", "/attractions"): Operation("Create an attraction"),
    ("GET", "/attractions/{attraction_id}"): Operation("An attraction"),
    ("PATCH", "/attractions/{attraction_id}"): Operation("Change an attraction"),
    ("DELETE", "/attractions/{attraction_id}"): Operation(
        "Delete an attraction", {409: ("attraction_in_use",)}
    ),
    ("GET", "/events/{event_id}/lineup"): Operation("An event's lineup"),
    ("POST", "/events/{event_id}/lineup"): Operation(
        "Add an attraction to an event's lineup", {409: ("lineup_exists",)}
    ),
    ("DELETE", "/events/{event_id}/lineup/{attraction_id}"): Operation(
        "Remove an attraction from an event's lineup"
    ),
    ("POST", "/orders"): Operation(
        "Reserve seats or units: an order on hold until it is paid",
        {
            403: ("admission_required",),
            404: ("not_found",),
            409: ("seat_unavailable", "sold_out", "limit_exceeded", "sale_not_open"),
        },
        description=(
            "All or nothing, across one or several events. Each item is either "
            "`{event_id, seat_ids}` (reserved seating) or `{ticket_type_id, quantity}` "
            "(general admission). While an event's waiting room is enabled, its items need "
            "the `X-Admission-Token` the waiting room handed this customer. " + _PURCHASE
        ),
        rate_limited=True,
        idempotent=True,
    ),
    ("GET", "/orders/{order_id}"): Operation("An order with its history"),
    ("POST", "/orders/{order_id}/pay"): Operation(
        "Pay a reserved order (simulated payment); tickets follow asynchronously",
        {
            402: ("payment_declined",),
            409: ("invalid_state",),
            410: ("hold_expired",),
        },
        description=PAYMENT_TOKENS
        + " 202 means paid: the order becomes `completed`, with its tickets, once it is "
        "written to PostgreSQL. " + _PURCHASE,
        rate_limited=True,
        idempotent=True,
    ),
    ("POST", "/orders/{order_id}/cancel"): Operation(
        "Cancel an order: seats back on sale, tickets void, refund simulated",
        {409: ("tickets_used", "invalid_state")},
    ),
    ("GET", "/me/orders"): Operation("The customer's orders, newest first"),
    ("GET", "/orders/{order_id}/tickets"): Operation(
        "An order's tickets with their codes (empty until the order is completed)"
    ),
    ("GET", "/tickets/{ticket_id}/qr.png"): Operation("A ticket's QR code (PNG)"),
    ("POST", "/tickets/validate"): Operation(
        "Scan a ticket at the gate: the first scan admits",
        _SCAN_CODES,
        description=(
            "200 admits. A refusal is problem+json with `result`: 404 `invalid` (forged, "
            "unknown, or another partner's ticket), 409 `already_used` (with `used_at`), "
            "410 `void` (the order was cancelled)."
        ),
    ),
    ("POST", "/tickets/{code}/validate"): Operation(
        "Scan a ticket, its code in the path (as POST /tickets/validate)", _SCAN_CODES
    ),
    ("GET", "/events/{event_id}/gate-keys"): Operation(
        "Public keys that verify this event's ticket codes offline"
    ),
    ("POST", "/events/{event_id}/gate-keys/rotate"): Operation(
        "Start signing new tickets of this event with a new key"
    ),
    ("GET", "/events/{event_id}/revoked"): Operation(
        "Ticket codes voided since a time, for offline scanners"
    ),
    ("POST", "/events/{event_id}/queue"): Operation(
        "Join an event's waiting room (idempotent per customer)",
        {409: ("sale_not_open",)},
        rate_limited=True,
    ),
    ("GET", "/events/{event_id}/queue"): Operation(
        "A customer's place in the waiting room; poll it until admitted",
        rate_limited=True,
    ),
    ("GET", "/partner/events/{event_id}/sales"): Operation(
        "Sales report: availability, revenue, orders by status, refusals by reason"
    ),
    ("GET", "/partner/events/{event_id}/orders"): Operation(
        "The orders of one of the partner's events, searchable"
    ),
    ("GET", "/partner/events/{event_id}/orders.csv"): Operation(
        "Every order of the event as CSV (streamed)"
    ),
    ("GET", "/partner/events/{event_id}/attendees.csv"): Operation(
        "One CSV row per valid or used ticket: label, holder, code, status, check-in time"
    ),
}

# the hot paths' success bodies, which Litestar cannot read from `Response[Any]`
_SUCCESS_BODIES = {
    ("POST", "/orders"): "Order",
    ("POST", "/orders/{order_id}/pay"): "Order",
    ("POST", "/tickets/validate"): "ScanAdmitted",
    ("POST", "/tickets/{code}/validate"): "ScanAdmitted",
}
_SCAN_REFUSALS = {
    404: "forged, unknown, or another partner's ticket (`result: invalid`)",
    409: "scanned before (`result: already_used`, `used_at`)",
    410: "the order was cancelled (`result: void`)",
}

# OpenAPI links: what a created resource's id opens next (schemathesis follows them in its
# stateful phase, and the docs show them). (method, path) of the creating operation ->
# the operations that take `parameter` from the answer's `id`.
LINKS: dict[tuple[str, str], tuple[str, tuple[tuple[str, str], ...]]] = {
    ("POST", "/events"): (
        "event_id",
        (
            ("GET", "/events/{event_id}"),
            ("PATCH", "/events/{event_id}"),
            ("POST", "/events/{event_id}/seats"),
            ("POST", "/events/{event_id}/ticket-types"),
            ("PUT", "/events/{event_id}/sale"),
            ("POST", "/events/{event_id}/publish"),
            ("GET", "/partner/events/{event_id}/sales"),
            ("DELETE", "/events/{event_id}"),
        ),
    ),
    ("POST", "/attractions"): (
        "attraction_id",
        (("GET", "/attractions/{attraction_id}"), ("PATCH", "/attractions/{attraction_id}")),
    ),
    ("POST", "/events/{event_id}/ticket-types"): (
        "type_id",
        (("PATCH", "/ticket-types/{type_id}"), ("DELETE", "/ticket-types/{type_id}")),
    ),
    ("POST", "/orders"): (
        "order_id",
        (
            ("GET", "/orders/{order_id}"),
            ("POST", "/orders/{order_id}/pay"),
            ("POST", "/orders/{order_id}/cancel"),
            ("GET", "/orders/{order_id}/tickets"),
        ),
    ),
}

ORDER_EXAMPLES = {
    "seats": {
        "summary": "Two reserved seats",
        "value": {"items": [{"event_id": 1, "seat_ids": [1, 2]}]},
    },
    "general_admission": {
        "summary": "Three general-admission units",
        "value": {"items": [{"ticket_type_id": 1, "quantity": 3}]},
    },
}

_ORDER_ITEM = {
    "oneOf": [
        {
            "type": "object",
            "title": "Seats",
            "properties": {
                "event_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                "seat_ids": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                    "minItems": 1,
                    "maxItems": 100,
                },
            },
            "required": ["event_id", "seat_ids"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "title": "General admission",
            "properties": {
                "ticket_type_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
            },
            "required": ["ticket_type_id", "quantity"],
            "additionalProperties": False,
        },
    ]
}


def complete_openapi(app: Litestar) -> dict[str, Any]:
    """Complete Litestar's document for `app` and have its OpenAPI plugin serve it."""
    document = app.openapi_schema.to_schema()
    handlers = _handlers_by_operation(app)
    components = document.setdefault("components", {})
    _add_components(components)
    bodies = _exact_bodies(components, handlers)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method.upper() in _METHODS:
                key = (method.upper(), path)
                if key in bodies:
                    content = operation["requestBody"]["content"]["application/json"]
                    content["schema"] = bodies[key]
                _complete_operation(key, operation, handlers.get(key), components)
    _add_links(document)
    document["info"]["description"] = DESCRIPTION
    plugin = app.plugins.get(OpenAPIPlugin)
    # the plugin serves the dict it cached; Litestar offers no other hook to complete it
    plugin._openapi_schema = document
    return document


_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}

DESCRIPTION = (
    "Flash-sale ticketing: events, seats and general admission, a virtual waiting room, "
    "orders held then paid, QR tickets scanned at the gate.\n\n"
    "**Authentication**: `POST /auth/login` answers an `access_token`; send it as "
    "`Authorization: Bearer <token>` (the Authorize button). Roles: `partner`, `customer`, "
    "`staff` (a partner's gate scanner), `admin`.\n\n"
    "**Errors** are RFC 9457 problem details (`application/problem+json`) with a stable "
    "snake_case `code`; each operation lists the statuses and codes it answers.\n\n"
    "**Idempotency**: `POST /orders` and `POST /orders/{order_id}/pay` honour an "
    "`Idempotency-Key` header: the same key from the same user on the same request returns "
    "the first answer again (kept 24 h, marked `Idempotent-Replayed: true`); a concurrent "
    "duplicate gets 409 `idempotency_in_progress` with `Retry-After`; the key on another "
    "request gets 422 `idempotency_key_reused`.\n\n"
    "**Payments** are simulated. " + PAYMENT_TOKENS + "\n\n"
    "**Lists** are `{items, next_cursor}`; pass `next_cursor` back as `?cursor=`.\n\n"
    "Every answer carries `X-Request-ID` (the client's own when it sent a sane one); it is "
    "in the server's log lines of that request."
)


def _add_links(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for (method, path), (parameter, targets) in LINKS.items():
        created = paths[path][method.lower()]["responses"]
        success = next(status for status in created if status.startswith("2"))
        created[success]["links"] = {
            paths[target][verb.lower()]["operationId"]: {
                "operationId": paths[target][verb.lower()]["operationId"],
                "parameters": {parameter: "$response.body#/id"},
            }
            for verb, target in targets
        }


def _handlers_by_operation(app: Litestar) -> dict[tuple[str, str], Any]:
    """(METHOD, OpenAPI path) -> the handler that documents it."""
    found: dict[tuple[str, str], Any] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                found[(method, route.path_format or "/")] = handler
    return found


def _exact_bodies(
    components: dict[str, Any], handlers: dict[tuple[str, str], Any]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Request bodies as msgspec decodes them: Litestar's schemas drop the constraints of
    optional lists and of their items, and do not say that an unknown field is refused
    (`forbid_unknown_fields`); msgspec's own JSON Schema of the same types says both."""
    bodies = {}
    for key, handler in handlers.items():
        body = handler.parsed_fn_signature.parameters.get("data")
        if body is not None:
            bodies[key] = _without_annotations(body.annotation)
    types = list(dict.fromkeys(bodies.values()))
    refs, schemas = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    components.setdefault("schemas", {}).update(schemas)
    return {key: refs[types.index(tp)] for key, tp in bodies.items()}


def _without_annotations(annotation: Any) -> Any:
    """`JSONBody[X]` is `Annotated[X, Body(...)]`: msgspec wants X."""
    return annotation.__origin__ if hasattr(annotation, "__metadata__") else annotation


def _principal_of(handler: Any) -> str | None:
    if handler is None:
        return None
    names = inspect.signature(handler.fn).parameters
    for name in (*_PRINCIPALS, "viewer"):
        if name in names:
            return name
    return None


def _complete_operation(
    key: tuple[str, str], operation: dict[str, Any], handler: Any, components: dict[str, Any]
) -> None:
    described = OPERATIONS.get(key)
    if described is None:
        return  # tests/integration/test_openapi.py fails on an undescribed operation
    operation["summary"] = described.summary
    if described.description:
        operation["description"] = described.description
    _document_security(key, operation, _principal_of(handler))
    _document_parameters(key, operation, described, components)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("400", None)  # Litestar's {status_code, detail, extra}: we answer problems
    scan = key in (("POST", "/tickets/validate"), ("POST", "/tickets/{code}/validate"))
    for status, codes in sorted(_statuses(key, operation, handler, described).items()):
        if scan and status in _SCAN_REFUSALS:
            responses[str(status)] = _scan_refusal(_SCAN_REFUSALS[status])
        else:
            responses[str(status)] = _problem_response(status, codes)
    if key == ("GET", "/metrics"):
        responses["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    if key in _SUCCESS_BODIES:
        _document_success(responses, _SUCCESS_BODIES[key])
    for response in responses.values():
        response.setdefault("headers", {})["X-Request-ID"] = {
            "$ref": "#/components/headers/XRequestID"
        }


def _document_security(
    key: tuple[str, str], operation: dict[str, Any], principal: str | None
) -> None:
    if key == ("GET", "/metrics"):
        operation["security"] = [{}, {METRICS_TOKEN: []}]
    elif principal == "viewer":
        operation["security"] = [{}, {BEARER: []}]
    elif principal is not None:
        operation["security"] = [{BEARER: []}]


def _document_parameters(
    key: tuple[str, str],
    operation: dict[str, Any],
    described: Operation,
    components: dict[str, Any],
) -> None:
    parameters = operation.get("parameters", [])
    for parameter in parameters:
        if parameter.get("in") == "query" and "date-time" in str(parameter.get("schema")):
            _document_time_query(parameter)
    if described.idempotent:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if key == ("POST", "/orders"):
        parameters.append({"$ref": "#/components/parameters/AdmissionToken"})
        _document_order_body(operation)
    if key == ("POST", "/events/{event_id}/seats"):
        _document_seats_body(operation, components["schemas"]["SeatsIn"]["properties"])
    if parameters:
        operation["parameters"] = parameters


def _statuses(
    key: tuple[str, str], operation: dict[str, Any], handler: Any, described: Operation
) -> dict[int, list[str]]:
    """Every error status the operation can answer -> the problem `code`s it comes with."""
    statuses: dict[int, list[str]] = {}

    def refuse(status: int, *codes: str) -> None:
        listed = statuses.setdefault(status, [])
        listed.extend(code for code in codes if code not in listed)

    principal = _principal_of(handler)
    if key == ("GET", "/metrics"):
        refuse(401, "not_authenticated")
        refuse(404, "not_found")
    elif principal is not None:
        refuse(401, "not_authenticated", "account_disabled")
        if _PRINCIPALS.get(principal, False):
            refuse(403, "forbidden")
    if "requestBody" in operation:
        refuse(400, "malformed_json")
        refuse(413, "payload_too_large")
        refuse(415, "unsupported_media_type")
        refuse(422, "validation_error")
    places = {parameter.get("in") for parameter in operation.get("parameters", [])}
    if "query" in places:
        refuse(422, "validation_error", "invalid_cursor")
    if "path" in places:
        refuse(404, "not_found")
        refuse(422, "validation_error")  # an id out of range, a code too long
    if described.rate_limited:
        refuse(429, "rate_limited")
    if described.idempotent:
        refuse(409, "idempotency_in_progress")
        refuse(422, "idempotency_key_reused")
    for status, codes in described.refusals.items():
        refuse(status, *codes)
    return statuses


def _document_time_query(parameter: dict[str, Any]) -> None:
    """A time in the query: Litestar also reads a number, as Unix time."""
    parameter["schema"] = {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}, {"type": "null"}]
    }
    described = parameter.get("description")
    parameter["description"] = (described + "; " if described else "") + (
        "RFC 3339, or Unix time in seconds"
    )


def _problem_response(status: int, codes: list[str]) -> dict[str, Any]:
    schema = "ValidationProblem" if status == 422 else "Problem"
    response: dict[str, Any] = {
        "description": "`code`: " + ", ".join(f"`{code}`" for code in codes),
        "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if status == 429 or "idempotency_in_progress" in codes:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def _scan_refusal(why: str) -> dict[str, Any]:
    return {
        "description": f"Not admitted: {why}",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ScanRefused"}}},
    }


def _document_success(responses: dict[str, Any], schema: str) -> None:
    for status, response in responses.items():
        if status.startswith("2"):
            response["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
            }


def _document_order_body(operation: dict[str, Any]) -> None:
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "items": {
                            "type": "array",
                            "items": _ORDER_ITEM,
                            "minItems": 1,
                            "maxItems": 100,
                        }
                    },
                    "required": ["items"],
                },
                "examples": ORDER_EXAMPLES,
            }
        },
    }


def _document_seats_body(operation: dict[str, Any], fields: dict[str, Any]) -> None:
    """`SeatsIn` accepts one of two shapes; say which."""
    content = operation["requestBody"]["content"]["application/json"]

    def field_schema(name: str) -> Any:
        """The field's schema without its `null`: a listed field must have a value."""
        schema = copy.deepcopy(fields[name])
        members = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
        return members[0] if len(members) == 1 else {"anyOf": members}

    listed = {
        "type": "object",
        "title": "Listed seats",
        "properties": {"seats": field_schema("seats")},
        "required": ["seats"],
        "additionalProperties": False,
    }
    rows = {
        "type": "object",
        "title": "Rows of seats",
        "properties": {
            name: field_schema(name) for name in ("rows", "seats_per_row", "price_cents")
        }
        | {"section": copy.deepcopy(fields["section"])},
        "required": ["rows", "seats_per_row", "price_cents"],
        "additionalProperties": False,
    }
    content["schema"] = {"oneOf": [listed, rows]}
    content["examples"] = {
        "rows": {
            "summary": "Two rows of twenty",
            "value": {"rows": ["A", "B"], "seats_per_row": 20, "price_cents": 4500},
        },
        "listed": {
            "summary": "Seats one by one",
            "value": {"seats": [{"label": "VIP1", "price_cents": 9000, "section": "VIP"}]},
        },
    }


def _add_components(components: dict[str, Any]) -> None:
    _, schemas = msgspec.json.schema_components(
        [Problem, ValidationProblem, ScanAdmitted, ScanRefused],
        ref_template="#/components/schemas/{name}",
    )
    for name, schema in schemas.items():
        components.setdefault("schemas", {}).setdefault(name, schema)
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The `access_token` of `POST /auth/login`",
        },
        METRICS_TOKEN: {
            "type": "http",
            "scheme": "bearer",
            "description": "METRICS_TOKEN, when the server is configured with one",
        },
    }
    components["parameters"] = {
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": (
                "Any unique string (a UUID): a retry with the same key and body gets the "
                "first answer again instead of acting twice"
            ),
            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        "AdmissionToken": {
            "name": "X-Admission-Token",
            "in": "header",
            "required": False,
            "description": (
                "The `admission_token` of `GET /events/{event_id}/queue`, needed while that "
                "event's waiting room is enabled (else 403 `admission_required`)"
            ),
            "schema": {"type": "string", "maxLength": 2000},
        },
    }
    components["headers"] = {
        "RetryAfter": {
            "description": "Seconds to wait before trying again",
            "schema": {"type": "integer", "minimum": 0},
        },
        "XRequestID": {
            "description": "The request's id (the client's own when sane): in its log lines",
            "required": True,
            "schema": {"type": "string"},
        },
    }

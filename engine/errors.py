"""The one error tree of the domain. Each class carries a stable snake_case `code`;
`api/problems.py` maps the tree to HTTP statuses in one place.

    BoxofficeError
    ├── InvalidInput                  validation_error   a value breaks a rule of the domain
    │   ├── IdempotencyKeyReused      idempotency_key_reused (the key was used on another request)
    │   ├── InvalidCursor             invalid_cursor     a list cursor this server did not hand out
    │   └── MalformedBody             malformed_json     not JSON, not UTF-8, or nested too deep
    ├── UnsupportedMediaType          unsupported_media_type  a body that is not declared JSON
    ├── AuthenticationRequired        not_authenticated  no or bad bearer token
    │   ├── InvalidCredentials        invalid_credentials
    │   ├── AccountDisabled           account_disabled   the user was disabled or deleted
    │   └── RefreshTokenRefused       invalid_refresh_token  unknown, lapsed, revoked or reused
    ├── PermissionDenied              forbidden          the role may never do this
    ├── NotFound                      not_found          unknown, or someone else's
    ├── TooManyAttempts               rate_limited       throttled; carries retry_after (s)
    ├── Conflict                                         the state forbids the change
    │   ├── EmailTaken                email_taken
    │   ├── EventHasSales             event_has_sales
    │   ├── DuplicateSeat             duplicate_seat
    │   ├── SeatNotAvailable          seat_not_available (catalogue edit of a held/sold seat)
    │   ├── QuantityBelowSold         quantity_below_sold
    │   ├── DuplicateLineup           lineup_exists
    │   ├── AttractionInUse           attraction_in_use (still in an event's lineup)
    │   ├── InvalidState              invalid_state
    │   ├── TicketsUsed               tickets_used (a cancel of an order admitted at the gate)
    │   └── IdempotencyInProgress     idempotency_in_progress; carries retry_after
    ├── StoreUnavailable              store_unavailable  the sale's Redis did not answer (503)
    │   └── PaymentNotReplicated      payment_not_replicated (no replica confirmed the payment)
    └── PurchaseRefused               a refused purchase: recorded with its reason
        ├── SeatUnavailable           seat_unavailable
        ├── SoldOut                   sold_out
        ├── LimitExceeded             limit_exceeded
        ├── SaleNotOpen               sale_not_open
        ├── AdmissionRequired         admission_required
        ├── PaymentDeclined           payment_declined
        └── HoldExpired               hold_expired
"""

from __future__ import annotations

from typing import Any, ClassVar


class BoxofficeError(Exception):
    code: ClassVar[str] = "error"
    title: ClassVar[str] = "Request failed"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class InvalidInput(BoxofficeError):
    code = "validation_error"
    title = "Invalid input"


class IdempotencyKeyReused(InvalidInput):
    code = "idempotency_key_reused"
    title = "Idempotency-Key already used for another request"


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"
    title = "Invalid cursor"

    def __init__(self, detail: str = "cursor is not one this server handed out") -> None:
        super().__init__(detail, field="cursor")


class MalformedBody(InvalidInput):
    code = "malformed_json"
    title = "Malformed JSON"


class UnsupportedMediaType(BoxofficeError):
    code = "unsupported_media_type"
    title = "Unsupported media type"


class AuthenticationRequired(BoxofficeError):
    code = "not_authenticated"
    title = "Authentication required"


class InvalidCredentials(AuthenticationRequired):
    code = "invalid_credentials"
    title = "Invalid e-mail or password"


class AccountDisabled(AuthenticationRequired):
    code = "account_disabled"
    title = "This account is disabled"


class RefreshTokenRefused(AuthenticationRequired):
    code = "invalid_refresh_token"
    title = "The refresh token is unknown, lapsed or revoked: log in again"


class PermissionDenied(BoxofficeError):
    code = "forbidden"
    title = "Not allowed for this role"


class NotFound(BoxofficeError):
    code = "not_found"
    title = "Not found"


class TooManyAttempts(BoxofficeError):
    """Too many requests or failed logins from this customer, address or e-mail (API.md:
    429 `rate_limited` with Retry-After)."""

    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class Conflict(BoxofficeError):
    code = "conflict"
    title = "Conflict with the current state"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "E-mail already registered"


class EventHasSales(Conflict):
    code = "event_has_sales"
    title = "Tickets are held or sold"


class DuplicateSeat(Conflict):
    code = "duplicate_seat"
    title = "Seat label already exists in this event"


class SeatNotAvailable(Conflict):
    code = "seat_not_available"
    title = "Seat is held or sold"


class QuantityBelowSold(Conflict):
    code = "quantity_below_sold"
    title = "Quantity below what is held or sold"


class DuplicateLineup(Conflict):
    code = "lineup_exists"
    title = "Attraction already in the lineup"


class AttractionInUse(Conflict):
    code = "attraction_in_use"
    title = "Attraction is in an event's lineup"


class InvalidState(Conflict):
    code = "invalid_state"
    title = "Not allowed in the current state"


class TicketsUsed(Conflict):
    code = "tickets_used"
    title = "A ticket of this order was already used"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    title = "A request with this Idempotency-Key is still running"

    def __init__(self, retry_after: int = 1, detail: str | None = None) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class StoreUnavailable(BoxofficeError):
    """The sale's Redis did not answer (a master failing over, say): nothing was decided
    that the caller was told about; the request may be sent again."""

    code = "store_unavailable"
    title = "The sale's store is unavailable; try again"

    def __init__(self, detail: str | None = None, retry_after: int = 1) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class PaymentNotReplicated(StoreUnavailable):
    """The payment was recorded on the event's Redis master, but no replica confirmed it
    within the wait: it is not acknowledged, as that master's crash could still lose it.
    The order then says what became of it: paid, or still reserved (and payable again)."""

    code = "payment_not_replicated"
    title = "The payment is not yet safely recorded; look at the order before paying again"


class PurchaseRefused(BoxofficeError):
    """A purchase the engine refused; every one is recorded with its `code` as reason."""

    code = "purchase_refused"
    title = "Purchase refused"


class SeatUnavailable(PurchaseRefused):
    code = "seat_unavailable"
    title = "Seat unavailable"


class SoldOut(PurchaseRefused):
    code = "sold_out"
    title = "Sold out"


class LimitExceeded(PurchaseRefused):
    code = "limit_exceeded"
    title = "Per-customer ticket limit exceeded"


class SaleNotOpen(PurchaseRefused):
    code = "sale_not_open"
    title = "Sale is not open"


class AdmissionRequired(PurchaseRefused):
    code = "admission_required"
    title = "Admission token from the waiting room required"


class PaymentDeclined(PurchaseRefused):
    code = "payment_declined"
    title = "Payment declined"


class HoldExpired(PurchaseRefused):
    code = "hold_expired"
    title = "Hold expired"

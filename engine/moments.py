"""The range of moments the engine accepts from outside (bodies, queries, cursors).

Python's datetime reaches year 9999 and PostgreSQL's timestamptz further, but an aware moment
near either end can leave Python's range when shifted to UTC (`0001-01-01T00:00:00+05:00`):
every moment that reaches a store is checked against this range first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.errors import InvalidInput

# PostgreSQL and Python both handle these safely, with any UTC offset
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def in_range(value: datetime) -> bool:
    return value.utcoffset() is not None and EARLIEST <= value < LATEST


def check_moment(field: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise InvalidInput(f"{field} needs a UTC offset (RFC 3339)", field=field)
    if not EARLIEST <= value < LATEST:
        raise InvalidInput(
            f"{field} must be between {EARLIEST.year} and {LATEST.year - 1}", field=field
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, exactly (a float timestamp times 1000 can lose one)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


# within 2**32 s of the epoch (1833 to 2106) a float timestamp in seconds is within half a
# microsecond of the exact one, so fromtimestamp, three times faster, is exact to the ms
_FLOAT_EXACT_MS = 2**32 * 1000


def from_ms(ms: int) -> datetime:
    """The moment `ms` milliseconds after the epoch, exactly."""
    if -_FLOAT_EXACT_MS < ms < _FLOAT_EXACT_MS:
        return datetime.fromtimestamp(ms / 1000, UTC)
    return _EPOCH + timedelta(milliseconds=ms)

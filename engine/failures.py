"""What a failed write to the store means, and how long to wait before trying it again.

A failure is one of three kinds (engine/store/pg_failures.py decides which, for PostgreSQL):

- `UNREACHABLE`: the store could not be reached (refused, lost, timed out). Nothing is wrong
  with the orders: the caller raises and the whole batch is tried again soon.
- `REFUSED`: the store refused an order for now (a deadlock, a seat resold before its void
  landed, a full disk...). The order is put off with `REFUSED_BACKOFF`; the others go on.
- `REFUSED_FOR_GOOD`: no retry can change the answer (the customer is gone, a value breaks a
  rule of the schema): the order becomes a dead letter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Failure(enum.Enum):
    UNREACHABLE = "unreachable"
    REFUSED = "refused"
    REFUSED_FOR_GOOD = "refused_for_good"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays that start at `first_s` and grow by `factor` each failure, up to `cap_s`."""

    first_s: float
    factor: float
    cap_s: float

    def after(self, previous_s: float | None) -> float:
        """The delay after one more failure, given the delay before it (None: the first)."""
        if previous_s is None:
            return min(self.first_s, self.cap_s)
        return min(previous_s * self.factor, self.cap_s)

    def nth(self, failures: int) -> float:
        """The delay after this many failures in a row (1: the first delay)."""
        return min(self.first_s * self.factor ** max(failures - 1, 0), self.cap_s)


# An order the store refused for now, whether a paid order in a worker's batch
# (workers/persist_batcher.py) or a change the sync loop writes (engine/persistence.py):
# tried again after 1 s, then twice as long each time, at least once a minute, so a paid
# order is completed within a minute of PostgreSQL taking it again.
REFUSED_BACKOFF = Backoff(first_s=1.0, factor=2.0, cap_s=60.0)

# why an order was refused for good, as dead letters record it
PERMANENT_REASONS = (
    "customer_missing",
    "foreign_key_violation",
    "check_violation",
    "not_null_violation",
    "restrict_violation",
    "invalid_data",
)

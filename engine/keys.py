"""Every Redis key name, built in one place.

Inventory and waiting-room keys of one event share the hash tag `{ev:<id>}`, so each Lua
script touches a single Redis Cluster slot, and a cluster spreads events over its masters
(one event lives on one master: that is the ceiling of one event's sale).

Keys that are not per event carry no tag and are only ever read or written one key per
command (never in a script or a MULTI with another key), so on a cluster each simply lives
on the master of its own slot: a user's idempotency records and rate buckets are spread
by user, the index of hydrated events, the ticket type -> event map and the revoked users
are one key each, read once per process refresh or per cache miss, not per claim. The
failed-login counters share one tag on purpose (lua/login_attempt.lua counts on all four
at once); logins are bounded by argon2's CPU long before that one slot. ARQ's keys are on
the job queue's standalone Redis.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from engine.emails import normalise_email

PREFIX = "bx"

# The failed-login counters share one hash tag, so lua/login_attempt.lua counts an attempt
# on all of them at once (one cluster slot; logins are bounded by argon2's CPU, not Redis).
LOGIN_TAG = f"{{{PREFIX}:login}}"
MAX_ADDRESS = 64  # characters of a client address kept in a key


def _email_digest(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()[:32]


def login_failures_by_email(email: str) -> str:
    """STRING failed (or pending) logins of this e-mail, from anywhere, this window."""
    return f"{LOGIN_TAG}:fail:email:{_email_digest(email)}"


def login_failures_by_address(address: str) -> str:
    """STRING failed (or pending) logins from this client address, any e-mail, this window."""
    return f"{LOGIN_TAG}:fail:addr:{address[:MAX_ADDRESS]}"


def login_failures_by_pair(email: str, address: str) -> str:
    """STRING failed (or pending) logins of this e-mail from this address, this window."""
    return f"{LOGIN_TAG}:fail:pair:{_email_digest(email)}:{address[:MAX_ADDRESS]}"


def refresh_family(family_id: str) -> str:
    """HASH of one sign-in's refresh tokens (engine/refresh_tokens.py): `user`, `current`
    (the digest of the token that may be used next), and `used:<digest>` for each token
    already rotated; expires when the sign-in lapses unused."""
    return f"{PREFIX}:refresh:{family_id}"


def login_known_pair(email: str, address: str) -> str:
    """STRING set when this e-mail logged in from this address lately: such a pair is not
    held back by the per-e-mail and per-address ceilings (only by its own limit)."""
    return f"{LOGIN_TAG}:known:{_email_digest(email)}:{address[:MAX_ADDRESS]}"


def rate_bucket(scope: str, who: str) -> str:
    """HASH token bucket of one customer or address for one kind of request
    (lua/rate_limit.lua); the claims' and the waiting room's live under the event's tag."""
    return f"{PREFIX}:rate:{scope}:{who[:MAX_ADDRESS]}"


def web_session(session_id: str) -> str:
    """STRING msgpack WebSession of one browser session (engine/web_sessions.py), expiring
    with it. Named by a digest of the id, so the key names do not reveal the cookies."""
    digest = hashlib.sha256(session_id.encode()).hexdigest()[:40]
    return f"{PREFIX}:session:{digest}"


HYDRATED_EVENTS = f"{PREFIX}:events:hydrated"
# HASH ticket type id -> event id, for every ticket type of a hydrated event: a claim finds the
# event of a general-admission item here, not in PostgreSQL. Written by hydration; a deleted
# type keeps its entry (its event's claim script answers 404), a deleted event loses those of
# the types it still had
TICKET_TYPE_EVENTS = f"{PREFIX}:ticket-types:event"

# HASH user id -> "1" for each disabled or deleted user, and field "v", changed with every
# change, so each process re-reads the hash only when it changed (engine/revocation.py)
REVOKED_USERS = f"{PREFIX}:users:revoked"


def event_tag(event_id: int) -> str:
    return f"{{ev:{event_id}}}"


# The order of these names is the KEYS order every Lua script in lua/ expects.
EVENT_KEY_NAMES = (
    "meta",  # HASH: status, sale window (ms), hold seconds, limit per customer, event start
    "seats",  # HASH seat id -> "a" | "h:<order>" | "s:<order>"
    "seat_info",  # HASH seat id -> "<price_cents>|<label>"
    "pools",  # HASH "<type>:a|h|s|p|n" -> available, held, sold, price, name per ticket type
    "customers",  # HASH customer id -> tickets held + sold in this event
    "holds",  # ZSET order -> hold expiry (ms) while held or paying
    "parts",  # HASH order -> JSON of this event's part of the order (seats, pools, state)
    "orders",  # HASH order -> JSON order document, for orders whose home is this event
    "outbox",  # ZSET order -> ms it was paid, until persisted and completed
    "changes",  # ZSET order -> ms of its last status change, until written to PostgreSQL
    "refusals",  # STREAM of refused purchases, until written to PostgreSQL
    "counts",  # HASH a|h|s -> units available, held, sold in this event
    # check-in: authoritative once meta has `tickets` (set when they were loaded from PostgreSQL)
    "tickets",  # HASH ticket ref (hex) -> "v" | "u:<used ms>" | "x:<void ms>"
    "ticket_info",  # HASH ticket ref (hex) -> JSON {id, o: order, l: label, s: seat, t: type, d}
    "scans",  # STREAM of gate scans, until written to PostgreSQL
    "voided",  # ZSET ticket id -> ms it was voided (offline scanners' revocation list)
    # HASH "c:<customer>" | "a:<address>" -> each bucket's GCRA time, ms: the claim rate buckets
    # (lua/_bucket.lua), charged by lua/claim.lua in the call that claims
    "rate",
)


@lru_cache(maxsize=4096)
def event_keys(event_id: int) -> tuple[str, ...]:
    """The KEYS of every per-event script, built once per event (they go with each call)."""
    tag = event_tag(event_id)
    return tuple(f"{tag}:{name}" for name in EVENT_KEY_NAMES)


def gate_keys(event_id: int) -> str:
    """HASH key id -> msgpack GateKey (public key, private key sealed), and field `partner` ->
    the event's partner id: the copy of a live event's gate keys that scans verify codes with
    (engine/gate_keys.py LiveGateKeys). Written by hydration and by every key added; deleted
    with the event's other keys."""
    return f"{event_tag(event_id)}:gate_keys"


def replication_mark(event_id: int) -> str:
    """STRING rewritten after each confirmation that must reach a replica, on the same
    connection, before WAIT: it is replicated after the confirmation, so a replica that has
    it has the confirmation too, whether or not that confirmation itself wrote anything
    (engine/store/scripts.py EventScript.call_replicated)."""
    return f"{event_tag(event_id)}:replicated"


def cancel_lease(home_event_id: int, order_id: str) -> str:
    """STRING set while a cancellation of an order that spans events is under way (one at a
    time: see engine/orders.py Orders.cancel), under the order's home event's tag."""
    return f"{event_tag(home_event_id)}:cancelling:{order_id}"


def idempotency(user_id: int, key: str) -> str:
    """STRING msgpack IdempotencyRecord of one user's Idempotency-Key: the request the key
    belongs to and its response."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"{PREFIX}:idempotency:{user_id}:{digest}"


def event_key(event_id: int, name: str) -> str:
    if name not in EVENT_KEY_NAMES:
        raise KeyError(name)
    return f"{event_tag(event_id)}:{name}"


# The waiting room of one event (engine/waiting_room.py), under the event's hash tag too.
# The order of these names is the KEYS order of lua/waiting_room_visit.lua and
# lua/waiting_room_slot.lua; the last three are the sale engine's own keys, read to see stock
# and holds.
WAITING_ROOM_KEY_NAMES = (
    "wr:cfg",  # STRING JSON of the room's settings, written by hydration (no expiry)
    "wr:state",  # HASH opened, pre-queue size, join sequence, admission credit, rate window
    "wr:pre",  # ZSET customer -> arrival number, joins before the sale opened
    "wr:line",  # ZSET customer -> place number, waiting after the opening (FIFO)
    "wr:active",  # ZSET customer -> ms the shopping slot lapses
    "wr:slots",  # HASH customer -> "<admission expiry ms>" or "<expiry ms>|<order id>"
)


@lru_cache(maxsize=4096)
def waiting_room_keys(event_id: int) -> tuple[str, ...]:
    tag = event_tag(event_id)
    own = [f"{tag}:{name}" for name in WAITING_ROOM_KEY_NAMES]
    return (*own, event_key(event_id, "counts"), event_key(event_id, "holds"))


def waiting_room_settings(event_id: int) -> str:
    """The room's settings (the first of `waiting_room_keys`), rewritten when the sale changes."""
    return f"{event_tag(event_id)}:{WAITING_ROOM_KEY_NAMES[0]}"


def waiting_room_joins(event_id: int) -> str:
    """HASH client address -> joins of this event's queue in the current fixed time window,
    which waiting_room_visit.lua picks by Redis's clock (so every API process counts in the same
    one, whatever its own clock says) and at whose end the hash expires."""
    return f"{event_tag(event_id)}:wr:joins"


def waiting_room_rate(event_id: int) -> str:
    """HASH customer id -> its bucket's GCRA time, ms: joins and polls of this event's queue
    (lua/_bucket.lua), charged by lua/waiting_room_visit.lua in the call that visits."""
    return f"{event_tag(event_id)}:wr:rate"


def waiting_room_shuffle(event_id: int) -> str:
    """The pre-queue in its shuffled order while the opening is being written."""
    return f"{event_tag(event_id)}:wr:shuffled"


def waiting_room_opening_lock(event_id: int) -> str:
    return f"{event_tag(event_id)}:wr:opening"


# -- ARQ's keys ------------------------------------------------------------------------------
# The persist job queue is ARQ's, and workers/job_leases.py leases its jobs the way ARQ itself
# does, so these follow ARQ's storage layout (arq.constants). engine/ does not import ARQ;
# tests/unit/test_keys.py checks that they agree with the installed ARQ.
ARQ_QUEUE = "arq:queue"
# written by a worker once its start-up is done, then every health-check interval
ARQ_HEALTH_CHECK = f"{ARQ_QUEUE}:health-check"


def arq_job(job_id: str) -> str:
    return f"arq:job:{job_id}"


def arq_in_progress(job_id: str) -> str:
    return f"arq:in-progress:{job_id}"


def arq_retry(job_id: str) -> str:
    return f"arq:retry:{job_id}"


def arq_result(job_id: str) -> str:
    return f"arq:result:{job_id}"

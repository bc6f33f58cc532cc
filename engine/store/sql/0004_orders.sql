-- Orders, tickets, their status histories, and refused purchases.
-- Written by workers from Redis (never on the claim path), idempotently: every insert has a
-- natural unique key and uses ON CONFLICT. History does not reference catalogue rows by
-- foreign key: lines and tickets keep their own label and price, and a seat or ticket type
-- a partner deletes later must not make an order impossible to record.

CREATE TABLE orders (
    id            text PRIMARY KEY,
    customer_id   bigint NOT NULL REFERENCES users (id),
    status        text NOT NULL CHECK (status IN ('reserved', 'paid', 'completed', 'expired',
                                                  'payment_failed', 'cancelled')),
    total_cents   bigint NOT NULL CHECK (total_cents >= 0),
    payment_ref   text,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    paid_at       timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer ON orders (customer_id, created_at DESC, id DESC);

CREATE TABLE order_lines (
    order_id        text NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no         integer NOT NULL CHECK (line_no >= 0),
    event_id        bigint NOT NULL,
    seat_id         bigint,
    ticket_type_id  bigint,
    label           text NOT NULL,
    price_cents     bigint NOT NULL CHECK (price_cents >= 0),
    PRIMARY KEY (order_id, line_no),
    CHECK ((seat_id IS NULL) <> (ticket_type_id IS NULL))
);
CREATE INDEX order_lines_event ON order_lines (event_id, order_id);

CREATE TABLE order_status_history (
    order_id  text NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    status    text NOT NULL,
    at        timestamptz NOT NULL,
    reason    text,
    -- an order passes through each status at most once (reserved, paid, completed, ...)
    UNIQUE (order_id, status)
);

CREATE TABLE tickets (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        text NOT NULL REFERENCES orders (id),
    line_no         integer NOT NULL,
    event_id        bigint NOT NULL,
    seat_id         bigint,
    ticket_type_id  bigint,
    label           text NOT NULL,
    code            text NOT NULL UNIQUE,
    status          text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'used', 'void')),
    used_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, line_no),
    FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);
-- the last line of defence against selling a seat twice: one live ticket per seat
CREATE UNIQUE INDEX tickets_one_live_per_seat ON tickets (seat_id)
    WHERE seat_id IS NOT NULL AND status <> 'void';
CREATE INDEX tickets_event ON tickets (event_id);

CREATE TABLE ticket_status_history (
    ticket_id  bigint NOT NULL REFERENCES tickets (id),
    status     text NOT NULL,
    at         timestamptz NOT NULL,
    reason     text,
    UNIQUE (ticket_id, status, at)
);

CREATE TABLE seat_status_history (
    seat_id   bigint NOT NULL,
    status    text NOT NULL CHECK (status IN ('available', 'sold')),
    order_id  text NOT NULL,
    at        timestamptz NOT NULL,
    UNIQUE (seat_id, order_id, status)
);

CREATE TABLE purchase_refusals (
    event_id     bigint NOT NULL,
    stream_id    text NOT NULL,
    customer_id  bigint,
    reason       text NOT NULL,
    requested    text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL,
    PRIMARY KEY (event_id, stream_id)
);
CREATE INDEX purchase_refusals_reason ON purchase_refusals (event_id, reason);

-- statuses only move forward; a replayed older snapshot of an order never moves it back
CREATE FUNCTION order_status_rank(status text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE status WHEN 'reserved' THEN 0 WHEN 'paid' THEN 1 WHEN 'completed' THEN 2
                       WHEN 'expired' THEN 3 WHEN 'payment_failed' THEN 3
                       WHEN 'cancelled' THEN 4 END;

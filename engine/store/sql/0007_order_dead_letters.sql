-- Orders PostgreSQL refuses for good (engine/persistence.py permanent_refusal), e.g. a paid
-- order whose customer row was deleted: kept here with the Redis document as it was, and
-- taken out of the retry loops. No foreign key to users or events on purpose: a missing
-- customer is the commonest reason an order lands here.
CREATE TABLE order_dead_letters (
    order_id          text PRIMARY KEY,
    event_id          bigint NOT NULL,  -- the order's home event (engine/order_ids.py)
    customer_id       bigint NOT NULL,
    status            text NOT NULL,    -- the order's status in Redis when it was refused
    reason            text NOT NULL,    -- one of engine.persistence.PERMANENT_REASONS
    sqlstate          text,
    detail            text NOT NULL,    -- PostgreSQL's message
    document          jsonb NOT NULL,
    first_refused_at  timestamptz NOT NULL DEFAULT now(),
    last_refused_at   timestamptz NOT NULL DEFAULT now(),
    attempts          integer NOT NULL DEFAULT 1 CHECK (attempts >= 1)
);
CREATE INDEX order_dead_letters_event ON order_dead_letters (event_id, order_id);

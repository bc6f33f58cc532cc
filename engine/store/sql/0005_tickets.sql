-- Tickets at the gate: per-event signing keys, cached QR images, the scan log, and the
-- e-mail outbox. Like the order history, none of these references catalogue rows by foreign
-- key: an event deleted later must not make a ticket impossible to mint, scan or mail.

CREATE TABLE gate_keys (
    event_id            bigint NOT NULL,
    key_id              integer NOT NULL CHECK (key_id >= 1),
    public_key          bytea NOT NULL CHECK (length(public_key) = 32),
    -- AES-256-GCM nonce || ciphertext, under a key derived from TICKET_SIGNING_KEY
    sealed_private_key  bytea NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, key_id)
);

-- rendered once (by the mail worker after completion, or on the first request), then served
CREATE TABLE ticket_qr_images (
    ticket_id   bigint PRIMARY KEY REFERENCES tickets (id),
    png         bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- every scan: who, at which gate, when, and what the gate answered
CREATE TABLE ticket_scans (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   bigint,  -- NULL when the code named no ticket (forged, or not issued)
    event_id    bigint,
    partner_id  bigint NOT NULL,
    scanned_by  bigint NOT NULL,
    gate        text CHECK (length(gate) <= 100),
    result      text NOT NULL CHECK (result IN ('admitted', 'already_used', 'void', 'invalid')),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_scans_ticket ON ticket_scans (ticket_id, at) WHERE ticket_id IS NOT NULL;
CREATE INDEX ticket_scans_partner ON ticket_scans (partner_id, at);

-- offline scanners sync the codes voided since their last sync
CREATE INDEX ticket_status_history_void ON ticket_status_history (ticket_id, at)
    WHERE status = 'void';

-- messages to customers; a worker delivers them with retries (at least once)
CREATE TABLE mail_outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id         text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('tickets', 'cancellation')),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'skipped', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    -- when a worker may take it: now for a new row, later after a failure, and a lease while
    -- a worker sends it (a worker that dies mid-send leaves it to be taken again)
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    delivered_to     text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    UNIQUE (order_id, kind)
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'pending';

-- The outbox row is written in the same transaction as the status that calls for it, so no
-- completed order misses its tickets and no cancelled paid order misses its notice.
CREATE FUNCTION queue_order_mail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'completed' THEN
        INSERT INTO mail_outbox (order_id, kind) VALUES (NEW.order_id, 'tickets')
        ON CONFLICT DO NOTHING;
    ELSIF NEW.status = 'cancelled' AND EXISTS (
        SELECT 1 FROM order_status_history WHERE order_id = NEW.order_id AND status = 'paid'
    ) THEN
        INSERT INTO mail_outbox (order_id, kind) VALUES (NEW.order_id, 'cancellation')
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER order_status_history_mail
    AFTER INSERT ON order_status_history
    FOR EACH ROW WHEN (NEW.status IN ('completed', 'cancelled'))
    EXECUTE FUNCTION queue_order_mail();

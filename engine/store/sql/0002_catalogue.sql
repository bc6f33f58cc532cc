-- Catalogue: what an on-sale window needs to be usable, and the partner's own event list.

-- hydration reads these whenever a window exists; the waiting room needs its rate and cap
ALTER TABLE events
    ADD CONSTRAINT events_sale_complete CHECK (
        sale_starts_at IS NULL
        OR (hold_seconds IS NOT NULL AND max_tickets_per_customer IS NOT NULL)),
    ADD CONSTRAINT events_waiting_room_complete CHECK (
        NOT waiting_room_enabled OR (admit_per_minute IS NOT NULL AND max_active IS NOT NULL));

-- GET /partner/events: one partner's events in (starts_at, id) order
CREATE INDEX events_partner_starts ON events (partner_id, starts_at, id);

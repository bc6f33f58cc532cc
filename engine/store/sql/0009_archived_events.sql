-- An event with orders is archived, not deleted, so its customers keep their orders, refunds
-- and history: `archived` joins the statuses. An archived event is hidden from every list but
-- its partner's `?status=archived`, and closed to changes.
ALTER TABLE events DROP CONSTRAINT events_status_check;
ALTER TABLE events ADD CONSTRAINT events_status_check
    CHECK (status IN ('draft', 'published', 'cancelled', 'archived'));

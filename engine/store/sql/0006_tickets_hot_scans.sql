-- A scan turns a ticket from valid to used. While an index predicate named `status`, that
-- update could never be HOT (heap-only): every scan wrote a new entry into each index of
-- tickets, the 200-digit code's among them, and the gate's database work was mostly index
-- upkeep. Seat uniqueness now reads a generated column that a scan leaves as it was (only
-- voiding changes it), and pages keep room for the updated row version, so a scan's update
-- stays on its page and touches no index.
ALTER TABLE tickets ADD COLUMN live_seat_id bigint
    GENERATED ALWAYS AS (CASE WHEN status <> 'void' THEN seat_id END) STORED;
-- the last line of defence against selling a seat twice: one live ticket per seat
CREATE UNIQUE INDEX tickets_one_live_seat ON tickets (live_seat_id);
DROP INDEX tickets_one_live_per_seat;
ALTER TABLE tickets SET (fillfactor = 70);

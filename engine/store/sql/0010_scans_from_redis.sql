-- Scans of live events are answered in Redis and logged in the event's scan stream; a worker
-- writes them here in batches. The stream entry's id makes a replayed batch harmless.
ALTER TABLE ticket_scans ADD COLUMN stream_id text;
CREATE UNIQUE INDEX ticket_scans_stream ON ticket_scans (event_id, stream_id)
    WHERE stream_id IS NOT NULL;

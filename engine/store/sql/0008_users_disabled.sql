-- Disabled and deleted users (ops/users.py). A deleted user is kept, anonymised, so its
-- orders, tickets and history keep their customer; both are disabled: their tokens are
-- refused (engine/revocation.py) and they cannot log in.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
ALTER TABLE users ADD CONSTRAINT users_deleted_are_disabled
    CHECK (deleted_at IS NULL OR disabled_at IS NOT NULL);
CREATE INDEX users_disabled ON users (id) WHERE disabled_at IS NOT NULL;

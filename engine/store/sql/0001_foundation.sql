-- Accounts, catalogue and inventory: the system of record.

CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role            text NOT NULL CHECK (role IN ('partner', 'customer', 'staff', 'admin')),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email           text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash   text NOT NULL,
    company_name    text CHECK (length(company_name) <= 200),
    address         text CHECK (length(address) <= 500),
    phone           text CHECK (length(phone) <= 40),
    -- staff belong to the partner that created them; nobody else has one
    partner_id      bigint REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'staff') = (partner_id IS NOT NULL)),
    CHECK (role <> 'partner' OR company_name IS NOT NULL)
);
CREATE UNIQUE INDEX users_email_ci ON users (lower(email));
CREATE INDEX users_partner ON users (partner_id) WHERE partner_id IS NOT NULL;

CREATE TABLE events (
    id                         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id                 bigint NOT NULL REFERENCES users (id),
    name                       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description                text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    venue                      text NOT NULL CHECK (length(venue) BETWEEN 1 AND 300),
    starts_at                  timestamptz NOT NULL,
    ends_at                    timestamptz,
    cover_image_url            text CHECK (length(cover_image_url) <= 2000),
    status                     text NOT NULL DEFAULT 'draft'
                               CHECK (status IN ('draft', 'published', 'cancelled')),
    -- the on-sale window; all NULL until the partner opens one
    sale_starts_at             timestamptz,
    sale_ends_at               timestamptz,
    hold_seconds               integer CHECK (hold_seconds BETWEEN 1 AND 86400),
    max_tickets_per_customer   integer CHECK (max_tickets_per_customer BETWEEN 1 AND 1000),
    waiting_room_enabled       boolean NOT NULL DEFAULT false,
    admit_per_minute           integer CHECK (admit_per_minute BETWEEN 1 AND 1000000),
    max_active                 integer CHECK (max_active BETWEEN 1 AND 10000000),
    waiting_room_paused        boolean NOT NULL DEFAULT false,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    search                     tsvector GENERATED ALWAYS AS (
                                   to_tsvector('simple', name || ' ' || venue || ' ' || description)
                               ) STORED,
    CHECK (ends_at IS NULL OR ends_at >= starts_at),
    CHECK (sale_starts_at IS NULL OR sale_ends_at > sale_starts_at),
    CHECK ((sale_starts_at IS NULL) = (sale_ends_at IS NULL))
);
CREATE INDEX events_partner ON events (partner_id, id);
CREATE INDEX events_published_starts ON events (starts_at, id) WHERE status = 'published';
CREATE INDEX events_search ON events USING gin (search);

CREATE TABLE seats (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    label        text NOT NULL CHECK (length(label) BETWEEN 1 AND 40),
    section      text CHECK (length(section) <= 100),
    price_cents  bigint NOT NULL CHECK (price_cents BETWEEN 0 AND 100000000000),
    -- what PostgreSQL knows for sure; in-flight holds live in Redis
    status       text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'sold')),
    UNIQUE (event_id, label)
);
CREATE INDEX seats_event_id ON seats (event_id, id);

CREATE TABLE ticket_types (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price_cents  bigint NOT NULL CHECK (price_cents BETWEEN 0 AND 100000000000),
    quantity     integer NOT NULL CHECK (quantity BETWEEN 0 AND 10000000),
    sold         integer NOT NULL DEFAULT 0 CHECK (sold >= 0),
    CHECK (sold <= quantity)
);
CREATE INDEX ticket_types_event ON ticket_types (event_id, id);

CREATE TABLE attractions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id  bigint NOT NULL REFERENCES users (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    genre       text CHECK (length(genre) <= 100),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE event_lineup (
    event_id       bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    attraction_id  bigint NOT NULL REFERENCES attractions (id),
    performs_at    timestamptz,
    PRIMARY KEY (event_id, attraction_id)
);
CREATE INDEX event_lineup_attraction ON event_lineup (attraction_id);

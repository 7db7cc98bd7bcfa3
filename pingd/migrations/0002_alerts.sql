-- Version 2: notification channels, which checks alert them, and a durable
-- queue of deliveries with every attempt recorded.

CREATE TABLE channels (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'email', 'ntfy', 'gotify', 'discord', 'slack',
                                       'telegram', 'pushover', 'matrix', 'apprise')),
    name TEXT NOT NULL,
    settings TEXT NOT NULL,             -- JSON object; may hold secrets, never logged
    created TEXT NOT NULL
) STRICT;

CREATE TABLE check_channels (
    check_id INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (check_id, channel_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX check_channels_channel ON check_channels (channel_id);

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    event TEXT NOT NULL,                -- JSON snapshot of the flip, so deleting the check loses nothing
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT,                  -- NULL once sent or given up
    last_error TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
) STRICT;

CREATE INDEX deliveries_due ON deliveries (next_attempt) WHERE state = 'pending';
CREATE INDEX deliveries_channel ON deliveries (channel_id, id);

CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
    error TEXT NOT NULL,
    duration_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

PRAGMA user_version = 2;

-- Version 3: ids are never reused. Every table whose ids are held by users,
-- the API or the alert sender becomes AUTOINCREMENT (a plain rowid table gives
-- a deleted newest row's id to the next insert). SQLite cannot add
-- AUTOINCREMENT in place, so each table is rebuilt: renamed aside (with
-- legacy_alter_table, so that other tables' REFERENCES keep naming it),
-- created anew, copied, and the old one dropped. pingd.migrate turns foreign
-- keys off around the steps, so dropping the old tables cascades nothing.
-- sqlite_sequence starts at each table's largest id. A new table, meta, says
-- which pingd last wrote the schema.

PRAGMA legacy_alter_table = ON;
ALTER TABLE projects RENAME TO projects_v2;
ALTER TABLE api_keys RENAME TO api_keys_v2;
ALTER TABLE checks RENAME TO checks_v2;
ALTER TABLE flips RENAME TO flips_v2;
ALTER TABLE channels RENAME TO channels_v2;
ALTER TABLE deliveries RENAME TO deliveries_v2;
ALTER TABLE delivery_attempts RENAME TO delivery_attempts_v2;

CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    ping_key TEXT NOT NULL UNIQUE CHECK (length(ping_key) = 22),
    created TEXT NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,      -- SHA-256 of the key, hex; the key itself is never stored
    read_only INTEGER NOT NULL CHECK (read_only IN (0, 1)),
    created TEXT NOT NULL,
    last_used TEXT
) STRICT;

CREATE TABLE checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL CHECK (length(name) <= 100),
    slug TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    "desc" TEXT NOT NULL DEFAULT '',
    timeout INTEGER NOT NULL CHECK (timeout BETWEEN 60 AND 31536000),
    grace INTEGER NOT NULL CHECK (grace BETWEEN 60 AND 31536000),
    schedule TEXT NOT NULL DEFAULT '',
    tz TEXT NOT NULL DEFAULT 'UTC',
    methods TEXT NOT NULL DEFAULT '' CHECK (methods IN ('', 'POST')),
    manual_resume INTEGER NOT NULL DEFAULT 0 CHECK (manual_resume IN (0, 1)),
    filter_body INTEGER NOT NULL DEFAULT 0 CHECK (filter_body IN (0, 1)),
    filter_default_fail INTEGER NOT NULL DEFAULT 0 CHECK (filter_default_fail IN (0, 1)),
    success_kw TEXT NOT NULL DEFAULT '',
    failure_kw TEXT NOT NULL DEFAULT '',
    start_kw TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'up', 'down', 'paused')),
    n_pings INTEGER NOT NULL DEFAULT 0,
    last_ping TEXT,
    last_start TEXT,
    last_start_rid TEXT,
    last_duration REAL,
    alert_after TEXT,                   -- when the check goes down unless pinged; NULL = never
    created TEXT NOT NULL
) STRICT;

CREATE TABLE flips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    check_id INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    old_status TEXT NOT NULL,
    new_status TEXT NOT NULL,
    reason TEXT NOT NULL
) STRICT;

CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'email', 'ntfy', 'gotify', 'discord', 'slack',
                                       'telegram', 'pushover', 'matrix', 'apprise')),
    name TEXT NOT NULL,
    settings TEXT NOT NULL,             -- JSON object; may hold secrets, never logged
    created TEXT NOT NULL
) STRICT;

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    event TEXT NOT NULL,                -- JSON snapshot of the flip, so deleting the check loses nothing
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT,                  -- NULL once sent or given up
    last_error TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
) STRICT;

CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
    error TEXT NOT NULL,
    duration_ms INTEGER NOT NULL
) STRICT;

INSERT INTO projects SELECT * FROM projects_v2;
INSERT INTO api_keys SELECT * FROM api_keys_v2;
INSERT INTO checks SELECT * FROM checks_v2;
INSERT INTO flips SELECT * FROM flips_v2;
INSERT INTO channels SELECT * FROM channels_v2;
INSERT INTO deliveries SELECT * FROM deliveries_v2;
INSERT INTO delivery_attempts SELECT * FROM delivery_attempts_v2;

DROP TABLE delivery_attempts_v2;
DROP TABLE deliveries_v2;
DROP TABLE channels_v2;
DROP TABLE flips_v2;
DROP TABLE checks_v2;
DROP TABLE api_keys_v2;
DROP TABLE projects_v2;

CREATE INDEX checks_project_slug ON checks (project_id, slug);
CREATE INDEX checks_alert_after ON checks (alert_after) WHERE alert_after IS NOT NULL;
CREATE INDEX flips_check_created ON flips (check_id, created);
CREATE INDEX deliveries_due ON deliveries (next_attempt) WHERE state = 'pending';
CREATE INDEX deliveries_channel ON deliveries (channel_id, id);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

PRAGMA legacy_alter_table = OFF;

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Marks the file as pingd's ("ping" in ASCII), for file(1) and for pingd itself.
PRAGMA application_id = 1885957735;

PRAGMA user_version = 3;

-- pingd's complete current schema. A new database is created from this file;
-- an older one is brought here by pingd/migrations/NNNN_*.sql, one step per
-- user_version. tests/test_migrate.py proves both roads end at the same place.
-- Timestamps are UTC ISO-8601 text written by Python (never CURRENT_TIMESTAMP),
-- in a fixed width so that they sort as text.
-- Every id a user, the API or the alert sender can hold is AUTOINCREMENT, so a
-- deleted row's id is never given to a new row, not even after a restart. Only
-- pings keep plain rowids: a ping is known by (check, n), never by its id, and
-- its row is rewritten in place when the log is full.

CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    ping_key TEXT NOT NULL UNIQUE CHECK (length(ping_key) = 22),
    created TEXT NOT NULL,
    uuid TEXT NOT NULL DEFAULT '',      -- named by the Prometheus URL
    badge_key TEXT NOT NULL DEFAULT ''  -- secret: signs the badge URLs, never shown
) STRICT;

CREATE UNIQUE INDEX projects_uuid ON projects (uuid);

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
    created TEXT NOT NULL,
    failure_threshold INTEGER NOT NULL DEFAULT 1
        CHECK (failure_threshold BETWEEN 1 AND 100),  -- failures in a row before down
    success_threshold INTEGER NOT NULL DEFAULT 1
        CHECK (success_threshold BETWEEN 1 AND 100),  -- successes in a row before up again
    remind_every INTEGER NOT NULL DEFAULT 0,          -- seconds between reminders; 0 = none
    start_window INTEGER NOT NULL DEFAULT 0,          -- seconds to wait for a start; 0 = none
    fail_streak INTEGER NOT NULL DEFAULT 0,
    success_streak INTEGER NOT NULL DEFAULT 0,
    last_digest TEXT NOT NULL DEFAULT ''  -- the last ping's time and hash, to spot a retry
) STRICT;

CREATE INDEX checks_project_slug ON checks (project_id, slug);
CREATE INDEX checks_alert_after ON checks (alert_after) WHERE alert_after IS NOT NULL;

CREATE TABLE pings (
    id INTEGER PRIMARY KEY,
    check_id INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    created TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('success', 'start', 'fail', 'log', 'ign')),
    exit_status INTEGER,
    rid TEXT,
    scheme TEXT NOT NULL,
    method TEXT NOT NULL,
    remote_addr TEXT NOT NULL,
    ua TEXT NOT NULL,
    body BLOB NOT NULL,
    body_size INTEGER NOT NULL,
    repeat INTEGER NOT NULL DEFAULT 0 CHECK (repeat IN (0, 1)),  -- a client's retry of the last
    UNIQUE (check_id, n)
) STRICT;

CREATE TABLE flips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    check_id INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    old_status TEXT NOT NULL,
    new_status TEXT NOT NULL,
    reason TEXT NOT NULL
) STRICT;

CREATE INDEX flips_check_created ON flips (check_id, created);

CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('webhook', 'email', 'ntfy', 'gotify', 'discord', 'slack',
                                       'telegram', 'pushover', 'matrix', 'apprise')),
    name TEXT NOT NULL,
    settings TEXT NOT NULL,             -- JSON object; may hold secrets, never logged
    created TEXT NOT NULL,
    uuid TEXT NOT NULL DEFAULT '',      -- the id a Healthchecks client holds
    remind_every INTEGER NOT NULL DEFAULT 0,  -- reminders for every check it alerts; 0 = none
    notify_late INTEGER NOT NULL DEFAULT 0 CHECK (notify_late IN (0, 1))  -- also when late
) STRICT;

CREATE UNIQUE INDEX channels_uuid ON channels (uuid);

CREATE TABLE check_channels (
    check_id INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (check_id, channel_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX check_channels_channel ON check_channels (channel_id);

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

CREATE INDEX deliveries_due ON deliveries (next_attempt) WHERE state = 'pending';
CREATE INDEX deliveries_channel ON deliveries (channel_id, id);

CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
    error TEXT NOT NULL,
    duration_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

-- Signed-in browsers (the dashboard) and one-time sign-in links, by the
-- SHA-256 of their tokens; revoking the API key they belong to ends them.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    api_key_id INTEGER NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,    -- SHA-256 of the cookie's token, hex
    created TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    expires TEXT NOT NULL,              -- last_seen + the idle limit
    user_agent TEXT NOT NULL,
    remote_addr TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_api_key ON sessions (api_key_id);

CREATE TABLE login_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    api_key_id INTEGER NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,    -- SHA-256 of the link's token, hex
    created TEXT NOT NULL,
    expires TEXT NOT NULL,
    used TEXT                           -- set by the one sign-in it allows
) STRICT;

CREATE INDEX login_links_api_key ON login_links (api_key_id);

-- Checks and channels declared in the config files, with what the last apply
-- wrote (JSON), so that a change made since through the API shows as drift.
CREATE TABLE declared_checks (
    check_id INTEGER PRIMARY KEY REFERENCES checks (id) ON DELETE CASCADE,
    applied TEXT NOT NULL               -- JSON: the declared fields as last applied
) STRICT;

CREATE TABLE declared_channels (
    channel_id INTEGER PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    applied TEXT NOT NULL               -- JSON; secrets only as a SHA-256, never in clear
) STRICT;

-- The alert policy: maintenance windows (by check or tag, recurring or
-- one-off), what each check's channels were last told (an alert a window held
-- back is owed, and settled when it ends), and each pending reminder.
CREATE TABLE windows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    check_id INTEGER REFERENCES checks (id) ON DELETE CASCADE,  -- NULL: by tag
    tag TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    schedule TEXT NOT NULL DEFAULT '',  -- recurring: cron, with tz and duration
    tz TEXT NOT NULL DEFAULT 'UTC',
    duration INTEGER NOT NULL DEFAULT 0,
    starts TEXT,                        -- one-off: from, until
    ends TEXT,
    declared INTEGER NOT NULL DEFAULT 0 CHECK (declared IN (0, 1)),  -- from the config files
    created TEXT NOT NULL
) STRICT;

CREATE INDEX windows_project ON windows (project_id);

CREATE TABLE check_alerts (
    check_id INTEGER PRIMARY KEY REFERENCES checks (id) ON DELETE CASCADE,
    notified TEXT NOT NULL DEFAULT '',  -- what the channels were last told: '', 'up', 'down'
    owed INTEGER NOT NULL DEFAULT 0 CHECK (owed IN (0, 1)),  -- an alert a window held back
    late_told TEXT                      -- the deadline whose late notice was sent
) STRICT;

CREATE INDEX check_alerts_owed ON check_alerts (check_id) WHERE owed = 1;

CREATE TABLE reminders (
    check_id INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    down_since TEXT NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    next_at TEXT NOT NULL,
    PRIMARY KEY (check_id, channel_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX reminders_next_at ON reminders (next_at);

-- Which pingd last created or migrated this database, so that an older pingd
-- that finds a newer schema can say which release made it.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Marks the file as pingd's ("ping" in ASCII), for file(1) and for pingd itself.
PRAGMA application_id = 1885957735;

PRAGMA user_version = 7;

-- Version 7: the alert policy. Checks gain failure and success thresholds
-- with their streaks, reminders, a start window and what their last ping
-- looked like (to tell a client's retry from a new
-- ping); channels gain reminders and late notices; pings can be marked as a
-- repeat. New tables hold maintenance windows, what each check's channels
-- were last told, and each pending reminder.

ALTER TABLE checks ADD COLUMN failure_threshold INTEGER NOT NULL DEFAULT 1
    CHECK (failure_threshold BETWEEN 1 AND 100);
ALTER TABLE checks ADD COLUMN success_threshold INTEGER NOT NULL DEFAULT 1
    CHECK (success_threshold BETWEEN 1 AND 100);
ALTER TABLE checks ADD COLUMN remind_every INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN start_window INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN fail_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN success_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN last_digest TEXT NOT NULL DEFAULT '';

ALTER TABLE channels ADD COLUMN remind_every INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN notify_late INTEGER NOT NULL DEFAULT 0
    CHECK (notify_late IN (0, 1));

ALTER TABLE pings ADD COLUMN repeat INTEGER NOT NULL DEFAULT 0 CHECK (repeat IN (0, 1));

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

PRAGMA user_version = 7;

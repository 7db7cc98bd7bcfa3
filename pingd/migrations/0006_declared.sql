-- Version 6: checks and channels declared in the config files. A row says
-- that the files manage the check or channel, and holds, as JSON, the fields
-- the last apply wrote, so that a change made since through the API or the
-- dashboard shows as drift (the files win at the next apply).

CREATE TABLE declared_checks (
    check_id INTEGER PRIMARY KEY REFERENCES checks (id) ON DELETE CASCADE,
    applied TEXT NOT NULL               -- JSON: the declared fields as last applied
) STRICT;

CREATE TABLE declared_channels (
    channel_id INTEGER PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    applied TEXT NOT NULL               -- JSON; secrets only as a SHA-256, never in clear
) STRICT;

PRAGMA user_version = 6;

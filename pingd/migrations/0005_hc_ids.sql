-- Version 5: the ids a Healthchecks client holds. Every project gets a UUID
-- (its Prometheus URL names it) and a secret badge key (badge URLs are
-- signed with it and reveal nothing else); every channel gets a UUID, which
-- the Healthchecks API gives as its "id". Existing rows get random ones.

ALTER TABLE projects ADD COLUMN uuid TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN badge_key TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN uuid TEXT NOT NULL DEFAULT '';

UPDATE projects SET
    uuid = lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
        || substr(lower(hex(randomblob(2))), 2) || '-'
        || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2)
        || '-' || lower(hex(randomblob(6))),
    badge_key = lower(hex(randomblob(16)));

UPDATE channels SET
    uuid = lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
        || substr(lower(hex(randomblob(2))), 2) || '-'
        || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2)
        || '-' || lower(hex(randomblob(6)));

CREATE UNIQUE INDEX projects_uuid ON projects (uuid);
CREATE UNIQUE INDEX channels_uuid ON channels (uuid);

PRAGMA user_version = 5;

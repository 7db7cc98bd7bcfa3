-- Version 4: signed-in browsers (the dashboard) and one-time sign-in links.
-- Only SHA-256 hashes of their tokens are stored, as for API keys; both
-- belong to the API key they sign in as, so revoking the key ends them.

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

PRAGMA user_version = 4;

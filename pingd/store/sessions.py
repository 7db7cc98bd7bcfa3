"""Queries of browser sessions and one-time sign-in links, kept by the hash of their tokens.

A session and a link each belong to an API key, and rows go with the key
(``ON DELETE CASCADE``). Imports only the package's shared ``times``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from pingd.store.times import from_db_time
from pingd.store.times import to_db_time


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    api_key_id: int
    read_only: bool  # the key's, read with the session
    created: datetime
    last_seen: datetime
    expires: datetime


def _time(value: str) -> datetime:
    parsed = from_db_time(value)
    assert parsed is not None
    return parsed


def insert_session(
    conn: sqlite3.Connection,
    api_key_id: int,
    token_hash: str,
    *,
    now: datetime,
    expires: datetime,
    user_agent: str,
    remote_addr: str,
) -> None:
    """Store a new session by the hash of its token."""
    conn.execute(
        "INSERT INTO sessions (api_key_id, token_hash, created, last_seen, expires, user_agent,"
        " remote_addr) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (api_key_id, token_hash, to_db_time(now), to_db_time(now), to_db_time(expires),
         user_agent, remote_addr),
    )  # fmt: skip


def get_session_by_hash(conn: sqlite3.Connection, token_hash: str) -> Session | None:
    """Return the session with this token hash, with its key's read-only flag."""
    row = conn.execute(
        "SELECT s.id, s.api_key_id, k.read_only, s.created, s.last_seen, s.expires"
        " FROM sessions AS s JOIN api_keys AS k ON k.id = s.api_key_id"
        " WHERE s.token_hash = ?",
        (token_hash,),
    ).fetchone()
    if row is None:
        return None
    return Session(
        row["id"], row["api_key_id"], bool(row["read_only"]), _time(row["created"]),
        _time(row["last_seen"]), _time(row["expires"]),
    )  # fmt: skip


def renew_session(
    conn: sqlite3.Connection, session_id: int, *, now: datetime, expires: datetime
) -> None:
    """Record that a session was used now, and push its idle expiry out."""
    conn.execute(
        "UPDATE sessions SET last_seen = ?, expires = ? WHERE id = ?",
        (to_db_time(now), to_db_time(expires), session_id),
    )


def delete_session(conn: sqlite3.Connection, token_hash: str) -> bool:
    """Delete the session with this token hash; tell whether there was one."""
    return conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)).rowcount > 0


def delete_expired(conn: sqlite3.Connection, now: datetime) -> int:
    """Delete expired sessions and sign-in links; return how many rows went."""
    when = to_db_time(now)
    gone = conn.execute("DELETE FROM sessions WHERE expires <= ?", (when,)).rowcount
    return gone + conn.execute("DELETE FROM login_links WHERE expires <= ?", (when,)).rowcount


def insert_login_link(
    conn: sqlite3.Connection, api_key_id: int, token_hash: str, *, now: datetime, expires: datetime
) -> None:
    """Store a new one-time sign-in link by the hash of its token."""
    conn.execute(
        "INSERT INTO login_links (api_key_id, token_hash, created, expires) VALUES (?, ?, ?, ?)",
        (api_key_id, token_hash, to_db_time(now), to_db_time(expires)),
    )


def use_login_link(conn: sqlite3.Connection, token_hash: str, now: datetime) -> int | None:
    """Mark an unused, unexpired link used and return its API key's id; None if it is not one.

    One statement, so that two sign-ins racing with the same link cannot both
    succeed.
    """
    row = conn.execute(
        "UPDATE login_links SET used = ? WHERE token_hash = ? AND used IS NULL AND expires > ?"
        " RETURNING api_key_id",
        (to_db_time(now), token_hash, to_db_time(now)),
    ).fetchone()
    return None if row is None else int(row[0])

"""Queries of projects and their API keys (stored by hash only).

The writer's connection remembers projects by ping key for the ping path.
Imports only the package's shared ``times``; knows nothing of checks.
"""

from __future__ import annotations

import dataclasses
import secrets
import sqlite3
import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from pingd.store.times import from_db_time
from pingd.store.times import to_db_time
from pingd.writer.connection import WriterConnection


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str
    ping_key: str
    uuid: str = ""
    # Secret: badge URLs are signed with it (pingd.domain.badges), never shown.
    badge_key: str = dataclasses.field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    project_id: int
    name: str
    prefix: str
    read_only: bool
    created: datetime
    last_used: datetime | None
    key_hash: str = dataclasses.field(repr=False)


_PROJECT_COLUMNS = "id, name, ping_key, uuid, badge_key"


def _project_from_row(row: sqlite3.Row) -> Project:
    return Project(row["id"], row["name"], row["ping_key"], row["uuid"], row["badge_key"])


def get_default_project(conn: sqlite3.Connection) -> Project | None:
    """Return the first project, the one a single-user install has."""
    row = conn.execute(f"SELECT {_PROJECT_COLUMNS} FROM projects ORDER BY id LIMIT 1").fetchone()
    return None if row is None else _project_from_row(row)


def get_project_by_ping_key(conn: sqlite3.Connection, ping_key: str) -> Project | None:
    """Return the project with this ping key."""
    if isinstance(conn, WriterConnection) and ping_key in conn.projects_by_ping_key:
        return cast(Project, conn.projects_by_ping_key[ping_key])
    row = conn.execute(
        f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE ping_key = ?", (ping_key,)
    ).fetchone()
    if row is None:
        return None
    project = _project_from_row(row)
    if isinstance(conn, WriterConnection):  # pingd never changes a project's key.
        conn.projects_by_ping_key[ping_key] = project
    return project


def insert_project(conn: sqlite3.Connection, name: str, ping_key: str, now: datetime) -> Project:
    """Create a project, with a random UUID and secret badge key, and return it."""
    project_uuid, badge_key = str(uuidlib.uuid4()), secrets.token_hex(16)
    cursor = conn.execute(
        "INSERT INTO projects (name, ping_key, created, uuid, badge_key) VALUES (?, ?, ?, ?, ?)",
        (name, ping_key, to_db_time(now), project_uuid, badge_key),
    )
    assert cursor.lastrowid is not None
    return Project(cursor.lastrowid, name, ping_key, project_uuid, badge_key)


def _api_key_from_row(row: sqlite3.Row) -> ApiKey:
    created = from_db_time(row["created"])
    assert created is not None
    return ApiKey(
        row["id"], row["project_id"], row["name"], row["prefix"], bool(row["read_only"]),
        created, from_db_time(row["last_used"]), row["key_hash"],
    )  # fmt: skip


def insert_api_key(
    conn: sqlite3.Connection,
    project_id: int,
    *,
    name: str,
    prefix: str,
    key_hash: str,
    read_only: bool,
    now: datetime,
) -> None:
    """Store a new API key by its hash."""
    conn.execute(
        "INSERT INTO api_keys (project_id, name, prefix, key_hash, read_only, created)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (project_id, name, prefix, key_hash, int(read_only), to_db_time(now)),
    )


def list_api_keys(conn: sqlite3.Connection) -> list[ApiKey]:
    """Return every API key, oldest first."""
    rows = conn.execute("SELECT * FROM api_keys ORDER BY id").fetchall()
    return [_api_key_from_row(row) for row in rows]


def get_api_key_by_hash(conn: sqlite3.Connection, key_hash: str) -> ApiKey | None:
    """Return the API key with this SHA-256 hash."""
    row = conn.execute("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone()
    return None if row is None else _api_key_from_row(row)


def touch_api_key(conn: sqlite3.Connection, key_id: int, when: datetime) -> None:
    """Record when an API key was last used."""
    conn.execute("UPDATE api_keys SET last_used = ? WHERE id = ?", (to_db_time(when), key_id))


def delete_api_key(conn: sqlite3.Connection, key_id: int) -> None:
    """Delete one API key."""
    conn.execute("DELETE FROM api_keys WHERE id = ?", (key_id,))

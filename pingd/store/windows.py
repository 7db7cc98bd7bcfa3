"""Queries of maintenance windows: storing, reading, deleting them.

Imports only the package's shared ``times``; whether a window covers a
check at some instant is the domain's (``pingd.domain.windows``).
"""

from __future__ import annotations

import sqlite3

from pingd.domain.windows import Window
from pingd.store.times import from_db_time
from pingd.store.times import to_db_time

_COLUMNS = ("project_id", "check_id", "tag", "name", "schedule", "tz", "duration", "starts",
            "ends", "created", "declared")  # fmt: skip


def _window_from_row(row: sqlite3.Row) -> Window:
    created = from_db_time(row["created"])
    assert created is not None
    return Window(
        row["id"], row["project_id"], row["check_id"], row["tag"], row["name"], row["schedule"],
        row["tz"], row["duration"], from_db_time(row["starts"]), from_db_time(row["ends"]),
        created, bool(row["declared"]),
    )  # fmt: skip


def insert_window(conn: sqlite3.Connection, window: Window) -> Window:
    """Store a new window (its id is ignored) and return it with its id."""
    params = (
        window.project_id, window.check_id, window.tag, window.name, window.schedule, window.tz,
        window.duration, to_db_time(window.starts), to_db_time(window.ends),
        to_db_time(window.created), int(window.declared),
    )  # fmt: skip
    cursor = conn.execute(
        f"INSERT INTO windows ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
        params,
    )
    assert cursor.lastrowid is not None
    found = get_window(conn, cursor.lastrowid)
    assert found is not None
    return found


def get_window(conn: sqlite3.Connection, window_id: int) -> Window | None:
    """Return one window."""
    row = conn.execute("SELECT * FROM windows WHERE id = ?", (window_id,)).fetchone()
    return None if row is None else _window_from_row(row)


def list_windows(conn: sqlite3.Connection, project_id: int) -> list[Window]:
    """Return a project's windows, oldest first."""
    rows = conn.execute(
        "SELECT * FROM windows WHERE project_id = ? ORDER BY id", (project_id,)
    ).fetchall()
    return [_window_from_row(row) for row in rows]


def delete_window(conn: sqlite3.Connection, window_id: int) -> None:
    """Delete one window."""
    conn.execute("DELETE FROM windows WHERE id = ?", (window_id,))


def delete_declared_windows(conn: sqlite3.Connection, project_id: int) -> int:
    """Delete the windows the config files made (an apply writes them afresh); return how many."""
    cursor = conn.execute(
        "DELETE FROM windows WHERE project_id = ? AND declared = 1", (project_id,)
    )
    return cursor.rowcount


def end_check_windows(conn: sqlite3.Connection, check_id: int, now: str | None) -> int:
    """End now the one-off windows of one check that are in effect; return how many."""
    cursor = conn.execute(
        "UPDATE windows SET ends = ? WHERE check_id = ? AND schedule = '' AND starts <= ?"
        " AND ends > ?",
        (now, check_id, now, now),
    )
    return cursor.rowcount

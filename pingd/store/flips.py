"""Queries of flips: a check's changes of status, as they happened.

Imports only the package's shared ``times``.
"""

from __future__ import annotations

import sqlite3

from pingd.domain.checks import Flip
from pingd.store.times import from_db_time
from pingd.store.times import to_db_time


def insert_flip(conn: sqlite3.Connection, flip: Flip) -> None:
    """Store one status change."""
    conn.execute(
        "INSERT INTO flips (check_id, created, old_status, new_status, reason)"
        " VALUES (?, ?, ?, ?, ?)",
        (flip.check_id, to_db_time(flip.created), flip.old_status, flip.new_status, flip.reason),
    )


def list_flips(conn: sqlite3.Connection, check_id: int, limit: int = 100) -> list[Flip]:
    """Return a check's newest status changes, newest first."""
    rows = conn.execute(
        "SELECT * FROM flips WHERE check_id = ? ORDER BY created DESC, id DESC LIMIT ?",
        (check_id, limit),
    ).fetchall()
    flips = []
    for row in rows:
        created = from_db_time(row["created"])
        assert created is not None
        flips.append(
            Flip(row["check_id"], created, row["old_status"], row["new_status"], row["reason"])
        )
    return flips

"""Queries of which checks and channels the config files manage, and what the last apply wrote.

The written fields are JSON (a channel's secrets only as digests); rows go
with their check or channel (ON DELETE CASCADE). Imports nothing of the
package but what every query module may.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

_TABLES = {"check": ("declared_checks", "check_id"), "channel": ("declared_channels", "channel_id")}


def applied(conn: sqlite3.Connection, what: str) -> dict[int, dict[str, Any]]:
    """Return, per managed check or channel id, the fields the last apply wrote."""
    table, column = _TABLES[what]
    rows = conn.execute(f"SELECT {column}, applied FROM {table}").fetchall()
    return {int(row[0]): json.loads(row[1]) for row in rows}


def record_applied(
    conn: sqlite3.Connection, what: str, row_id: int, fields: dict[str, Any]
) -> None:
    """Remember that the files manage this row, and what the apply wrote."""
    table, column = _TABLES[what]
    conn.execute(
        f"INSERT INTO {table} ({column}, applied) VALUES (?, ?)"
        f" ON CONFLICT ({column}) DO UPDATE SET applied = excluded.applied",
        (row_id, json.dumps(fields, sort_keys=True)),
    )


def is_declared(conn: sqlite3.Connection, what: str, row_id: int) -> bool:
    """Tell whether the config files manage this check or channel."""
    table, column = _TABLES[what]
    row = conn.execute(f"SELECT 1 FROM {table} WHERE {column} = ?", (row_id,)).fetchone()
    return row is not None

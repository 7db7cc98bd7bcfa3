"""Queries over the whole database rather than one family of tables.

Whether the database answers, how old history is pruned (flips and finished
deliveries), and the newest time stored. Imports only the package's shared
``times``.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from pingd.store.times import from_db_time
from pingd.store.times import to_db_time


def ping_database(conn: sqlite3.Connection) -> None:
    """Make one trivial query, to prove the database answers."""
    conn.execute("SELECT 1 FROM projects LIMIT 1").fetchall()


def prune_history(conn: sqlite3.Connection, flips_before: datetime, done_before: datetime) -> int:
    """Delete old flips and finished deliveries (with their attempts); return how many."""
    flips = conn.execute("DELETE FROM flips WHERE created < ?", (to_db_time(flips_before),))
    deliveries = conn.execute(
        "DELETE FROM deliveries WHERE state != 'pending' AND created < ?",
        (to_db_time(done_before),),
    )
    return flips.rowcount + deliveries.rowcount


def newest_time(conn: sqlite3.Connection) -> datetime | None:
    """Return the newest time stored in the database: the floor of the service's clock.

    Pings are not scanned (a large table): a check's last ping and last
    start stand for them.
    """
    row = conn.execute(
        "SELECT max(coalesce(max(last_ping), ''), coalesce(max(last_start), ''),"
        " coalesce(max(created), '')) FROM checks"
        " UNION ALL SELECT max(created) FROM flips"
        " UNION ALL SELECT max(created) FROM deliveries"
        " UNION ALL SELECT max(created) FROM delivery_attempts"
        " UNION ALL SELECT max(coalesce(max(last_used), ''), coalesce(max(created), ''))"
        " FROM api_keys"
    ).fetchall()
    found = [value for (value,) in row if value]
    return from_db_time(max(found)) if found else None

"""Queries of pings: storing one in the row it pushes out of the log, reading and trimming.

The ping path's writes here are staged on the writer's connection and sent
many rows to a statement. Imports only the package's shared ``times`` and
``staging``; the check a ping changes is the checks family's to write.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from pingd.domain.checks import Ping
from pingd.store.staging import many_rows
from pingd.store.staging import staged_write
from pingd.store.times import from_db_time
from pingd.store.times import to_db_time
from pingd.writer.connection import WriterConnection
from pingd.writer.connection import padded_chunks

_PING_COLUMNS = (
    "check_id", "n", "created", "kind", "exit_status", "rid", "scheme", "method", "remote_addr",
    "ua", "body", "body_size", "repeat",
)  # fmt: skip
_INSERT_PINGS = many_rows(
    f"INSERT INTO pings ({', '.join(_PING_COLUMNS)}) SELECT * FROM (VALUES ",
    "(" + ", ".join("?" * len(_PING_COLUMNS)) + ")",
    tail=") WHERE column1 IS NOT NULL ON CONFLICT (check_id, n) DO NOTHING",
)
# A ping's row is (its columns..., the n of the row it takes the place of).
# UPDATE … FROM (SQLite 3.33) is always there: the schema's STRICT tables
# need 3.37.
_TAKE_ROWS = many_rows(
    "UPDATE pings SET "
    + ", ".join(f"{column} = v.column{i}" for i, column in enumerate(_PING_COLUMNS, 1) if i > 1)
    + " FROM (VALUES ",
    "(" + ", ".join("?" * (len(_PING_COLUMNS) + 1)) + ")",
    tail=f") AS v WHERE pings.check_id = v.column1 AND pings.n = v.column{len(_PING_COLUMNS) + 1}",
)
_STORE_PINGS = "store pings"  # Names the staged write; _flush_pings sends it.


def store_ping(conn: sqlite3.Connection, ping: Ping, log_limit: int) -> None:
    """Store one ping in the row of the check's ping it pushes out of the log.

    Past its first ``log_limit`` pings, a check's ping ``n`` takes the row of
    ping ``n - log_limit``: the row and its body's pages are rewritten in
    place, which costs SQLite half as much as inserting a new row and deleting
    the old one (see BENCHMARKS.md). A ping with no such row (a check's first
    pings, a raised limit) is inserted. Pings beyond the limit that a lowered
    limit leaves behind are for ``trim_pings``.
    """
    row = (
        ping.check_id, ping.n, to_db_time(ping.created), ping.kind, ping.exit_status, ping.rid,
        ping.scheme, ping.method, ping.remote_addr, ping.ua, ping.body, ping.body_size,
        int(ping.repeat), ping.n - log_limit,
    )  # fmt: skip
    if not isinstance(conn, WriterConnection):
        _flush_pings(conn, [row])
        return
    # Of a group's pings of one check, those ``log_limit`` apart would take
    # one row in turn: only the last of them is kept, in the row the first
    # would have taken.
    key = (ping.check_id, ping.n % log_limit)
    earlier = conn.staged_row(_STORE_PINGS, key) if conn.staging else None
    if earlier is not None:
        row = row[:-1] + earlier[-1:]
    conn.write(_STORE_PINGS, row, key=key, flusher=_flush_pings)


def _flush_pings(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Write pings staged by store_ping, into the rows they take or new ones."""
    placed = 0
    taking = [row for row in rows if row[-1] >= 1]
    for size, params in padded_chunks(taking):
        placed += conn.execute(_TAKE_ROWS(size), params).rowcount
    if placed == len(rows):
        return
    # Insert the rest. Each ping placed above now holds its own number, so
    # the conflict clause skips exactly those.
    inserted = 0
    for size, params in padded_chunks([row[:-1] for row in rows]):
        inserted += conn.execute(_INSERT_PINGS(size), params).rowcount
    if placed + inserted != len(rows):
        # A ping's number was taken already: the check's count is behind its
        # log. Fail loudly rather than answer OK for a ping not stored.
        raise sqlite3.IntegrityError("UNIQUE constraint failed: pings.check_id, pings.n")


def _ping_from_row(row: sqlite3.Row) -> Ping:
    created = from_db_time(row["created"])
    assert created is not None
    return Ping(
        row["check_id"], row["n"], created, row["kind"], row["exit_status"], row["rid"],
        row["scheme"], row["method"], row["remote_addr"], row["ua"], bytes(row["body"]),
        row["body_size"], bool(row["repeat"]),
    )  # fmt: skip


def list_pings(conn: sqlite3.Connection, check_id: int, limit: int) -> list[Ping]:
    """Return a check's newest pings, newest first."""
    rows = conn.execute(
        "SELECT * FROM pings WHERE check_id = ? ORDER BY n DESC LIMIT ?", (check_id, limit)
    ).fetchall()
    return [_ping_from_row(row) for row in rows]


def get_ping(conn: sqlite3.Connection, check_id: int, n: int) -> Ping | None:
    """Return one ping of a check by its sequence number."""
    row = conn.execute("SELECT * FROM pings WHERE check_id = ? AND n = ?", (check_id, n)).fetchone()
    return None if row is None else _ping_from_row(row)


def last_success_times(conn: sqlite3.Connection, check_ids: list[int]) -> dict[int, Any]:
    """Return, for each of these checks with a kept success ping, the time of its newest."""
    found: dict[int, Any] = {}
    for start in range(0, len(check_ids), 500):
        chunk = check_ids[start : start + 500]
        rows = conn.execute(
            "SELECT check_id, max(created) AS created FROM pings WHERE kind = 'success'"
            f" AND check_id IN ({', '.join('?' * len(chunk))}) GROUP BY check_id",
            chunk,
        ).fetchall()
        found.update((row["check_id"], from_db_time(row["created"])) for row in rows)
    return found


def count_kept_pings_by_kind(
    conn: sqlite3.Connection, project_id: int
) -> dict[int, dict[str, int]]:
    """Return, for each check of a project, how many of its kept pings are of each kind."""
    rows = conn.execute(
        "SELECT pings.check_id, pings.kind, count(*) FROM pings"
        " JOIN checks ON checks.id = pings.check_id WHERE checks.project_id = ?"
        " GROUP BY pings.check_id, pings.kind",
        (project_id,),
    ).fetchall()
    counts: dict[int, dict[str, int]] = {}
    for check_id, kind, count in rows:
        counts.setdefault(int(check_id), {})[kind] = int(count)
    return counts


_TRIM_PINGS = "DELETE FROM pings WHERE check_id = ? AND n <= ?"

# The staged write above, many rows to a statement (see
# pingd.writer.connection.WriterConnection.flush), each taking its rows'
# parameters in the same order.
_TRIM_PINGS_MANY = many_rows("DELETE FROM pings WHERE ", "(check_id = ? AND n <= ?)", " OR ")


def trim_pings(conn: sqlite3.Connection, check_id: int, last_n: int) -> None:
    """Delete a check's pings numbered up to ``last_n``, the ones past its log limit."""
    staged_write(conn, _TRIM_PINGS, (check_id, last_n), key=check_id, many=_TRIM_PINGS_MANY)

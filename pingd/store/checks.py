"""Queries of checks: their rows, their state as pings change it, and which are overdue.

The writer's connection remembers the checks it reads and writes (see
``pingd.writer.connection.WriterConnection``); a ping's change of state is a
staged write, sent with the group's. Imports only the package's shared
``times`` and ``staging``; a check's pings, flips and channels are their
families' queries.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any
from typing import cast

from pingd.domain.checks import Check
from pingd.store.staging import many_rows
from pingd.store.staging import staged_write
from pingd.store.times import from_db_time
from pingd.store.times import to_db_time
from pingd.writer.connection import WriterConnection

_CHECK_COLUMNS = (
    "project_id", "uuid", "name", "slug", "tags", "desc", "timeout", "grace", "schedule", "tz",
    "methods", "manual_resume", "filter_body", "filter_default_fail", "success_kw", "failure_kw",
    "start_kw", "status", "n_pings", "last_ping", "last_start", "last_start_rid",
    "last_duration", "alert_after", "created", "failure_threshold", "success_threshold",
    "remind_every", "start_window", "fail_streak", "success_streak", "last_digest",
)  # fmt: skip
_TIME_COLUMNS = {"last_ping", "last_start", "alert_after", "created"}
_BOOL_COLUMNS = {"manual_resume", "filter_body", "filter_default_fail"}


def _check_from_row(row: sqlite3.Row) -> Check:
    values: dict[str, Any] = {"id": row["id"]}
    for column in _CHECK_COLUMNS:
        value = row[column]
        if column in _TIME_COLUMNS:
            value = from_db_time(value)
        elif column in _BOOL_COLUMNS:
            value = bool(value)
        values[column] = value
    return Check(**values)


def _check_params(check: Check) -> dict[str, Any]:
    params: dict[str, Any] = {"id": check.id}
    for column in _CHECK_COLUMNS:
        value = getattr(check, column)
        if column in _TIME_COLUMNS:
            value = to_db_time(value)
        elif column in _BOOL_COLUMNS:
            value = int(value)
        params[column] = value
    return params


def _remember(conn: sqlite3.Connection, check: Check, *, slug_changed: bool) -> None:
    # The memory is trimmed only between transactions (begin_immediate), never
    # while a staged write may depend on it.
    if isinstance(conn, WriterConnection):
        conn.checks_by_uuid[check.uuid] = check
        if slug_changed:
            conn.uuids_by_slug.clear()


def insert_check(conn: sqlite3.Connection, check: Check) -> Check:
    """Insert a new check (its id is ignored) and return it with its id."""
    columns = ", ".join(f'"{c}"' for c in _CHECK_COLUMNS)
    names = ", ".join(f":{c}" for c in _CHECK_COLUMNS)
    cursor = conn.execute(f"INSERT INTO checks ({columns}) VALUES ({names})", _check_params(check))
    assert cursor.lastrowid is not None
    inserted = get_check_by_id(conn, cursor.lastrowid)
    assert inserted is not None
    _remember(conn, inserted, slug_changed=True)
    return inserted


def update_check(conn: sqlite3.Connection, check: Check) -> None:
    """Write every field of a check back."""
    assignments = ", ".join(f'"{c}" = :{c}' for c in _CHECK_COLUMNS)
    conn.execute(f"UPDATE checks SET {assignments} WHERE id = :id", _check_params(check))
    _remember(conn, check, slug_changed=True)


_UPDATE_CHECK_STATE = (
    "UPDATE checks SET status = ?, n_pings = ?, last_ping = ?, last_start = ?,"
    " last_start_rid = ?, last_duration = ?, alert_after = ?, fail_streak = ?,"
    " success_streak = ?, last_digest = ? WHERE id = ?"
)
# The staged write above, many rows to a statement (see
# pingd.writer.connection.WriterConnection.flush), each taking its rows'
# parameters in the same order.
_UPDATE_CHECK_STATES = many_rows(
    "UPDATE checks SET status = v.column1, n_pings = v.column2, last_ping = v.column3,"
    " last_start = v.column4, last_start_rid = v.column5, last_duration = v.column6,"
    " alert_after = v.column7, fail_streak = v.column8, success_streak = v.column9,"
    " last_digest = v.column10 FROM (VALUES ",
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    tail=") AS v WHERE checks.id = v.column11",
)


def update_check_state(conn: sqlite3.Connection, check: Check) -> None:
    """Write back only what a ping changes: the check's state, not its settings."""
    params = (
        check.status, check.n_pings, to_db_time(check.last_ping), to_db_time(check.last_start),
        check.last_start_rid, check.last_duration, to_db_time(check.alert_after),
        check.fail_streak, check.success_streak, check.last_digest, check.id,
    )  # fmt: skip
    staged_write(conn, _UPDATE_CHECK_STATE, params, key=check.id, many=_UPDATE_CHECK_STATES)
    _remember(conn, check, slug_changed=False)


def delete_check(conn: sqlite3.Connection, check_id: int) -> None:
    """Delete a check with its pings and flips."""
    conn.execute("DELETE FROM checks WHERE id = ?", (check_id,))
    if isinstance(conn, WriterConnection):
        conn.forget_checks()


def get_check_by_id(conn: sqlite3.Connection, check_id: int) -> Check | None:
    """Return the check with this row id."""
    row = conn.execute("SELECT * FROM checks WHERE id = ?", (check_id,)).fetchone()
    return None if row is None else _check_from_row(row)


def get_check_by_uuid(conn: sqlite3.Connection, uuid: str) -> Check | None:
    """Return the check with this UUID (lowercase, dashed)."""
    if isinstance(conn, WriterConnection) and uuid in conn.checks_by_uuid:
        return conn.checks_by_uuid[uuid]
    row = conn.execute("SELECT * FROM checks WHERE uuid = ?", (uuid,)).fetchone()
    if row is None:
        return None
    check = _check_from_row(row)
    _remember(conn, check, slug_changed=False)
    return check


def get_checks_by_slug(
    conn: sqlite3.Connection, project_id: int, slug: str, limit: int = 2
) -> list[Check]:
    """Return up to ``limit`` checks of a project that have this slug."""
    if isinstance(conn, WriterConnection):
        uuids = conn.uuids_by_slug.get((project_id, slug))
        if uuids is not None and len(uuids) <= limit:
            cached = [conn.checks_by_uuid.get(uuid) for uuid in uuids]
            if all(check is not None for check in cached):
                return cast(list[Check], cached)
    rows = conn.execute(
        "SELECT * FROM checks WHERE project_id = ? AND slug = ? ORDER BY id LIMIT ?",
        (project_id, slug, limit),
    ).fetchall()
    checks = [_check_from_row(row) for row in rows]
    if isinstance(conn, WriterConnection):
        # What the writer remembers is never older than the table, which may
        # still lack writes staged in this group: prefer it.
        checks = [conn.checks_by_uuid.get(check.uuid, check) for check in checks]
        for check in checks:
            _remember(conn, check, slug_changed=False)
        conn.uuids_by_slug[(project_id, slug)] = [check.uuid for check in checks]
    return checks


def list_checks(conn: sqlite3.Connection, project_id: int) -> list[Check]:
    """Return every check of a project, oldest first."""
    rows = conn.execute(
        "SELECT * FROM checks WHERE project_id = ? ORDER BY id", (project_id,)
    ).fetchall()
    return [_check_from_row(row) for row in rows]


def count_checks(conn: sqlite3.Connection, project_id: int) -> int:
    """Return how many checks a project has."""
    row = conn.execute("SELECT COUNT(*) FROM checks WHERE project_id = ?", (project_id,)).fetchone()
    return int(row[0])


def list_maybe_late_checks(conn: sqlite3.Connection, now: datetime) -> list[Check]:
    """Return the up checks waiting for a ping that may have turned late and not been told so.

    Only those alerting a channel that asks for late notices. A check is
    late from its deadline less at most its grace, so this is a superset (by
    up to a second, julianday being to the millisecond): the domain's
    ``late_after`` says the exact instant. The alert loop runs it every tick,
    in the writer: SQLite does the filtering, not Python.
    """
    rows = conn.execute(
        "SELECT checks.* FROM checks LEFT JOIN check_alerts ON check_alerts.check_id = checks.id"
        " WHERE checks.status = 'up' AND checks.last_start IS NULL AND checks.alert_after > :now"
        " AND julianday(checks.alert_after) - checks.grace / 86400.0"
        " <= julianday(:now) + 1 / 86400.0"
        " AND check_alerts.late_told IS NOT checks.alert_after"
        " AND checks.id IN (SELECT check_id FROM check_channels"
        " JOIN channels ON channels.id = channel_id WHERE channels.notify_late = 1)"
        " ORDER BY checks.alert_after",
        {"now": to_db_time(now)},
    ).fetchall()
    return [_check_from_row(row) for row in rows]


def list_overdue_checks(conn: sqlite3.Connection, now: datetime) -> list[Check]:
    """Return the checks whose deadline has passed and that are not down yet."""
    rows = conn.execute(
        "SELECT * FROM checks WHERE alert_after IS NOT NULL AND alert_after <= ?"
        " AND status != 'down' ORDER BY alert_after",
        (to_db_time(now),),
    ).fetchall()
    return [_check_from_row(row) for row in rows]

"""Queries of what a check's channels were last told, the alerts owed, and pending reminders.

A check's row in ``check_alerts`` says whether its channels were last told
it is down or up, and whether an alert is owed (a maintenance window held
it back). A row in ``reminders`` is one channel's next reminder of a check
that is down. Imports only the package's shared ``times``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from pingd.store.times import from_db_time
from pingd.store.times import to_db_time


@dataclass(frozen=True, slots=True)
class Reminder:
    check_id: int
    channel_id: int
    down_since: datetime
    sent: int
    next_at: datetime


def get_alert_state(conn: sqlite3.Connection, check_id: int) -> tuple[str, bool]:
    """Return what a check's channels were last told ('', 'up', 'down') and if one is owed."""
    row = conn.execute(
        "SELECT notified, owed FROM check_alerts WHERE check_id = ?", (check_id,)
    ).fetchone()
    return ("", False) if row is None else (str(row[0]), bool(row[1]))


def set_alert_state(conn: sqlite3.Connection, check_id: int, notified: str, owed: bool) -> None:
    """Record what a check's channels were last told and whether an alert is owed."""
    conn.execute(
        "INSERT INTO check_alerts (check_id, notified, owed) VALUES (?, ?, ?)"
        " ON CONFLICT (check_id) DO UPDATE SET notified = excluded.notified,"
        " owed = excluded.owed",
        (check_id, notified, int(owed)),
    )


def set_late_told(conn: sqlite3.Connection, check_id: int, deadline: datetime | None) -> None:
    """Record that a check's channels were told of the late spell ending at ``deadline``."""
    conn.execute(
        "INSERT INTO check_alerts (check_id, late_told) VALUES (?, ?)"
        " ON CONFLICT (check_id) DO UPDATE SET late_told = excluded.late_told",
        (check_id, to_db_time(deadline)),
    )


def list_owed_check_ids(conn: sqlite3.Connection) -> list[int]:
    """Return the checks owed an alert that a window held back."""
    rows = conn.execute("SELECT check_id FROM check_alerts WHERE owed = 1 ORDER BY check_id")
    return [int(row[0]) for row in rows]


def _reminder_from_row(row: sqlite3.Row) -> Reminder:
    down_since, next_at = from_db_time(row["down_since"]), from_db_time(row["next_at"])
    assert down_since is not None and next_at is not None
    return Reminder(row["check_id"], row["channel_id"], down_since, row["sent"], next_at)


def set_reminder(conn: sqlite3.Connection, reminder: Reminder) -> None:
    """Schedule (or reschedule) one channel's next reminder of a check."""
    conn.execute(
        "INSERT INTO reminders (check_id, channel_id, down_since, sent, next_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (check_id, channel_id) DO UPDATE SET"
        " down_since = excluded.down_since, sent = excluded.sent, next_at = excluded.next_at",
        (reminder.check_id, reminder.channel_id, to_db_time(reminder.down_since),
         reminder.sent, to_db_time(reminder.next_at)),
    )  # fmt: skip


def delete_reminder(conn: sqlite3.Connection, check_id: int, channel_id: int) -> None:
    """Stop one channel's reminders of a check."""
    conn.execute(
        "DELETE FROM reminders WHERE check_id = ? AND channel_id = ?", (check_id, channel_id)
    )


def stop_reminders(conn: sqlite3.Connection, check_id: int) -> None:
    """Stop every reminder of a check (it came up, was paused or deleted)."""
    conn.execute("DELETE FROM reminders WHERE check_id = ?", (check_id,))


def list_due_reminders(conn: sqlite3.Connection, now: datetime) -> list[Reminder]:
    """Return the reminders due at ``now``, the longest overdue first."""
    rows = conn.execute(
        "SELECT * FROM reminders WHERE next_at <= ? ORDER BY next_at, check_id, channel_id",
        (to_db_time(now),),
    ).fetchall()
    return [_reminder_from_row(row) for row in rows]


def list_check_reminders(conn: sqlite3.Connection, check_id: int) -> list[Reminder]:
    """Return a check's pending reminders, by channel."""
    rows = conn.execute(
        "SELECT * FROM reminders WHERE check_id = ? ORDER BY channel_id", (check_id,)
    ).fetchall()
    return [_reminder_from_row(row) for row in rows]

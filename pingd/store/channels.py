"""Queries of notification channels and of which checks alert which channel.

Imports only the package's shared ``times``; what a channel is sent is the
deliveries family's.
"""

from __future__ import annotations

import json
import sqlite3
import uuid as uuidlib
from datetime import datetime
from typing import Any

from pingd.domain.alerts import Channel
from pingd.store.times import from_db_time
from pingd.store.times import to_db_time


def _channel_from_row(row: sqlite3.Row) -> Channel:
    created = from_db_time(row["created"])
    assert created is not None
    settings = json.loads(row["settings"])
    return Channel(
        row["id"], row["project_id"], row["kind"], row["name"], settings, created, row["uuid"],
        row["remind_every"], bool(row["notify_late"]),
    )  # fmt: skip


def insert_channel(
    conn: sqlite3.Connection, project_id: int, kind: str, name: str, settings: dict[str, Any],
    now: datetime, channel_uuid: str | None = None, *, remind_every: int = 0,
    notify_late: bool = False,
) -> Channel:  # fmt: skip
    """Create a notification channel, with this UUID or a random one, and return it."""
    channel_uuid = channel_uuid or str(uuidlib.uuid4())
    cursor = conn.execute(
        "INSERT INTO channels (project_id, kind, name, settings, created, uuid, remind_every,"
        " notify_late) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (project_id, kind, name, json.dumps(settings), to_db_time(now), channel_uuid,
         remind_every, int(notify_late)),
    )  # fmt: skip
    assert cursor.lastrowid is not None
    return Channel(
        cursor.lastrowid, project_id, kind, name, settings, now, channel_uuid, remind_every,
        notify_late,
    )  # fmt: skip


def update_channel(conn: sqlite3.Connection, channel: Channel) -> None:
    """Write a channel's name, settings and alert policy back."""
    conn.execute(
        "UPDATE channels SET name = ?, settings = ?, remind_every = ?, notify_late = ?"
        " WHERE id = ?",
        (channel.name, json.dumps(channel.settings), channel.remind_every,
         int(channel.notify_late), channel.id),
    )  # fmt: skip


def delete_channel(conn: sqlite3.Connection, channel_id: int) -> None:
    """Delete a channel, its check links and its deliveries."""
    conn.execute("DELETE FROM channels WHERE id = ?", (channel_id,))


def get_channel(conn: sqlite3.Connection, channel_id: int) -> Channel | None:
    """Return one channel."""
    row = conn.execute("SELECT * FROM channels WHERE id = ?", (channel_id,)).fetchone()
    return None if row is None else _channel_from_row(row)


def list_channels(conn: sqlite3.Connection, project_id: int) -> list[Channel]:
    """Return a project's channels, oldest first."""
    rows = conn.execute(
        "SELECT * FROM channels WHERE project_id = ? ORDER BY id", (project_id,)
    ).fetchall()
    return [_channel_from_row(row) for row in rows]


def set_check_channels(conn: sqlite3.Connection, check_id: int, channel_ids: list[int]) -> None:
    """Make a check alert exactly these channels."""
    conn.execute("DELETE FROM check_channels WHERE check_id = ?", (check_id,))
    conn.executemany(
        "INSERT INTO check_channels (check_id, channel_id) VALUES (?, ?)",
        [(check_id, channel_id) for channel_id in channel_ids],
    )


def attach_channel_to_all_checks(
    conn: sqlite3.Connection, project_id: int, channel_id: int
) -> None:
    """Make every check of a project alert this channel."""
    conn.execute(
        "INSERT OR IGNORE INTO check_channels (check_id, channel_id)"
        " SELECT id, ? FROM checks WHERE project_id = ?",
        (channel_id, project_id),
    )


def get_check_channels(conn: sqlite3.Connection, check_id: int) -> list[Channel]:
    """Return the channels a check alerts, by id."""
    rows = conn.execute(
        "SELECT channels.* FROM check_channels JOIN channels ON channels.id = channel_id"
        " WHERE check_id = ? ORDER BY channel_id",
        (check_id,),
    ).fetchall()
    return [_channel_from_row(row) for row in rows]


def get_check_channel_ids(conn: sqlite3.Connection, check_id: int) -> list[int]:
    """Return the ids of the channels a check alerts."""
    rows = conn.execute(
        "SELECT channel_id FROM check_channels WHERE check_id = ? ORDER BY channel_id",
        (check_id,),
    ).fetchall()
    return [int(row[0]) for row in rows]


def get_channel_ids_by_check(conn: sqlite3.Connection, project_id: int) -> dict[int, list[int]]:
    """Return the channel ids of every check of a project that has any."""
    rows = conn.execute(
        "SELECT cc.check_id, cc.channel_id FROM check_channels AS cc"
        " JOIN checks ON checks.id = cc.check_id WHERE checks.project_id = ?"
        " ORDER BY cc.check_id, cc.channel_id",
        (project_id,),
    ).fetchall()
    result: dict[int, list[int]] = {}
    for row in rows:
        result.setdefault(int(row[0]), []).append(int(row[1]))
    return result

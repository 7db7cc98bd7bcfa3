"""Queries of deliveries (the alerts queued for a channel) and of their attempts.

Imports only the package's shared ``times``; the channels themselves are the
channels family's.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from pingd.domain.alerts import Delivery
from pingd.store.times import from_db_time
from pingd.store.times import to_db_time


def insert_delivery(
    conn: sqlite3.Connection, channel_id: int, event: dict[str, Any], now: datetime
) -> None:
    """Queue one notification for a channel, due now."""
    conn.execute(
        "INSERT INTO deliveries (channel_id, event, state, next_attempt, created)"
        " VALUES (?, ?, 'pending', ?, ?)",
        (channel_id, json.dumps(event), to_db_time(now), to_db_time(now)),
    )


def _delivery_from_row(row: sqlite3.Row) -> Delivery:
    created = from_db_time(row["created"])
    assert created is not None
    return Delivery(
        row["id"], row["channel_id"], json.loads(row["event"]), row["state"], row["attempts"],
        from_db_time(row["next_attempt"]), row["last_error"], created,
    )  # fmt: skip


def list_due_deliveries(conn: sqlite3.Connection, now: datetime, limit: int) -> list[Delivery]:
    """Return the oldest due delivery of each channel, oldest first.

    One per channel, so that a backlog on one channel (say a hanging one)
    cannot fill the list and keep other channels waiting.
    """
    rows = conn.execute(
        "SELECT * FROM deliveries WHERE id IN ("
        " SELECT id FROM (SELECT id, row_number() OVER"
        "  (PARTITION BY channel_id ORDER BY next_attempt, id) AS place"
        "  FROM deliveries WHERE state = 'pending' AND next_attempt <= ?)"
        " WHERE place = 1)"
        " ORDER BY next_attempt, id LIMIT ?",
        (to_db_time(now), limit),
    ).fetchall()
    return [_delivery_from_row(row) for row in rows]


def get_delivery(conn: sqlite3.Connection, delivery_id: int) -> Delivery | None:
    """Return one delivery as it is now."""
    row = conn.execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
    return None if row is None else _delivery_from_row(row)


def list_channel_deliveries(
    conn: sqlite3.Connection, channel_id: int, limit: int
) -> list[Delivery]:
    """Return a channel's newest deliveries, newest first."""
    rows = conn.execute(
        "SELECT * FROM deliveries WHERE channel_id = ? ORDER BY id DESC LIMIT ?",
        (channel_id, limit),
    ).fetchall()
    return [_delivery_from_row(row) for row in rows]


def list_check_deliveries(conn: sqlite3.Connection, check_uuid: str, limit: int) -> list[Delivery]:
    """Return the newest deliveries of one check's alerts, newest first.

    A delivery knows its check only by the uuid in its event's snapshot; the
    deliveries of 30 days are few enough to read through.
    """
    rows = conn.execute(
        "SELECT * FROM deliveries WHERE json_extract(event, '$.uuid') = ? ORDER BY id DESC LIMIT ?",
        (check_uuid, limit),
    ).fetchall()
    return [_delivery_from_row(row) for row in rows]


def record_delivery_attempt(
    conn: sqlite3.Connection, delivery: Delivery, *, ok: bool, error: str, duration_ms: int,
    now: datetime, state: str, next_attempt: datetime | None,
) -> bool:  # fmt: skip
    """Store one attempt's outcome and the delivery's new state; return whether it was stored.

    Only onto the delivery the attempt was for, as the sender found it: still
    pending, with the same number of attempts. A delivery deleted meanwhile
    (with its channel) or already moved on by another attempt is left alone.
    """
    updated = conn.execute(
        "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt = ?,"
        " last_error = ? WHERE id = ? AND state = 'pending' AND attempts = ?",
        (state, to_db_time(next_attempt), error, delivery.id, delivery.attempts),
    ).rowcount
    if updated != 1:
        return False
    conn.execute(
        "INSERT INTO delivery_attempts (delivery_id, created, ok, error, duration_ms)"
        " VALUES (?, ?, ?, ?, ?)",
        (delivery.id, to_db_time(now), int(ok), error, duration_ms),
    )
    return True


def list_delivery_attempts(conn: sqlite3.Connection, delivery_id: int) -> list[dict[str, Any]]:
    """Return the attempts of one delivery, oldest first, as plain dicts."""
    rows = conn.execute(
        "SELECT created, ok, error, duration_ms FROM delivery_attempts WHERE delivery_id = ?"
        " ORDER BY id",
        (delivery_id,),
    ).fetchall()
    return [
        {"time": from_db_time(row["created"]), "ok": bool(row["ok"]), "error": row["error"],
         "duration_ms": row["duration_ms"]}
        for row in rows
    ]  # fmt: skip

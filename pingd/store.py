"""SQLite storage: one function per query, on any connection.

Writes run on the writer's connection (``pingd.writer``), where the ping
path's writes may be staged and sent a group at a time; reads run on a pooled
reader. ``Store`` and ``connect`` are re-exported from ``pingd.writer`` for
callers that only know this module.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import sqlite3
from collections.abc import Callable
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import cast

from pingd.domain import Channel
from pingd.domain import Check
from pingd.domain import Delivery
from pingd.domain import Flip
from pingd.domain import Ping
from pingd.writer.connection import MAX_ROWS_PER_STATEMENT
from pingd.writer.connection import DatabaseReplaced as DatabaseReplaced
from pingd.writer.connection import WriterConnection
from pingd.writer.connection import connect as connect
from pingd.writer.connection import padded_chunks
from pingd.writer.store import Store as Store

logger = logging.getLogger(__name__)


def to_db_time(value: datetime | None) -> str | None:
    """Format an aware datetime as fixed-width UTC text that sorts correctly."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # Always with microseconds, so that every value has the same width: what
    # isoformat(timespec="microseconds") writes, in a third less time (a ping
    # writes three of these; an f-string with format specs takes twice as long).
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00" % (  # noqa: UP031
        value.year, value.month, value.day,
        value.hour, value.minute, value.second, value.microsecond,
    )  # fmt: skip


def from_db_time(value: str | None) -> datetime | None:
    """Parse a timestamp written by ``to_db_time``."""
    return None if value is None else datetime.fromisoformat(value)


def ping_database(conn: sqlite3.Connection) -> None:
    """Make one trivial query, to prove the database answers."""
    conn.execute("SELECT 1 FROM projects LIMIT 1").fetchall()


# -- projects and keys -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str
    ping_key: str


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


def get_default_project(conn: sqlite3.Connection) -> Project | None:
    """Return the first project, the one a single-user install has."""
    row = conn.execute("SELECT id, name, ping_key FROM projects ORDER BY id LIMIT 1").fetchone()
    return None if row is None else Project(row["id"], row["name"], row["ping_key"])


def get_project_by_ping_key(conn: sqlite3.Connection, ping_key: str) -> Project | None:
    """Return the project with this ping key."""
    if isinstance(conn, WriterConnection) and ping_key in conn.projects_by_ping_key:
        return cast(Project, conn.projects_by_ping_key[ping_key])
    row = conn.execute(
        "SELECT id, name, ping_key FROM projects WHERE ping_key = ?", (ping_key,)
    ).fetchone()
    if row is None:
        return None
    project = Project(row["id"], row["name"], row["ping_key"])
    if isinstance(conn, WriterConnection):  # pingd never changes a project's key.
        conn.projects_by_ping_key[ping_key] = project
    return project


def insert_project(conn: sqlite3.Connection, name: str, ping_key: str, now: datetime) -> Project:
    """Create a project and return it."""
    cursor = conn.execute(
        "INSERT INTO projects (name, ping_key, created) VALUES (?, ?, ?)",
        (name, ping_key, to_db_time(now)),
    )
    assert cursor.lastrowid is not None
    return Project(cursor.lastrowid, name, ping_key)


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


# -- checks ------------------------------------------------------------------

_CHECK_COLUMNS = (
    "project_id", "uuid", "name", "slug", "tags", "desc", "timeout", "grace", "schedule", "tz",
    "methods", "manual_resume", "filter_body", "filter_default_fail", "success_kw", "failure_kw",
    "start_kw", "status", "n_pings", "last_ping", "last_start", "last_start_rid",
    "last_duration", "alert_after", "created",
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
    " last_start_rid = ?, last_duration = ?, alert_after = ? WHERE id = ?"
)


def _write(
    conn: sqlite3.Connection, sql: str, params: tuple[Any, ...], *, key: Hashable = None
) -> None:
    if isinstance(conn, WriterConnection):
        conn.write(sql, params, key=key, many=_MANY_ROWS.get(sql))
    else:
        conn.execute(sql, params)


def update_check_state(conn: sqlite3.Connection, check: Check) -> None:
    """Write back only what a ping changes: the check's state, not its settings."""
    params = (
        check.status, check.n_pings, to_db_time(check.last_ping), to_db_time(check.last_start),
        check.last_start_rid, check.last_duration, to_db_time(check.alert_after), check.id,
    )  # fmt: skip
    _write(conn, _UPDATE_CHECK_STATE, params, key=check.id)
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


# -- pings and flips ---------------------------------------------------------


def _many_rows(head: str, row: str, separator: str = ", ", tail: str = "") -> Callable[[int], str]:
    """Return a function that spells a statement for ``n`` rows of parameters.

    ``n`` is a power of two (see pingd.writer.connection.padded_chunks), and a row of
    NULLs must change nothing.
    """

    @functools.lru_cache(maxsize=MAX_ROWS_PER_STATEMENT.bit_length())
    def spell(n: int) -> str:
        return head + separator.join([row] * n) + tail

    return spell


_PING_COLUMNS = (
    "check_id", "n", "created", "kind", "exit_status", "rid", "scheme", "method", "remote_addr",
    "ua", "body", "body_size",
)  # fmt: skip
_INSERT_PINGS = _many_rows(
    f"INSERT INTO pings ({', '.join(_PING_COLUMNS)}) SELECT * FROM (VALUES ",
    "(" + ", ".join("?" * len(_PING_COLUMNS)) + ")",
    tail=") WHERE column1 IS NOT NULL ON CONFLICT (check_id, n) DO NOTHING",
)
# A ping's row is (its columns..., the n of the row it takes the place of).
# UPDATE … FROM (SQLite 3.33) is always there: the schema's STRICT tables
# need 3.37.
_TAKE_ROWS = _many_rows(
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
        ping.n - log_limit,
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
        row["body_size"],
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


_TRIM_PINGS = "DELETE FROM pings WHERE check_id = ? AND n <= ?"


def trim_pings(conn: sqlite3.Connection, check_id: int, last_n: int) -> None:
    """Delete a check's pings numbered up to ``last_n``, the ones past its log limit."""
    _write(conn, _TRIM_PINGS, (check_id, last_n), key=check_id)


# The staged writes of the ping path, many rows to a statement (see
# pingd.writer.connection.WriterConnection.flush), each taking its rows' parameters in the
# same order.
_MANY_ROWS: dict[str, Callable[[int], str]] = {
    _TRIM_PINGS: _many_rows("DELETE FROM pings WHERE ", "(check_id = ? AND n <= ?)", " OR "),
    _UPDATE_CHECK_STATE: _many_rows(
        "UPDATE checks SET status = v.column1, n_pings = v.column2, last_ping = v.column3,"
        " last_start = v.column4, last_start_rid = v.column5, last_duration = v.column6,"
        " alert_after = v.column7 FROM (VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, ?)",
        tail=") AS v WHERE checks.id = v.column8",
    ),
}


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


def backup_database(source: Store, destination: str) -> None:
    """Write a consistent copy of the live database to ``destination``, atomically.

    The copy goes to ``destination.tmp``, is flushed to the disk and only then
    renamed over ``destination``. Should any step fail (a full disk, say), the
    temporary files are removed and ``destination`` is left as it was.
    """
    temporary = destination + ".tmp"
    leftovers = (temporary, temporary + "-journal")
    try:
        for path in leftovers:  # from an earlier run that was killed
            if os.path.lexists(path):
                os.unlink(path)
        target = sqlite3.connect(temporary)
        try:
            # The online backup API copies a consistent snapshot while the writer
            # keeps committing; readers and the writer are never blocked for long.
            with source.reader() as conn:
                conn.backup(target)
        finally:
            target.close()
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, destination)
    except BaseException:
        for path in leftovers:
            try:
                os.unlink(path)
            except OSError:
                pass  # never there, or already gone
        raise
    # Make the rename itself durable, where the platform lets a directory be opened.
    try:
        fd = os.open(os.path.dirname(os.path.abspath(destination)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- channels and deliveries -------------------------------------------------


def _channel_from_row(row: sqlite3.Row) -> Channel:
    created = from_db_time(row["created"])
    assert created is not None
    settings = json.loads(row["settings"])
    return Channel(row["id"], row["project_id"], row["kind"], row["name"], settings, created)


def insert_channel(
    conn: sqlite3.Connection, project_id: int, kind: str, name: str, settings: dict[str, Any],
    now: datetime,
) -> Channel:  # fmt: skip
    """Create a notification channel and return it."""
    cursor = conn.execute(
        "INSERT INTO channels (project_id, kind, name, settings, created) VALUES (?, ?, ?, ?, ?)",
        (project_id, kind, name, json.dumps(settings), to_db_time(now)),
    )
    assert cursor.lastrowid is not None
    return Channel(cursor.lastrowid, project_id, kind, name, settings, now)


def update_channel(conn: sqlite3.Connection, channel: Channel) -> None:
    """Write a channel's name and settings back."""
    conn.execute(
        "UPDATE channels SET name = ?, settings = ? WHERE id = ?",
        (channel.name, json.dumps(channel.settings), channel.id),
    )


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


def list_overdue_checks(conn: sqlite3.Connection, now: datetime) -> list[Check]:
    """Return the checks whose deadline has passed and that are not down yet."""
    rows = conn.execute(
        "SELECT * FROM checks WHERE alert_after IS NOT NULL AND alert_after <= ?"
        " AND status != 'down' ORDER BY alert_after",
        (to_db_time(now),),
    ).fetchall()
    return [_check_from_row(row) for row in rows]


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

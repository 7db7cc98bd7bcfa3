"""The database's connections: opening one, and the writer's own, with its memory and staging.

Every write in the process runs on the one ``WriterConnection`` (driven by
``pingd.writer.store``), which remembers the checks it has seen and, on the
ping path, stages writes to send them a statement at a time. Here are also
the pieces every connection shares: ``connect`` with pingd's pragmas,
``transaction`` and ``padded_chunks``. Nothing here runs a thread or knows a
query beyond the pragmas and the transaction statements.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pingd.domain.checks import Check

Rows = list[tuple[Any, ...]]
Flusher = Callable[[sqlite3.Connection, Rows], None]

BUSY_TIMEOUT_MS = 10000
MAX_REMEMBERED_CHECKS = 2000
MAX_ROWS_PER_STATEMENT = 64  # a power of two (see padded_chunks)


class DatabaseReplaced(sqlite3.OperationalError):
    """The database file was removed or replaced while this process had it open.

    SQLite would go on writing to the file it opened, which no longer has the
    name: every write acknowledged from then on would be gone at the next
    start. So the writer refuses to write until the file is back.
    """

    reported_once = True  # the writer logs it when it starts and ends; see errors.py


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class WriterConnection(sqlite3.Connection):
    """The writer thread's connection, which remembers the checks (and projects) it has seen.

    Every write in this process goes through this one connection, so its
    memory of a check is current unless another process (a ``pingd`` CLI
    command) committed, which ``PRAGMA data_version`` reveals at the start of
    every transaction. Anything rolled back is forgotten. The cache spares the
    ping path a query and a row conversion per ping.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checks_by_uuid: dict[str, Check] = {}
        self.uuids_by_slug: dict[tuple[int, str], list[str]] = {}
        self.projects_by_ping_key: dict[str, Any] = {}  # pingd.store.projects.Project by key
        self.data_version = -1
        self.watched: tuple[str, tuple[int, int] | None] | None = None
        # While a ping job runs, its writes are queued here (by statement) and
        # sent with one executemany per statement: each execute() gives up the
        # GIL and waits to get it back, which under load costs more than the
        # SQL itself. Reads of checks come from the memory above, which every
        # staged write updates at once, so jobs still see their own writes.
        self.staging = False
        self.staged: dict[str, dict[Hashable, tuple[Any, ...]]] = {}
        self.spellers: dict[str, Callable[[int], str]] = {}
        self.flushers: dict[str, Flusher] = {}

    def forget_checks(self) -> None:
        """Drop every remembered check and anything staged."""
        self.checks_by_uuid.clear()
        self.uuids_by_slug.clear()
        self.projects_by_ping_key.clear()
        self.staged.clear()

    def watch_file(self, path: str) -> None:
        """Refuse every write from now on while ``path`` is not the file opened now."""
        self.watched = (path, _file_identity(path))

    def check_file(self) -> None:
        """Raise DatabaseReplaced if the watched file was removed or replaced."""
        if self.watched is not None and _file_identity(self.watched[0]) != self.watched[1]:
            raise DatabaseReplaced(
                f"the database file {self.watched[0]} was removed or replaced while pingd was"
                " running; writes are refused until it is back (or restart pingd)"
            )

    def begin_immediate(self) -> None:
        """BEGIN IMMEDIATE, then forget the checks if another process wrote meanwhile."""
        self.check_file()
        self.execute("BEGIN IMMEDIATE")
        version = int(self.execute("PRAGMA data_version").fetchone()[0])
        if version != self.data_version or len(self.checks_by_uuid) > MAX_REMEMBERED_CHECKS:
            self.forget_checks()
            self.data_version = version

    def write(
        self,
        sql: str,
        params: tuple[Any, ...],
        *,
        key: Hashable = None,
        many: Callable[[int], str] | None = None,
        flusher: Flusher | None = None,
    ) -> None:
        """Execute a write now, or queue it while staging.

        Of the staged rows of one statement with the same ``key``, only the
        last is sent: a group writes a check's state once, however many of
        its pings it holds. ``many(n)`` spells the statement for ``n`` rows;
        a ``flusher`` instead sends the rows itself (``sql`` then only names
        the kind of write).
        """
        if not self.staging:
            if flusher is not None:
                flusher(self, [params])
            else:
                self.execute(sql, params)
            return
        rows = self.staged.setdefault(sql, {})
        rows[len(rows) if key is None else key] = params
        if many is not None:
            self.spellers[sql] = many
        if flusher is not None:
            self.flushers[sql] = flusher

    def staged_row(self, sql: str, key: Hashable) -> tuple[Any, ...] | None:
        """Return the row staged for ``sql`` under ``key``, if any."""
        return self.staged.get(sql, {}).get(key)

    def flush(self) -> None:
        """Send every staged write, statement by statement, in the order first staged.

        Rows go many to a statement where the statement has a many-row form,
        so a group's pings cost a few GIL hand-offs, not a few per ping.
        """
        staged, self.staged = self.staged, {}
        for sql, rows in staged.items():
            flusher = self.flushers.get(sql)
            if flusher is not None:
                flusher(self, list(rows.values()))
                continue
            many = self.spellers.get(sql)
            if many is None or len(rows) == 1:
                self.executemany(sql, rows.values())
                continue
            for size, params in padded_chunks(list(rows.values())):
                self.execute(many(size), params)


def padded_chunks(rows: Rows) -> Iterator[tuple[int, list[Any]]]:
    """Split rows for many-row statements: (row count, flat parameters) per statement.

    Each count is a power of two up to MAX_ROWS_PER_STATEMENT, the rows
    padded with all-NULL ones, which every many-row statement here skips.
    Every count of rows would be a prepared statement of its own, some
    40 KB each: a handful of counts keep the statement cache small.
    """
    for start in range(0, len(rows), MAX_ROWS_PER_STATEMENT):
        chunk = rows[start : start + MAX_ROWS_PER_STATEMENT]
        size = 1 << (len(chunk) - 1).bit_length()
        params = [param for row in chunk for param in row]
        params.extend([None] * (len(chunk[0]) * (size - len(chunk))))
        yield size, params


def connect(path: str, *, writer: bool = False) -> sqlite3.Connection:
    """Open a connection with pingd's pragmas; transactions are explicit."""
    conn = sqlite3.connect(
        path,
        isolation_level=None,
        check_same_thread=False,
        factory=WriterConnection if writer else sqlite3.Connection,
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # FULL makes every acknowledged write survive power loss, not just a
    # process crash; group commit keeps that affordable.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block inside BEGIN IMMEDIATE … COMMIT, rolling back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back itself (SQLITE_FULL, I/O errors).
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise

"""Create or upgrade a database to the schema this pingd knows, by ``PRAGMA user_version``.

A new, empty database gets ``schema.sql`` in one transaction. A database at an
older version gets each ``migrations/NNNN_*.sql`` step above its version, each
in a transaction of its own, with foreign keys off (a step may rebuild a
table). A database from a newer pingd is refused before anything is written to
it, naming the pingd that wrote it when the database says.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from pingd import __version__

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# PRAGMA application_id of a pingd database ("ping" in ASCII), set by schema 3.
APPLICATION_ID = 0x70696E67


class MigrationError(Exception):
    """The database cannot be brought to this pingd's schema."""


def _package_file(name: str) -> Traversable:
    packaged = resources.files("pingd") / name
    if packaged.is_file() or packaged.is_dir():
        return packaged
    # An editable install runs from the source tree, where schema.sql sits at
    # the repository's top level (the wheel copies it into the package).
    return Path(__file__).resolve().parent.parent / name


def load_schema() -> str:
    """Return the text of the full current schema."""
    return _package_file("schema.sql").read_text(encoding="utf-8")


def load_migrations() -> dict[int, str]:
    """Return every migration step's SQL by the version it produces."""
    folder = resources.files("pingd") / "migrations"
    steps = {}
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            steps[int(match.group(1))] = entry.read_text(encoding="utf-8")
    return steps


def schema_version(sql: str) -> int:
    """Return the user_version a schema script sets."""
    versions = re.findall(r"PRAGMA\s+user_version\s*=\s*(\d+)", sql, flags=re.IGNORECASE)
    if not versions:
        raise MigrationError("schema script does not set PRAGMA user_version")
    return int(versions[-1])


def current_version(conn: sqlite3.Connection) -> int:
    """Return the database's user_version."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _refuse_foreign(conn: sqlite3.Connection) -> None:
    """Raise MigrationError for a database that another program has marked as its own."""
    application_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if application_id not in (0, APPLICATION_ID):
        raise MigrationError(
            f"{_database_name(conn)} belongs to another program (application_id"
            f" {application_id:#x}), not pingd: set storage.path to pingd's own database;"
            " it was not changed"
        )


def written_by(conn: sqlite3.Connection) -> str | None:
    """Return which pingd last created or migrated the database, if it says."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'written_by'").fetchone()
    except sqlite3.OperationalError:  # A schema from before the meta table.
        return None
    return None if row is None else str(row[0])


def _database_name(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return f"the database {row[2]}" if row is not None and row[2] else "the database"


def _newer_database_message(conn: sqlite3.Connection, version: int, target: int) -> str:
    maker = written_by(conn)
    made = (
        f"was written by {maker} (schema version {version})"
        if maker
        else (f"is at schema version {version}, from a newer pingd")
    )
    return (
        f"{_database_name(conn)} {made}, but this is pingd {__version__}, which knows schema"
        f" versions up to {target}: upgrade pingd, or restore a backup; the database was not"
        " changed"
    )


def _record_writer(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('written_by', ?)",
            (f"pingd {__version__}",),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _run_script(conn: sqlite3.Connection, sql: str) -> None:
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nCOMMIT;")
    except sqlite3.Error:
        # A failed executescript leaves its transaction open; undo all of it.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the current schema and return the version it had."""
    schema = load_schema()
    target = schema_version(schema)
    # One statement, so one snapshot: another process may be creating the
    # same database at this moment.
    start, has_tables = conn.execute(
        "SELECT (SELECT user_version FROM pragma_user_version),"
        " EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table')"
    ).fetchone()
    # Every refusal comes before anything, journal_mode included, is written.
    _refuse_foreign(conn)
    if start > target:
        raise MigrationError(_newer_database_message(conn, start, target))
    if start == 0 and has_tables:
        # Every pingd schema has a version: tables without one are another
        # program's, and pingd must not add its own to them.
        raise MigrationError(
            f"{_database_name(conn)} is an SQLite database of another program (it has tables"
            " but no pingd schema version): set storage.path to a new file; it was not changed"
        )
    conn.execute("PRAGMA journal_mode = WAL")
    if start == target:
        return int(start)
    # A step may rebuild a table (drop and recreate it): with foreign keys on,
    # dropping it would delete every row that refers to it. The pragma is a
    # no-op inside a transaction, so it is set around the steps.
    foreign_keys = int(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        if start == 0:
            _run_script(conn, schema)
        else:
            steps = load_migrations()
            for version in range(start + 1, target + 1):
                if version not in steps:
                    raise MigrationError(f"no migration step produces schema version {version}")
                _run_script(conn, steps[version])
        _record_writer(conn)
    except sqlite3.Error as ex:
        # Another process may have migrated the same file a moment earlier.
        if current_version(conn) == target:
            return int(start)
        raise MigrationError(f"migrating {_database_name(conn)} failed: {ex}") from ex
    finally:
        conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    return int(start)

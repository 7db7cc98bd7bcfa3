"""The database file as the operating system sees it: can pingd use it, and if not, why.

Every problem becomes a ``DatabaseUnusable`` whose message is one line that
names the path and says what to do, for ``pingd`` to print instead of a
traceback or SQLite's bare "unable to open database file".
"""

from __future__ import annotations

import os
import sqlite3


class DatabaseUnusable(Exception):
    """The configured database cannot be opened, created or written."""


def check_path(path: str) -> None:
    """Raise DatabaseUnusable unless pingd can create or write the database at ``path``.

    SQLite in WAL mode writes two files beside the database (``-wal`` and
    ``-shm``), so its folder must be writable too. ``os.access`` also sees a
    read-only mount, which a root process would otherwise write through.
    """
    if path == ":memory:":
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DatabaseUnusable(
            f"cannot open the database {path}: the folder {folder} does not exist"
            " (create it, or set storage.path)"
        )
    if os.path.isdir(path):
        raise DatabaseUnusable(f"cannot open the database {path}: it is a folder, not a file")
    exists = os.path.exists(path)
    if exists and not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseUnusable(
            f"cannot open the database {path}: the file is read-only for this user"
            " (pingd must write to it)"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        what = "write the -wal and -shm files beside" if exists else "create"
        raise DatabaseUnusable(
            f"cannot open the database {path}: the folder {folder} is read-only for this user"
            f" (pingd must {what} the database there)"
        )


def explain(path: str, ex: sqlite3.Error) -> DatabaseUnusable:
    """Turn SQLite's error on ``path`` into a one-line DatabaseUnusable that names it."""
    text = str(ex)
    if isinstance(ex, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return DatabaseUnusable(
            f"the database {path} is corrupt or not a pingd database ({text}):"
            " restore a backup (`pingd backup` makes one), or move it aside to start anew"
        )
    if "readonly" in text or "read-only" in text:
        return DatabaseUnusable(f"cannot write the database {path}: {text}")
    if "full" in text:
        return DatabaseUnusable(f"cannot write the database {path}: the disk is full ({text})")
    return DatabaseUnusable(f"the database {path}: {text}")

"""The online backup: a consistent copy of the live database, written atomically.

Reads through the store's pooled readers; runs no query of its own and
imports no other module of this package.
"""

from __future__ import annotations

import os
import sqlite3

from pingd.writer.store import Store


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

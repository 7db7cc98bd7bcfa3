"""One ``pingd serve`` per database: an advisory lock on a file beside it.

Two servers on one database would each run an alert loop and send every alert
twice, and the writer's memory of checks assumes it is the only server. So
``pingd serve`` takes an exclusive ``flock`` on ``<database>.lock`` for as long
as it runs and writes its PID (then its addresses) into the file; a second
server finds the lock taken and refuses to start, naming the first. The kernel
drops the lock when the process ends, however it ends, so a stale file never
blocks a restart. CLI commands do not take the lock: they work beside a server.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence

from pingd.dbfile import DatabaseUnusable


class AlreadyServing(Exception):
    """Another ``pingd serve`` holds the database."""


class ServerLock:
    """The held lock of this process's ``pingd serve``; release with ``close``."""

    def __init__(self, database: str) -> None:
        self.path = os.path.realpath(database) + ".lock"
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as ex:
            raise DatabaseUnusable(
                f"cannot create the lock file {self.path}: {ex.strerror or ex}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise AlreadyServing(
                f"another pingd serve ({holder or 'PID unknown'}) is already serving"
                f" {database}; stop it first (two servers would send every alert twice)"
            ) from None
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        self.describe([])

    def describe(self, urls: Sequence[str]) -> None:
        """Write this process's PID and addresses into the lock file, for a second server."""
        text = f"PID {os.getpid()}"
        if urls:
            text += ", listening on " + " ".join(urls)
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, text.encode("utf-8"), 0)
        except OSError:  # A full disk, say: the lock holds all the same.
            pass

    def close(self) -> None:
        """Release the lock (the file stays: removing it would race a starting server)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""

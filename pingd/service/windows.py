"""Use cases of maintenance windows: creating, listing, deleting them, and pausing alerts until.

A window covers one check (by UUID) or every check with a tag, recurring or
one-off; ``pause_alerts_until`` is a one-off window of one check from now.
Builds on ``ServiceCore`` alone; what a window holds back and settles is the
alert policy's (``pingd.service.policy``).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from pingd.domain.checks import Check
from pingd.domain.windows import Window
from pingd.domain.windows import occurrence_at
from pingd.domain.windows import parse_time
from pingd.domain.windows import quiet_until
from pingd.domain.windows import validate_window_input
from pingd.domain.windows import window_applies
from pingd.errors import CheckNotFound
from pingd.errors import InvalidInput
from pingd.errors import NotFound
from pingd.service.core import ServiceCore
from pingd.store import checks as checks_db
from pingd.store import windows as windows_db

MAX_WINDOWS = 1000


class WindowsService(ServiceCore):
    """Use cases of maintenance windows: create, list, delete; pause a check's alerts until."""

    def create_window(self, fields: dict[str, Any], *, declared: bool = False) -> Window:
        """Create a window from API fields (validated here) and return it."""
        problems = validate_window_input(fields)
        if problems:
            raise InvalidInput(problems)
        project = self.project()

        def run(conn: sqlite3.Connection) -> Window:
            check_id = None
            if fields.get("check"):
                check = checks_db.get_check_by_uuid(conn, str(fields["check"]).lower())
                if check is None or check.project_id != project.id:
                    raise InvalidInput({"check": "no check has this UUID"})
                check_id = check.id
            if len(windows_db.list_windows(conn, project.id)) >= MAX_WINDOWS:
                raise InvalidInput({"windows": f"a project has at most {MAX_WINDOWS} windows"})
            return windows_db.insert_window(conn, new_window(project.id, check_id, fields,
                                                             self._clock(), declared))  # fmt: skip

        return self._store.write(run)

    def pause_alerts_until(self, check_id: int, until: Any) -> Window:
        """Hold back a check's alerts from now until ``until`` (ISO 8601): a one-off window."""
        when = parse_time(until)
        now = self._clock()
        if when is None:
            raise InvalidInput({"until": "must be an ISO 8601 time with its offset"})
        if when <= now:
            raise InvalidInput({"until": "must be in the future"})

        def run(conn: sqlite3.Connection) -> Window:
            check = checks_db.get_check_by_id(conn, check_id)
            if check is None:
                raise CheckNotFound()
            fields = {"name": "alerts paused", "starts": now.isoformat(), "ends": when.isoformat()}
            window = new_window(check.project_id, check.id, fields, now, False)
            return windows_db.insert_window(conn, window)

        return self._store.write(run)

    def list_windows(self) -> list[Window]:
        """Return every window of the project, oldest first."""
        project = self.project()
        return self._store.read(lambda conn: windows_db.list_windows(conn, project.id))

    def get_window(self, window_id: int) -> Window:
        """Return one window, or raise NotFound."""
        project = self.project()
        window = self._store.read(lambda conn: windows_db.get_window(conn, window_id))
        if window is None or window.project_id != project.id:
            raise NotFound("no window with this id")
        return window

    def delete_window(self, window_id: int) -> Window:
        """Delete a window and return what it was; the alerts it held are settled next tick."""
        window = self.get_window(window_id)
        self._store.write(lambda conn: windows_db.delete_window(conn, window_id))
        return window

    def windows_of(self, check: Check) -> list[Window]:
        """Return the windows that cover a check (by its id or a tag)."""
        return [window for window in self.list_windows() if window_applies(window, check)]

    def quiet_until_by_check(self, checks: list[Check], now: datetime) -> dict[int, datetime]:
        """Return, for each of these checks a window covers now, when it ends."""
        windows = self.list_windows()
        # Most checks have no window in effect: find those once, not per check.
        active = [window for window in windows if occurrence_at(window, now) is not None]
        found = {}
        for check in checks:
            if not any(window_applies(window, check) for window in active):
                continue
            end = quiet_until(windows, check, now)
            if end is not None:
                found[check.id] = end
        return found


def new_window(
    project_id: int, check_id: int | None, fields: dict[str, Any], now: datetime, declared: bool
) -> Window:
    """Return a window of validated fields (its id is 0 until stored)."""
    recurring = bool(fields.get("schedule"))
    return Window(
        id=0, project_id=project_id, check_id=check_id,
        tag="" if check_id is not None else str(fields.get("tag", "")),
        name=str(fields.get("name", "")), schedule=str(fields.get("schedule", "")),
        tz=str(fields.get("tz", "UTC")), duration=int(fields.get("duration", 0)),
        starts=None if recurring else parse_time(fields.get("starts")),
        ends=None if recurring else parse_time(fields.get("ends")),
        created=now, declared=declared,
    )  # fmt: skip

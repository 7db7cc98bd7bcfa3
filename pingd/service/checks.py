"""Use cases of checks: creating (or upserting) them, changing, pausing, resuming, deleting.

Also finding and listing checks, a check's channels and its flips. Builds on
``ServiceCore``; ``new_check`` is also the pings family's, for pings that
create their check. Records no ping and queues no alert.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import uuid as uuidlib
from collections.abc import Callable
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pingd.domain.check_input import normalize_check_input
from pingd.domain.check_input import validate_check_input
from pingd.domain.checks import Check
from pingd.domain.checks import Flip
from pingd.domain.checks import down_after
from pingd.domain.checks import slugify
from pingd.domain.checks import status_at
from pingd.errors import AmbiguousSlug
from pingd.errors import CheckNotFound
from pingd.errors import CheckNotPaused
from pingd.errors import Duplicate
from pingd.errors import Forbidden
from pingd.errors import InvalidInput
from pingd.service.core import ServiceCore
from pingd.service.policy import keep_reminding
from pingd.service.policy import stop_alerts
from pingd.store import channels as channels_db
from pingd.store import checks as checks_db
from pingd.store import flips as flips_db
from pingd.store import windows as windows_db
from pingd.store.times import to_db_time

_NOT_GIVEN = object()


class ChecksService(ServiceCore):
    """Use cases of checks: create, change, pause, resume, delete, find and list them."""

    def create_check(self, **fields: Any) -> Check:
        """Create a check from fields (validated here) and return it."""
        check, _ = self.upsert_check(fields, unique=())
        return check

    def upsert_check(
        self,
        fields: dict[str, Any],
        unique: Sequence[str],
        *,
        first_match: bool = False,
        slug_from_name: bool = True,
    ) -> tuple[Check, bool]:
        """Update the one check that matches ``fields`` on ``unique``, or create one.

        Return the check and whether it was created. Several matches are a
        Duplicate unless ``first_match`` (Healthchecks' rule: the oldest is
        updated). ``slug_from_name`` derives the slug from a given name
        unless a slug is given too.
        """
        fields = dict(fields)
        channels = fields.pop("channels", _NOT_GIVEN)
        fields = _validate(fields)
        project = self.project()

        def run(conn: sqlite3.Connection) -> tuple[Check, bool]:
            now = self._clock()
            channel_ids = self._resolve_channels(conn, project.id, channels)
            template = apply_check_fields(new_check(project.id, "", now), fields, slug_from_name)
            if unique:
                matches = [
                    check
                    for check in checks_db.list_checks(conn, project.id)
                    if all(getattr(check, name) == getattr(template, name) for name in unique)
                ]
                if len(matches) > 1 and not first_match:
                    raise Duplicate(f"{len(matches)} checks match on {', '.join(unique)}")
                if matches:
                    updated = apply_check_fields(matches[0], fields, slug_from_name)
                    checks_db.update_check(conn, updated)
                    if channel_ids is not None:
                        channels_db.set_check_channels(conn, updated.id, channel_ids)
                    return updated, False
            if checks_db.count_checks(conn, project.id) >= self._max_checks:
                raise Forbidden(f"the project has reached its limit of {self._max_checks} checks")
            created = checks_db.insert_check(conn, template)
            channels_db.set_check_channels(conn, created.id, channel_ids or [])
            return created, True

        return self._store.write(run)

    def update_check(
        self, check_id: int, fields: dict[str, Any], *, slug_from_name: bool = True
    ) -> Check:
        """Change the given fields of a check and return it."""
        fields = dict(fields)
        channels = fields.pop("channels", _NOT_GIVEN)
        fields = _validate(fields)

        def change(conn: sqlite3.Connection, check: Check, now: datetime) -> Check:
            channel_ids = self._resolve_channels(conn, check.project_id, channels)
            if channel_ids is not None:
                channels_db.set_check_channels(conn, check.id, channel_ids)
            updated = apply_check_fields(check, fields, slug_from_name)
            keep_reminding(conn, updated, now)
            return updated

        return self._change_check(check_id, change)

    def _resolve_channels(
        self, conn: sqlite3.Connection, project_id: int, channels: object
    ) -> list[int] | None:
        """Turn the ``channels`` input ("*" or a list of ids) into channel ids."""
        if channels is _NOT_GIVEN:
            return None
        known = [channel.id for channel in channels_db.list_channels(conn, project_id)]
        if channels == "*":
            return known
        if not isinstance(channels, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in channels
        ):
            raise InvalidInput({"channels": 'must be "*" or a list of channel ids'})
        unknown = sorted(set(channels) - set(known))
        if unknown:
            raise InvalidInput({"channels": f"no channel with id {unknown[0]}"})
        return sorted(set(channels))

    def channel_ids_by_check(self) -> dict[int, list[int]]:
        """Return, for every check with channels, the ids of the channels it alerts."""
        project = self.project()
        return self._store.read(lambda conn: channels_db.get_channel_ids_by_check(conn, project.id))

    def list_checks(
        self, *, tags: Sequence[str] = (), slug: str | None = None, status: str | None = None
    ) -> list[Check]:
        """Return the project's checks that have all ``tags``, the slug and the status."""
        project = self.project()
        checks = self._store.read(lambda conn: checks_db.list_checks(conn, project.id))
        now = self._clock()
        return [
            check
            for check in checks
            if set(tags) <= set(check.tags.split())
            and (slug is None or check.slug == slug)
            and (status is None or status_at(check, now) == status)
        ]

    def get_check(self, uuid: str) -> Check:
        """Return a check by its UUID, or raise CheckNotFound."""
        check = self._store.read(lambda conn: checks_db.get_check_by_uuid(conn, uuid.lower()))
        if check is None:
            raise CheckNotFound()
        return check

    def find_check(self, ident: str) -> Check:
        """Return a check by UUID or by slug; raise if none or several match."""
        project = self.project()

        def run(conn: sqlite3.Connection) -> Check:
            check = checks_db.get_check_by_uuid(conn, ident.lower())
            if check is not None:
                return check
            matches = checks_db.get_checks_by_slug(conn, project.id, ident)
            if len(matches) > 1:
                raise AmbiguousSlug(f"more than one check has the slug {ident!r}; use its UUID")
            if not matches:
                raise CheckNotFound(f"no check has the UUID or slug {ident!r}")
            return matches[0]

        return self._store.read(run)

    def _change_check(
        self, check_id: int, change: Callable[[sqlite3.Connection, Check, datetime], Check]
    ) -> Check:
        def run(conn: sqlite3.Connection) -> Check:
            check = checks_db.get_check_by_id(conn, check_id)
            if check is None:
                raise CheckNotFound()
            now = self._clock()
            updated = change(conn, check, now)
            if updated.status != check.status:
                flips_db.insert_flip(conn, Flip(check.id, now, check.status, updated.status, ""))
            checks_db.update_check(conn, updated)
            return updated

        return self._store.write(run)

    def pause_check(self, check_id: int) -> Check:
        """Pause a check (idempotent): no alerts until it is pinged or resumed."""

        def change(conn: sqlite3.Connection, check: Check, now: datetime) -> Check:
            stop_alerts(conn, check.id)
            return dataclasses.replace(
                check, status="paused", last_start=None, last_start_rid=None, alert_after=None
            )

        return self._change_check(check_id, change)

    def resume_check(self, check_id: int) -> Check:
        """Resume a paused check: it becomes new and waits for its next ping.

        A check whose alerts are paused until a time (a one-off window of its
        own, now in effect) has that window ended instead, if it is not paused.
        """

        def change(conn: sqlite3.Connection, check: Check, now: datetime) -> Check:
            if check.status != "paused":
                if windows_db.end_check_windows(conn, check.id, to_db_time(now)):
                    return check
                raise CheckNotPaused()
            stop_alerts(conn, check.id)
            return dataclasses.replace(
                check, status="new", last_ping=None, last_start=None, last_start_rid=None,
                alert_after=None, fail_streak=0, success_streak=0,
            )  # fmt: skip

        return self._change_check(check_id, change)

    def delete_check(self, check_id: int) -> Check:
        """Delete a check with its history and return what it was."""

        def run(conn: sqlite3.Connection) -> Check:
            check = checks_db.get_check_by_id(conn, check_id)
            if check is None:
                raise CheckNotFound()
            checks_db.delete_check(conn, check_id)
            return check

        return self._store.write(run)

    def list_flips(self, check_id: int) -> list[Flip]:
        """Return a check's status changes, newest first."""
        return self._store.read(lambda conn: flips_db.list_flips(conn, check_id))


def new_check(project_id: int, name: str, now: datetime) -> Check:
    """Return a new check of a project with the default settings (its id is 0 until stored)."""
    return Check(
        id=0, project_id=project_id, uuid=str(uuidlib.uuid4()), name=name,
        slug=slugify(name), created=now,
    )  # fmt: skip


def _validate(fields: dict[str, Any]) -> dict[str, Any]:
    """Return the fields normalised, or raise InvalidInput naming every problem."""
    fields = normalize_check_input(fields)
    problems = validate_check_input(fields)
    if problems:
        raise InvalidInput(problems)
    return fields


def apply_check_fields(check: Check, fields: dict[str, Any], slug_from_name: bool = True) -> Check:
    """Return the check with validated fields applied and derived fields recomputed."""
    updated = dataclasses.replace(check, **fields)
    if "name" in fields and "slug" not in fields and slug_from_name:
        updated = dataclasses.replace(updated, slug=slugify(fields["name"]))
    if "timeout" in fields:
        # Setting a period makes the check a simple one again.
        updated = dataclasses.replace(updated, schedule="")
    return dataclasses.replace(updated, alert_after=down_after(updated))

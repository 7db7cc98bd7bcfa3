"""Use cases of declared checks and channels: planning and applying what the config files say.

``apply_declaration`` validates every declared channel's settings through the
injected notifier, then, in one transaction of the writer, reads the state,
makes the plan (``pingd.declared.plan``) and carries it out: all of it, or,
on any error, nothing. A dry run makes the same plan from a read. Builds on
``ServiceCore``; a check's fields are applied as the checks family does.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime
from typing import Any

from pingd.declared.parse import Declaration
from pingd.declared.parse import DeclaredChannel
from pingd.declared.parse import DeclaredCheck
from pingd.declared.plan import State
from pingd.declared.plan import Step
from pingd.declared.plan import make_plan
from pingd.domain.checks import Flip
from pingd.errors import DeclarationError
from pingd.errors import InvalidInput
from pingd.service.checks import apply_check_fields
from pingd.service.checks import new_check
from pingd.service.core import ServiceCore
from pingd.service.windows import new_window
from pingd.store import channels as channels_db
from pingd.store import checks as checks_db
from pingd.store import declared as declared_db
from pingd.store import flips as flips_db
from pingd.store import windows as windows_db


class DeclaredService(ServiceCore):
    """Use cases of the checks and channels the config files declare: plan and apply."""

    def apply_declaration(
        self, declaration: Declaration, *, dry_run: bool = False, manage: bool = True
    ) -> list[Step]:
        """Bring the database to the declaration (or only plan it); return the steps.

        ``manage``: the files manage what is applied (drift is watched); an
        import applies without it.
        """
        cleaned = self._clean_channels(declaration.channels)
        project = self.project()

        def run(conn: sqlite3.Connection) -> list[Step]:
            steps = make_plan(declaration, self._state(conn, project.id), cleaned)
            if not dry_run:
                self._carry_out(conn, project.id, steps, cleaned, manage)
            return steps

        return self._store.read(run) if dry_run else self._store.write(run)

    def declared_state(self) -> State:
        """Return the checks and channels as the plan and the export see them."""
        project = self.project()
        return self._store.read(lambda conn: self._state(conn, project.id))

    def check_is_declared(self, check_id: int) -> bool:
        """Tell whether the config files manage a check (a change elsewhere is drift)."""
        return self._store.read(lambda conn: declared_db.is_declared(conn, "check", check_id))

    def _clean_channels(self, channels: tuple[DeclaredChannel, ...]) -> dict[str, dict[str, Any]]:
        cleaned = {}
        for channel in channels:
            if self._notifier is None:
                raise DeclarationError("channels cannot be checked: notifications are not set up")
            try:
                cleaned[channel.name] = self._notifier.validate(channel.kind, channel.settings)
            except InvalidInput as ex:
                field, problem = next(iter(ex.fields.items()))
                raise DeclarationError(f"{channel.where}: {field}: {problem}") from None
        return cleaned

    def _secret_fields(self, kind: str) -> tuple[str, ...]:
        return self._notifier.secret_fields(kind) if self._notifier else ()

    def _state(self, conn: sqlite3.Connection, project_id: int) -> State:
        return State(
            checks=checks_db.list_checks(conn, project_id),
            channels=channels_db.list_channels(conn, project_id),
            links=channels_db.get_channel_ids_by_check(conn, project_id),
            applied_checks=declared_db.applied(conn, "check"),
            applied_channels=declared_db.applied(conn, "channel"),
            secret_fields=self._secret_fields,
            windows=windows_db.list_windows(conn, project_id),
        )

    def _carry_out(
        self, conn: sqlite3.Connection, project_id: int, steps: list[Step],
        cleaned: dict[str, dict[str, Any]], manage: bool,
    ) -> None:  # fmt: skip
        now = self._clock()
        channel_ids: dict[str, int] = {}
        for step in (s for s in steps if s.what == "channel"):
            if step.action == "delete" and step.target_id is not None:
                channels_db.delete_channel(conn, step.target_id)
            elif isinstance(step.declared, DeclaredChannel):
                channel_ids[step.name] = self._write_channel(conn, project_id, step, cleaned, now)
                if manage:
                    declared_db.record_applied(
                        conn, "channel", channel_ids[step.name], step.desired
                    )
        for channel in channels_db.list_channels(conn, project_id):
            channel_ids.setdefault(channel.name, channel.id)
        creating = sum(1 for s in steps if s.what == "check" and s.action == "create")
        if creating and checks_db.count_checks(conn, project_id) + creating > self._max_checks:
            raise DeclarationError(f"the files declare more checks than limits.max_checks "
                                   f"({self._max_checks}) allows")  # fmt: skip
        for step in (s for s in steps if s.what == "check"):
            if step.action == "delete" and step.target_id is not None:
                checks_db.delete_check(conn, step.target_id)
            elif isinstance(step.declared, DeclaredCheck):
                check_id = self._write_check(conn, project_id, step, channel_ids, now)
                if manage:
                    declared_db.record_applied(conn, "check", check_id, step.desired)
        _write_windows(conn, project_id, [s for s in steps if s.what == "window"], now)

    def _write_channel(
        self, conn: sqlite3.Connection, project_id: int, step: Step,
        cleaned: dict[str, dict[str, Any]], now: datetime,
    ) -> int:  # fmt: skip
        declared = step.declared
        assert isinstance(declared, DeclaredChannel)
        settings = cleaned[declared.name]
        if step.target_id is None:
            channel = channels_db.insert_channel(
                conn, project_id, declared.kind, declared.name, settings, now, declared.uuid,
                remind_every=declared.remind_every, notify_late=declared.notify_late,
            )  # fmt: skip
        else:
            found = channels_db.get_channel(conn, step.target_id)
            assert found is not None
            if found.kind != declared.kind:
                raise DeclarationError(f"{declared.where}: kind: the channel is a {found.kind} "
                                       "in the database and a kind cannot change")  # fmt: skip
            channel = dataclasses.replace(
                found, name=declared.name, settings=settings, remind_every=declared.remind_every,
                notify_late=declared.notify_late,
            )  # fmt: skip
            channels_db.update_channel(conn, channel)
        return channel.id

    def _write_check(
        self, conn: sqlite3.Connection, project_id: int, step: Step, channel_ids: dict[str, int],
        now: datetime,
    ) -> int:  # fmt: skip
        declared = step.declared
        assert isinstance(declared, DeclaredCheck)
        fields = {k: v for k, v in step.desired.items() if k != "channels"}
        if step.target_id is None:
            template = new_check(project_id, declared.name, now)
            if declared.uuid:
                template = dataclasses.replace(template, uuid=declared.uuid)
            check = checks_db.insert_check(conn, apply_check_fields(template, fields))
        else:
            found = checks_db.get_check_by_id(conn, step.target_id)
            assert found is not None
            check = apply_check_fields(found, fields)
            checks_db.update_check(conn, check)
        if step.pause and check.status != "paused":
            flips_db.insert_flip(conn, Flip(check.id, now, check.status, "paused", ""))
            check = dataclasses.replace(check, status="paused", last_start=None,
                                        last_start_rid=None, alert_after=None)  # fmt: skip
            checks_db.update_check(conn, check)
        ids = sorted(channel_ids[name] for name in step.desired["channels"])
        channels_db.set_check_channels(conn, check.id, ids)
        return check.id


def _write_windows(
    conn: sqlite3.Connection, project_id: int, steps: list[Step], now: datetime
) -> None:
    """Delete the declared windows no longer declared and create the new ones."""
    checks = checks_db.list_checks(conn, project_id)
    for step in steps:
        if step.action == "delete" and step.target_id is not None:
            windows_db.delete_window(conn, step.target_id)
        elif step.action == "create":
            check_id = None
            if step.desired.get("check"):
                named = [c.id for c in checks if c.name == step.desired["check"]]
                if len(named) != 1:
                    raise DeclarationError(f"window {step.name!r}: check: "
                                           f"{len(named)} checks are named "
                                           f"{step.desired['check']!r}")  # fmt: skip
                check_id = named[0]
            windows_db.insert_window(
                conn, new_window(project_id, check_id, step.desired, now, True)
            )

"""One-click actions on a check: pause, hold alerts, resume, ping now, channels, delete.

Each is a plain POST form (with the session's form token) answered with a
303 redirect, so every action works without a script and a reload never
repeats it. A read-only session, a form from another site and a form
without the right token change nothing (``Sessions.writer``). Delete has a
confirmation page first.
"""

from __future__ import annotations

from datetime import timedelta

import falcon

from pingd.dashboard.render import redirect
from pingd.dashboard.render import render_page
from pingd.dashboard.render import when
from pingd.dashboard.session import Page
from pingd.dashboard.session import form_list
from pingd.dashboard.session import local_path
from pingd.domain.checks import Check
from pingd.errors import CheckNotFound
from pingd.errors import CheckNotPaused
from pingd.service.pings import PingRequest

DASHBOARD_UA = "pingd dashboard"


class _CheckAction(Page):
    """A POST to ``/checks/{uuid}/<action>``; the subclass says what it does."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        found = self._check_to_change(req, resp, check_uuid)
        if found is None:
            return
        _, form, check = found
        notice = self.act(req, check, form)
        self._sessions.tell(req, resp, notice)
        redirect(resp, local_path(form.get("back") or f"/checks/{check.uuid}"))

    def act(self, req: falcon.Request, check: Check, form: dict[str, str]) -> str:
        raise NotImplementedError


class PauseAction(_CheckAction):
    """``POST /checks/{uuid}/pause``."""

    def act(self, req: falcon.Request, check: Check, form: dict[str, str]) -> str:
        self._service.pause_check(check.id)
        return f"Paused {check.name}: it sends no alert until it is resumed or pinged."


class ResumeAction(_CheckAction):
    """``POST /checks/{uuid}/resume``."""

    def act(self, req: falcon.Request, check: Check, form: dict[str, str]) -> str:
        paused = check.status == "paused"
        try:
            self._service.resume_check(check.id)
        except CheckNotPaused:
            return f"{check.name} was not paused; nothing changed."
        if not paused:
            return f"The hold on the alerts of {check.name} ended."
        return f"Resumed {check.name}: it waits for its next ping."


HOLD_CHOICES = {"1h": 3600, "4h": 4 * 3600, "12h": 12 * 3600, "1d": 86400, "3d": 3 * 86400,
                "1w": 7 * 86400}  # fmt: skip


class HoldAlertsAction(_CheckAction):
    """``POST /checks/{uuid}/hold``: hold the check's alerts for a while (it stays watched)."""

    def act(self, req: falcon.Request, check: Check, form: dict[str, str]) -> str:
        seconds = HOLD_CHOICES.get(form.get("for", ""))
        if seconds is None:
            return "Choose how long to hold the alerts; nothing changed."
        until = self._service.now() + timedelta(seconds=seconds)
        window = self._service.pause_alerts_until(check.id, until.isoformat())
        return (f"Alerts of {check.name} are held until {when(window.ends)}; it is still watched,"
                " and if it is down then, its channels hear of it once.")  # fmt: skip


class PingNowAction(_CheckAction):
    """``POST /checks/{uuid}/ping``: a success ping, as if the job had sent it."""

    def act(self, req: falcon.Request, check: Check, form: dict[str, str]) -> str:
        self._service.record_ping(
            PingRequest(action="success", method="POST", scheme=req.scheme,
                        remote_addr=req.remote_addr or "", ua=DASHBOARD_UA, body=b"",
                        body_size=0, uuid=check.uuid)
        )  # fmt: skip
        return f"Pinged {check.name}."


class ChannelsAction(_CheckAction):
    """``POST /checks/{uuid}/channels``: the channels this check alerts, as checkboxes."""

    def act(self, req: falcon.Request, check: Check, form: dict[str, str]) -> str:
        known = {channel.id for channel in self._service.list_channels()}
        chosen = sorted({int(v) for v in form_list(form, "channel") if v.isdigit()} & known)
        self._service.update_check(check.id, {"channels": chosen})
        return f"{check.name} now alerts {len(chosen)} channel{'' if len(chosen) == 1 else 's'}."


class DeleteCheck(Page):
    """``/checks/{uuid}/delete``: a confirmation page (GET), then the deletion (POST)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        found = self._check_to_read(req, resp, check_uuid, write=True)
        if found is not None:
            render_page(resp, "delete.html", visitor=found[0], check=found[1])

    def on_post(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        found = self._check_to_change(req, resp, check_uuid)
        if found is None:
            return
        check = found[2]
        try:
            self._service.delete_check(check.id)
        except CheckNotFound:
            pass  # deleted meanwhile, from another tab or the API: the same outcome
        self._sessions.tell(req, resp, f"Deleted {check.name}; its ping URLs no longer work.")
        redirect(resp, "/")

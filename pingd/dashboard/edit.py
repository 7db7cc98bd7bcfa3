"""Creating and editing a check with a form: every field the API takes, the API's rules.

The form's field names are the API's (``timeout``, ``grace``, ``schedule``,
``tz``, ...), so the problems the service layer finds (the same validation
the API answers 422 with) land beside the field they are about. Periods are
typed in pingd's duration syntax (``90s``, ``15m``, ``2h``, ``1d``, ``1w``).
"Preview" sends the form as a GET to the same page, which shows the form as
typed with the schedule's next expected pings, so it needs no script.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from functools import cache
from typing import Any

import falcon

from pingd.dashboard.render import redirect
from pingd.dashboard.render import render_page
from pingd.dashboard.session import Page
from pingd.dashboard.session import Visitor
from pingd.dashboard.session import form_list
from pingd.domain.check_input import normalize_check_input
from pingd.domain.check_input import validate_check_input
from pingd.domain.checks import DEFAULT_GRACE_SECONDS
from pingd.domain.checks import DEFAULT_TIMEOUT_SECONDS
from pingd.domain.checks import Check
from pingd.domain.fields import format_duration
from pingd.domain.fields import parse_duration
from pingd.domain.fields import validate_schedule
from pingd.domain.schedule import expected_runs
from pingd.errors import InvalidInput

_TEXT_FIELDS = ("name", "tags", "desc", "schedule", "tz", "success_kw", "failure_kw", "start_kw")
_FLAGS = ("manual_resume", "filter_body", "filter_default_fail")
_COUNTS = ("failure_threshold", "success_threshold")
_OPTIONAL_SPANS = ("remind_every", "start_window")  # a duration, or empty for none
PREVIEW_COUNT = 5


def query_values(req: falcon.Request) -> dict[str, str]:
    """Return a GET form's fields (the preview), one value each."""
    return {k: v if isinstance(v, str) else (v[0] if v else "") for k, v in req.params.items()}


@cache
def time_zones() -> tuple[str, ...]:
    """Every IANA time zone name this system knows, for the form's list."""
    return tuple(sorted(zoneinfo.available_timezones()))


def values_of(check: Check | None) -> dict[str, Any]:
    """Return the form's values for a check (or for a new one)."""
    if check is None:
        return {"kind": "simple", "timeout": format_duration(DEFAULT_TIMEOUT_SECONDS),
                "grace": format_duration(DEFAULT_GRACE_SECONDS), "tz": "UTC", "schedule": "",
                "name": "", "tags": "", "desc": "", "methods": "", "success_kw": "",
                "failure_kw": "", "start_kw": "", **dict.fromkeys(_FLAGS, False),
                **dict.fromkeys(_COUNTS, "1"), **dict.fromkeys(_OPTIONAL_SPANS, "")}  # fmt: skip
    values: dict[str, Any] = {field: getattr(check, field) for field in _TEXT_FIELDS + _FLAGS}
    values |= {"kind": "cron" if check.is_cron else "simple", "methods": check.methods,
               "timeout": format_duration(check.timeout),
               "grace": format_duration(check.grace)}  # fmt: skip
    values |= {count: str(getattr(check, count)) for count in _COUNTS}
    values |= {span: format_duration(getattr(check, span)) if getattr(check, span) else ""
               for span in _OPTIONAL_SPANS}  # fmt: skip
    return values


def values_from(form: dict[str, str]) -> dict[str, Any]:
    """Return the form's values as typed (to show them again)."""
    values: dict[str, Any] = {field: form.get(field, "") for field in _TEXT_FIELDS}
    values |= {flag: form.get(flag) == "on" for flag in _FLAGS}
    values |= {"kind": "cron" if form.get("kind") == "cron" else "simple",
               "methods": "POST" if form.get("methods") == "POST" else "",
               "timeout": form.get("timeout", ""), "grace": form.get("grace", "")}  # fmt: skip
    values |= {name: form.get(name, "") for name in (*_COUNTS, *_OPTIONAL_SPANS)}
    return values


def to_fields(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn form values into the API's check fields, and the problems with the durations."""
    fields: dict[str, Any] = {f: values[f] for f in _TEXT_FIELDS if f not in ("schedule", "tz")}
    fields |= {flag: values[flag] for flag in _FLAGS} | {"methods": values["methods"]}
    problems: dict[str, str] = {}
    periods = ("grace",) if values["kind"] == "cron" else ("timeout", "grace")
    for period in periods:
        try:
            fields[period] = parse_duration(values[period])
        except ValueError:
            problems[period] = "must be a duration like 90s, 15m, 2h, 1d or 1w"
    for count in _COUNTS:
        text = str(values[count]).strip() or "1"
        if text.isdigit():
            fields[count] = int(text)
        else:
            problems[count] = "must be a whole number, 1 to 100"
    for span in _OPTIONAL_SPANS:
        text = str(values[span]).strip()
        try:
            fields[span] = parse_duration(text) if text else 0
        except ValueError:
            problems[span] = "must be empty (none) or a duration like 15m, 2h or 1d"
    if values["kind"] == "cron":
        fields |= {"schedule": values["schedule"].strip(), "tz": values["tz"].strip() or "UTC"}
    return fields, problems


def preview(values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Return the schedule preview: its words and the next expected pings, or its problems."""
    if values["kind"] != "cron":
        return {"words": f"every {values['timeout']}, grace {values['grace']}, after each ping",
                "pings": [], "problems": {}}  # fmt: skip
    schedule, tz = values["schedule"].strip(), values["tz"].strip() or "UTC"
    problems = validate_schedule(schedule, tz)
    if problems:
        return {"words": "", "pings": [], "problems": problems}
    return {"words": f"{schedule} {tz}, grace {values['grace']}",
            "pings": expected_runs(schedule, tz, now, PREVIEW_COUNT), "problems": {}}  # fmt: skip


def chosen_channels(values: list[str]) -> set[int]:
    """Return the channel ids ticked in a form."""
    return {int(value) for value in values if value.isdigit()}


class _CheckForm(Page):
    def _show(
        self, resp: falcon.Response, visitor: Visitor, check: Check | None,
        values: dict[str, Any], chosen: set[int], *, problems: dict[str, str] | None = None,
        with_preview: bool = False,
    ) -> None:  # fmt: skip
        render_page(
            resp, "check_form.html", http_status=falcon.HTTP_422 if problems else falcon.HTTP_200,
            visitor=visitor, check=check, values=values, problems=problems or {},
            channels=self._service.list_channels(), chosen=chosen, zones=time_zones(),
            preview=preview(values, self._service.now()) if with_preview else None,
            action=f"/checks/{check.uuid}/edit" if check else "/checks/new",
            declared=check is not None and self._service.check_is_declared(check.id),
        )  # fmt: skip

    def _save(
        self, check: Check | None, form: dict[str, str]
    ) -> tuple[Check | None, dict[str, str]]:
        """Create or change the check from the form; return it, or the problems."""
        fields, problems = to_fields(values_from(form))
        if problems:  # the API's rules for the rest too, so every problem shows at once
            return None, validate_check_input(normalize_check_input(fields)) | problems
        fields["channels"] = sorted(chosen_channels(form_list(form, "channel")))
        try:
            if check is None:
                return self._service.create_check(**fields), {}
            return self._service.update_check(check.id, fields), {}
        except InvalidInput as problem:
            return None, problem.fields


class NewCheckForm(_CheckForm):
    """``/checks/new``: the form (GET, also its preview) and the creation (POST)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._sessions.reader(req, resp, write=True)
        if visitor is None:
            return
        typed = req.get_param("kind") is not None
        values = values_from(query_values(req)) if typed else values_of(None)
        chosen = chosen_channels(req.get_param_as_list("channel") or [])
        self._show(resp, visitor, None, values, chosen, with_preview=typed)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        allowed = self._sessions.writer(req, resp)
        if allowed is None:
            return
        visitor, form = allowed
        created, problems = self._save(None, form)
        if created is None:
            chosen = chosen_channels(form_list(form, "channel"))
            self._show(resp, visitor, None, values_from(form), chosen, problems=problems)
            return
        self._sessions.tell(req, resp, f"Created {created.name}.")
        redirect(resp, f"/checks/{created.uuid}")


class EditCheckForm(_CheckForm):
    """``/checks/{uuid}/edit``: the form (GET, also its preview) and the change (POST)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        found = self._check_to_read(req, resp, check_uuid, write=True)
        if found is None:
            return
        visitor, check = found
        typed = req.get_param("kind") is not None
        values = values_from(query_values(req)) if typed else values_of(check)
        chosen = (
            chosen_channels(req.get_param_as_list("channel") or []) if typed
            else set(self._service.channel_ids_by_check().get(check.id, []))
        )  # fmt: skip
        self._show(resp, visitor, check, values, chosen, with_preview=True)

    def on_post(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        found = self._check_to_change(req, resp, check_uuid)
        if found is None:
            return
        visitor, form, check = found
        saved, problems = self._save(check, form)
        if saved is None:
            chosen = chosen_channels(form_list(form, "channel"))
            self._show(resp, visitor, check, values_from(form), chosen, problems=problems)
            return
        self._sessions.tell(req, resp, f"Saved {saved.name}.")
        redirect(resp, f"/checks/{saved.uuid}")

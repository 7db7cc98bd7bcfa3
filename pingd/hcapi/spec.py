"""Healthchecks' create and update body, checked by its rules and turned into pingd's fields.

Healthchecks validates with a strict pydantic model (``Spec`` in
``hc/api/views.py``) and reports only the first problem, in its own words
("json validation error: timeout is too small"). This module applies those
types and limits in the model's field order, then maps the fields onto pingd's
check fields, which the service validates again as for ``/v1``: the rules of
what a check may be live there, once. Healthchecks' email-only fields are
accepted when they ask for nothing (false, "") and refused by name otherwise;
an OnCalendar schedule is refused by name. Unknown fields are ignored, as
Healthchecks ignores them.
"""

from __future__ import annotations

import functools
import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pingd.domain.alerts import Channel
from pingd.domain.check_input import SLUG_PATTERN
from pingd.domain.check_input import UNIQUE_FIELDS
from pingd.domain.checks import MAX_PERIOD_SECONDS
from pingd.domain.checks import MIN_PERIOD_SECONDS
from pingd.domain.fields import validate_schedule
from pingd.errors import BadRequest

_BOOL = ("filter_subject", "filter_body", "filter_http_body", "filter_default_fail",
         "manual_resume")  # fmt: skip
_PERIOD = ("grace", "timeout")
# Each string field's longest value in Healthchecks (None: no limit there).
_STRING_LIMITS: dict[str, int | None] = {
    "channels": None, "desc": None, "failure_kw": 200, "name": 100, "schedule": 100,
    "slug": 100, "start_kw": 200, "subject": 200, "subject_fail": 200, "success_kw": 200,
    "tags": None, "tz": None,
}  # fmt: skip
# Healthchecks' Spec fields in its declaration order, the order it reports problems in.
FIELD_ORDER = ("channels", "desc", "failure_kw", "filter_subject", "filter_body",
               "filter_http_body", "filter_default_fail", "grace", "manual_resume", "methods",
               "name", "schedule", "slug", "start_kw", "subject", "subject_fail", "success_kw",
               "tags", "timeout", "tz", "unique")  # fmt: skip
# Fields of Healthchecks' email pings, which pingd does not receive: harmless when off.
EMAIL_ONLY = {"filter_subject": False, "filter_body": False, "subject": "", "subject_fail": ""}
# Healthchecks' name for a field -> pingd's, where they differ.
_RENAMED = {"filter_http_body": "filter_body"}
_DIRECT = ("desc", "failure_kw", "filter_default_fail", "grace", "manual_resume", "methods",
           "name", "slug", "start_kw", "success_kw", "tags", "tz")  # fmt: skip


def _invalid(field: str, problem: str) -> BadRequest:
    return BadRequest(f"json validation error: {field} {problem}")


def _field_problem(field: str, value: Any) -> str | None:
    """Return Healthchecks' words for what is wrong with one field's type or limits."""
    if field in _BOOL:
        return None if isinstance(value, bool) else "is not a boolean"
    if field in _PERIOD:
        if isinstance(value, bool) or not isinstance(value, int):
            return "is not a number"
        if value < MIN_PERIOD_SECONDS:
            return "is too small"
        return "is too large" if value > MAX_PERIOD_SECONDS else None
    if field == "methods":
        return None if value in ("", "POST") and isinstance(value, str) else "has unexpected value"
    if field == "unique":
        return None if isinstance(value, list) else "is not an array"
    if not isinstance(value, str):
        return "is not a string"
    limit = _STRING_LIMITS[field]
    if limit is not None and len(value) > limit:
        return "is too long"
    if field == "slug" and not SLUG_PATTERN.fullmatch(value):
        return "does not match pattern"
    if field == "schedule":
        return _schedule_problem(value)
    if field == "tz" and value not in _zones():
        return "is not a valid timezone"
    return None


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _schedule_problem(schedule: str) -> str | None:
    # Healthchecks' guess_kind: one line of five fields is cron, the rest OnCalendar.
    if "\n" in schedule.strip() or len(schedule.split()) != 5:
        return "is not a valid cron expression (pingd has no OnCalendar schedules)"
    if validate_schedule(schedule, "UTC"):
        return "is not a valid cron or OnCalendar expression"
    return None


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A valid Healthchecks body as pingd's check fields, upsert rule and channel list."""

    fields: dict[str, Any]
    unique: tuple[str, ...]


def parse_spec(body: dict[str, Any], channels: Callable[[], list[Channel]]) -> CheckSpec:
    """Check a body by Healthchecks' rules and return pingd's fields, or raise BadRequest.

    ``channels`` lists the project's channels, read only when the body names some.
    """
    for field in FIELD_ORDER:
        if field not in body:
            continue
        value = body[field]
        # Healthchecks turns every null into a float, which no field accepts.
        problem = _field_problem(field, 0.0 if value is None else value)
        if problem:
            raise _invalid(field, problem)
    unique = body.get("unique", [])
    if any(item not in UNIQUE_FIELDS for item in unique):
        raise BadRequest("json validation error: an item in 'unique' has unexpected value")
    for field, harmless in EMAIL_ONLY.items():
        if field in body and body[field] != harmless:
            send = json.dumps(harmless)
            raise BadRequest(
                f"{field} filters email pings, which pingd does not receive: send {send}"
            )
    fields = {field: body[field] for field in _DIRECT if field in body}
    for theirs, ours in _RENAMED.items():
        if theirs in body:
            fields[ours] = body[theirs]
    # A schedule wins over a timeout; an empty schedule changes nothing.
    if body.get("schedule"):
        fields["schedule"] = body["schedule"]
    elif "timeout" in body:
        fields["timeout"] = body["timeout"]
    if "channels" in body:
        fields["channels"] = resolve_channels(body["channels"], channels)
    # A unique field the body leaves out means: always create (Healthchecks' _lookup).
    matched = tuple(unique) if all(name in body for name in unique) else ()
    return CheckSpec(fields, matched)


def resolve_channels(text: str, channels: Callable[[], list[Channel]]) -> str | list[int]:
    """Turn Healthchecks' "*", "" or comma list of channel UUIDs or names into pingd's ids."""
    if text == "*":
        return "*"
    if text == "":
        return []
    available = channels()
    chosen: list[int] = []
    for ident in text.split(","):
        if ident == "":
            raise BadRequest("empty channel identifier")
        matches = [c for c in available if c.uuid == ident or c.name == ident]
        if not matches:
            raise BadRequest(f"invalid channel identifier: {ident}")
        if len(matches) > 1:
            raise BadRequest(f"non-unique channel identifier: {ident}")
        chosen.append(matches[0].id)
    return sorted(set(chosen))

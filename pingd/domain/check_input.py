"""The functional core's rules for check fields from the management API: types, ranges, values.

Pure functions of their input, like all of ``pingd.domain``; the field rules
they share with the CLI (names, periods, schedules) live in ``checks``.
"""

from __future__ import annotations

import re
from typing import Any

from pingd.domain.checks import MAX_THRESHOLD
from pingd.domain.checks import MIN_PERIOD_SECONDS
from pingd.domain.fields import validate_name
from pingd.domain.fields import validate_period
from pingd.domain.fields import validate_schedule

_STRING_FIELDS = ("name", "slug", "tags", "desc", "schedule", "tz", "methods", "success_kw",
                  "failure_kw", "start_kw")  # fmt: skip
_INT_FIELDS = ("timeout", "grace")
# The alert policy: thresholds count pings in a row; reminders and the start
# window are seconds, 0 for none.
_THRESHOLD_FIELDS = ("failure_threshold", "success_threshold")
_OPTIONAL_PERIOD_FIELDS = ("remind_every", "start_window")
_WHOLE_FIELDS = (*_INT_FIELDS, *_THRESHOLD_FIELDS, *_OPTIONAL_PERIOD_FIELDS)
_BOOL_FIELDS = ("manual_resume", "filter_body", "filter_default_fail")
UNIQUE_FIELDS = ("name", "slug", "tags", "timeout", "grace")
MAX_TEXT_LENGTH = 10000
# What a slug may be: the characters slugify gives, as Healthchecks allows.
SLUG_PATTERN = re.compile(r"[a-z0-9_-]{0,100}")


def _type_problem(field: str, value: Any) -> str | None:
    if value is None:
        return "must not be null"
    if field in _STRING_FIELDS and not isinstance(value, str):
        return "must be a string"
    if field in _WHOLE_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
        return (
            "must be a whole number"
            if field in _THRESHOLD_FIELDS
            else ("must be an integer number of seconds")
        )
    if field in _BOOL_FIELDS and not isinstance(value, bool):
        return "must be true or false"
    if isinstance(value, str) and len(value) > MAX_TEXT_LENGTH:
        return f"is too long (maximum {MAX_TEXT_LENGTH} characters)"
    return None


def normalize_check_input(data: dict[str, Any]) -> dict[str, Any]:
    """Return check input with whole-number floats (3600.0) as ints, as JSON Schema allows."""
    return {
        field: int(value)
        if field in _WHOLE_FIELDS and isinstance(value, float) and value.is_integer()
        else value
        for field, value in data.items()
    }


def validate_check_input(data: dict[str, Any]) -> dict[str, str]:
    """Return per-field problems with check fields from the API (types, ranges, values)."""
    known = (*_STRING_FIELDS, *_WHOLE_FIELDS, *_BOOL_FIELDS)
    problems: dict[str, str] = {}
    for field, value in data.items():
        if field not in known:
            problems[field] = "unknown field"
        elif (problem := _type_problem(field, value)) is not None:
            problems[field] = problem
    if problems:
        return problems
    if "name" in data:
        problems |= validate_name(data["name"])
    for period in _INT_FIELDS:
        if period in data:
            problems |= validate_period(period, data[period])
    for field in _THRESHOLD_FIELDS:
        if field in data and not 1 <= data[field] <= MAX_THRESHOLD:
            problems[field] = f"must be between 1 and {MAX_THRESHOLD}"
    for field in _OPTIONAL_PERIOD_FIELDS:
        if data.get(field):
            problems |= validate_period(field, data[field])
        elif field in data and data[field] != 0:
            problems[field] = f"must be 0 (none) or at least {MIN_PERIOD_SECONDS} seconds"
    if "slug" in data and not SLUG_PATTERN.fullmatch(data["slug"]):
        problems["slug"] = "must be at most 100 of a-z, 0-9, - and _"
    if "methods" in data and data["methods"] not in ("", "POST"):
        problems["methods"] = 'must be "" or "POST"'
    if "schedule" in data or "tz" in data:
        schedule = data.get("schedule", "* * * * *")
        problems |= validate_schedule(schedule, data.get("tz", "UTC"))
    if "schedule" in data and "timeout" in data:
        problems["timeout"] = "give either timeout (a simple check) or schedule (a cron check)"
    return problems

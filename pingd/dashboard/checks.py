"""The checks page (``/``): every check at a glance, down checks first.

Filters live in the query string so that a view can be bookmarked and works
without a script: ``status`` (one), ``tag`` (repeated: checks with all of
them) and ``q`` (part of a name, slug or UUID). The counts on top are of the
checks the tag and search filters leave, and each is a link that filters by
its status. A visitor who is not signed in is sent to ``/login`` and back.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

import falcon

from pingd.dashboard.render import STATUS_ORDER
from pingd.dashboard.render import STATUS_SYMBOLS
from pingd.dashboard.render import Moment
from pingd.dashboard.render import moment
from pingd.dashboard.render import render_page
from pingd.dashboard.render import span
from pingd.dashboard.session import Sessions
from pingd.domain.checks import Check
from pingd.domain.checks import next_expected_ping
from pingd.domain.checks import status_at
from pingd.domain.fields import format_duration
from pingd.domain.schedule import describe_schedule
from pingd.service import Service


def schedule_words(check: Check) -> str:
    """Say a check's schedule: ``every 1 day, grace 1 hour``, or cron and zone and grace."""
    return describe_schedule(check)


def due_words(check: Check, status: str, now: datetime) -> str:
    """Say when a check is due, or how long it is overdue or has been running."""
    grace = timedelta(seconds=check.grace)
    if status == "started" and check.last_start is not None:
        return f"running {span((now - check.last_start).total_seconds())}"
    due = next_expected_ping(check)
    if status in ("new", "paused") or due is None:
        return "-"
    if status == "down":
        return f"overdue by {span((now - due).total_seconds())}" if now > due else "down"
    if status == "grace":
        return f"late by {span((now - due).total_seconds())}, down in" \
               f" {span((due + grace - now).total_seconds())}"  # fmt: skip
    return f"due in {span((due - now).total_seconds())}"


@dataclass(frozen=True, slots=True)
class Row:
    """One check as the checks page shows it."""

    check: Check
    status: str
    symbol: str
    schedule: str
    last_ping: Moment | None
    last_success: Moment | None
    last_duration: str
    due: str


def _row(check: Check, now: datetime, last_success: datetime | None) -> Row:
    status = status_at(check, now)
    duration = "-" if check.last_duration is None else format_duration(check.last_duration)
    return Row(
        check, status, STATUS_SYMBOLS.get(status, "?"), schedule_words(check),
        moment(check.last_ping, now), moment(last_success, now), duration,
        due_words(check, status, now),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Filters:
    """What the query string asks the page to show."""

    status: str
    tags: tuple[str, ...]
    q: str

    @classmethod
    def of(cls, req: falcon.Request) -> Filters:
        status = req.get_param("status") or ""
        tags = tuple(t for t in req.get_param_as_list("tag") or () if t)
        return cls(status if status in STATUS_ORDER else "", tags, (req.get_param("q") or "")[:100])

    def keeps(self, check: Check) -> bool:
        """Tell whether the tag and search filters keep a check (status aside)."""
        if not set(self.tags) <= set(check.tags.split()):
            return False
        needle = self.q.strip().lower()
        return not needle or any(
            needle in text.lower() for text in (check.name, check.slug, check.uuid)
        )

    def link(self, **changes: Any) -> str:
        """Return the page's URL with some filters changed (``tags`` a tuple)."""
        status, tags, q = (changes.get(k, getattr(self, k)) for k in ("status", "tags", "q"))
        query = [("status", status)] if status else []
        query += [("tag", tag) for tag in tags] + ([("q", q)] if q else [])
        return "/?" + urllib.parse.urlencode(query) if query else "/"

    def toggle_tag(self, tag: str) -> str:
        tags = tuple(t for t in self.tags if t != tag) if tag in self.tags else (*self.tags, tag)
        return self.link(tags=tags)


def checks_view(service: Service, filters: Filters) -> dict[str, Any]:
    """Return what the checks page (and the TV view) shows: rows, counts and tags."""
    now = service.now()
    checks = service.list_checks()
    kept = [check for check in checks if filters.keeps(check)]
    successes = service.last_success_times([c.id for c in kept if c.status != "up"])
    rows = [_row(c, now, c.last_ping if c.status == "up" else successes.get(c.id)) for c in kept]
    rank = {status: i for i, status in enumerate(STATUS_ORDER)}
    rows.sort(key=lambda row: (rank.get(row.status, len(rank)), row.check.name.lower()))
    counts = {status: sum(row.status == status for row in rows) for status in STATUS_ORDER}
    tags = sorted({tag for check in checks for tag in check.tags.split()})
    shown = [row for row in rows if not filters.status or row.status == filters.status]
    return {"rows": shown, "counts": counts, "tags": tags, "total": len(checks),
            "down": counts["down"], "filters": filters}  # fmt: skip


class ChecksPage:
    """``/``: the checks, with counts by status, filters and a search."""

    def __init__(self, service: Service, sessions: Sessions, base_url: str) -> None:
        self._service = service
        self._sessions = sessions
        self._base_url = base_url

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._sessions.reader(req, resp)
        if visitor is None:
            return
        view = checks_view(self._service, Filters.of(req))
        render_page(resp, "checks.html", visitor=visitor, symbols=STATUS_SYMBOLS,
                    notice=self._sessions.take_notice(req, resp),
                    base_url=self._base_url,
                    ping_key=self._service.project().ping_key, **view)  # fmt: skip

"""The checks page (``/``): every check at a glance, down checks first.

A visitor who is not signed in is sent to ``/login`` and back here after.
"""

from __future__ import annotations

from datetime import datetime

import falcon

from pingd.dashboard.render import STATUS_ORDER
from pingd.dashboard.render import STATUS_SYMBOLS
from pingd.dashboard.render import render_page
from pingd.dashboard.render import when
from pingd.dashboard.session import Sessions
from pingd.dashboard.session import sign_in_first
from pingd.domain.checks import Check
from pingd.domain.checks import format_duration
from pingd.domain.checks import next_expected_ping
from pingd.domain.checks import status_at
from pingd.service import Service


def _row(check: Check, now: datetime) -> dict[str, str]:
    status = status_at(check, now)
    schedule = (
        f"{check.schedule} {check.tz}" if check.is_cron
        else f"every {format_duration(check.timeout)}"
    )  # fmt: skip
    return {
        "status": status, "symbol": STATUS_SYMBOLS.get(status, "?"), "name": check.name,
        "tags": check.tags, "uuid": check.uuid,
        "schedule": f"{schedule}, grace {format_duration(check.grace)}",
        "last_ping": when(check.last_ping), "next_ping": when(next_expected_ping(check)),
    }  # fmt: skip


class ChecksPage:
    """``/``: the checks, with counts by status."""

    def __init__(self, service: Service, sessions: Sessions) -> None:
        self._service = service
        self._sessions = sessions

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._sessions.visitor(req)
        if visitor is None:
            sign_in_first(req, resp)
            return
        now = self._service.now()
        rows = [_row(check, now) for check in self._service.list_checks()]
        rank = {status: i for i, status in enumerate(STATUS_ORDER)}
        rows.sort(key=lambda row: (rank.get(row["status"], len(rank)), row["name"].lower()))
        counts = {status: sum(row["status"] == status for row in rows) for status in STATUS_ORDER}
        render_page(resp, "checks.html", visitor=visitor, rows=rows, counts=counts,
                    symbols=STATUS_SYMBOLS, down=counts["down"])  # fmt: skip

"""The check page (``/checks/<uuid>``), where every alert links.

It says in one sentence why the check is in its status and what happens
next, gives both ping URLs with ready lines for common clients, and lists
the recent pings (with the first line of each body) and status changes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import falcon

from pingd.dashboard.render import STATUS_SYMBOLS
from pingd.dashboard.render import render_page
from pingd.dashboard.render import when
from pingd.dashboard.session import Sessions
from pingd.dashboard.session import sign_in_first
from pingd.domain.checks import Check
from pingd.domain.checks import Ping
from pingd.domain.checks import format_duration
from pingd.domain.checks import next_expected_ping
from pingd.domain.checks import pair_durations
from pingd.domain.checks import status_at
from pingd.errors import CheckNotFound
from pingd.service import Service

RECENT_PINGS = 20
RECENT_FLIPS = 20
BODY_LINE_CHARS = 120


def explain(check: Check, status: str) -> str:
    """Say in one sentence why a check is in its status and what happens next."""
    due = next_expected_ping(check)
    grace = timedelta(seconds=check.grace)
    if status == "new":
        return "New: no ping has arrived yet; it cannot go down before its first ping."
    if status == "paused":
        resume = "resume it" if check.manual_resume else "resume it or ping it"
        return f"Paused: it sends no alert until you {resume}."
    if status == "started":
        assert check.last_start is not None
        return (f"Running since {when(check.last_start)} (a start ping); it goes down if it"
                f" has not finished by {when(check.last_start + grace)}.")  # fmt: skip
    if status == "down":
        return (f"Down: the last ping came {when(check.last_ping)}; the next successful ping"
                " brings it back up, and its channels hear of it.")  # fmt: skip
    if status == "grace" and due is not None:
        return f"Late: a ping was due at {when(due)}; it goes down at {when(due + grace)}."
    if due is not None:
        return (f"Up: the last ping came {when(check.last_ping)}; the next is due by"
                f" {when(due)}, and it goes down at {when(due + grace)}.")  # fmt: skip
    return f"{status.capitalize()}."


def client_lines(url: str) -> list[tuple[str, str]]:
    """Ready lines that ping ``url``, for the clients cron jobs and devices use."""
    return [
        ("curl", f"curl -fsS -m 10 --retry 5 -o /dev/null {url}"),
        ("wget", f"wget -q -T 10 -t 5 -O /dev/null {url}"),
        ("BusyBox wget", f"wget -q -T 10 -O /dev/null {url}"),
        ("PowerShell", f"Invoke-RestMethod {url}"),
        ("runitor", f"runitor -uuid {url.rsplit('/', 1)[1]} -- /path/to/job.sh"),
        ("crontab", f"0 3 * * * /path/to/job.sh && curl -fsS -m 10 --retry 5 -o /dev/null {url}"),
    ]


def actions_context(service: Service, check: Check) -> dict[str, Any]:
    """Return what the check page's action bar and channel form need."""
    return {"channels": service.list_channels(),
            "chosen": set(service.channel_ids_by_check().get(check.id, []))}  # fmt: skip


class CheckPage:
    """``/checks/{uuid}``: one check."""

    def __init__(self, service: Service, sessions: Sessions, base_url: str) -> None:
        self._service = service
        self._sessions = sessions
        self._base_url = base_url

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        visitor = self._sessions.visitor(req)
        if visitor is None:
            sign_in_first(req, resp)
            return
        try:
            check = self._service.get_check(check_uuid)
        except CheckNotFound:
            render_page(resp, "message.html", http_status=falcon.HTTP_404, visitor=visitor,
                        title="No such check",
                        message="There is no check with that UUID.")  # fmt: skip
            return
        status = status_at(check, self._service.now())
        pings = self._service.list_pings(check.id)
        durations = pair_durations(pings)
        uuid_url = f"{self._base_url}/ping/{check.uuid}"
        slug_url = f"{self._base_url}/ping/{self._service.project().ping_key}/{check.slug}"
        render_page(
            resp, "check.html", visitor=visitor, check=check, status=status,
            notice=self._sessions.take_notice(req, resp), **actions_context(self._service, check),
            symbol=STATUS_SYMBOLS.get(status, "?"), sentence=explain(check, status),
            uuid_url=uuid_url, slug_url=slug_url, lines=client_lines(uuid_url),
            pings=[_ping_row(p, durations.get(p.n)) for p in pings[:RECENT_PINGS]],
            flips=[(when(f.created), f.old_status, f.new_status, f.reason)
                   for f in self._service.list_flips(check.id)[:RECENT_FLIPS]],
        )  # fmt: skip


def _ping_row(ping: Ping, duration: float | None) -> dict[str, str]:
    first_line = ping.body.decode("utf-8", errors="replace").split("\n", 1)[0]
    return {
        "n": str(ping.n), "time": when(ping.created), "kind": ping.kind,
        "exit": "" if ping.exit_status is None else str(ping.exit_status),
        "duration": "" if duration is None else format_duration(duration),
        "source": f"{ping.method} {ping.scheme} from {ping.remote_addr}", "ua": ping.ua,
        "body": first_line[:BODY_LINE_CHARS],
    }  # fmt: skip

"""The check page (``/checks/<uuid>``), where every alert links.

It says in one sentence why the check is in its status and what happens
next, gives both ping URLs with ready lines for common clients, shows the
schedule with its next expected pings (DST flagged), the recent events
merged newest first (pings, status changes, and the alerts each change
sent with every attempt), the last output tail first, and two charts: the
last runs' durations, and when pings came against when they were due.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import falcon

from pingd.dashboard.chart import arrival_chart
from pingd.dashboard.chart import duration_chart
from pingd.dashboard.render import STATUS_SYMBOLS
from pingd.dashboard.render import render_page
from pingd.dashboard.render import when
from pingd.dashboard.session import Sessions
from pingd.dashboard.session import sign_in_first
from pingd.domain.alerts import DELIVERY_MAX_ATTEMPTS
from pingd.domain.alerts import Channel
from pingd.domain.alerts import Delivery
from pingd.domain.badges import check_badge_url
from pingd.domain.badges import tag_badge_urls
from pingd.domain.badges import tags_of
from pingd.domain.checks import Check
from pingd.domain.checks import Flip
from pingd.domain.checks import Ping
from pingd.domain.checks import down_after
from pingd.domain.checks import next_expected_ping
from pingd.domain.checks import pair_durations
from pingd.domain.checks import status_at
from pingd.domain.fields import format_duration
from pingd.domain.schedule import ExpectedRun
from pingd.domain.schedule import describe_schedule
from pingd.domain.schedule import expected_runs
from pingd.domain.windows import next_occurrence
from pingd.domain.windows import occurrence_at
from pingd.errors import CheckNotFound
from pingd.errors import InvalidInput
from pingd.service import Service

RECENT_PINGS = 20
RECENT_FLIPS = 20
RECENT_DELIVERIES = 20
RECENT_EVENTS = 30
BODY_LINE_CHARS = 120
OUTPUT_LINES = 40
OUTPUT_CHARS = 16000


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
    down = down_after(check) or (None if due is None else due + grace)
    start = 0 < check.start_window < check.grace
    if status == "grace" and due is not None:
        what = "a start ping" if start else "a ping"
        return f"Late: {what} was due at {when(due)}; it goes down at {when(down)}."
    if due is not None:
        return (f"Up: the last ping came {when(check.last_ping)}; the next is due by"
                f" {when(due)}, and it goes down at {when(down)}"
                f"{' unless a start ping comes first' if start else ''}.")  # fmt: skip
    return f"{status.capitalize()}."


def crontab_times(check: Check) -> str:
    """Say the check's schedule as crontab fields: its own, or the nearest to its period."""
    if check.is_cron:
        return check.schedule
    minutes, hours, days = check.timeout // 60, check.timeout // 3600, check.timeout // 86400
    if check.timeout == 7 * 86400:
        return "0 3 * * 0"
    if days and check.timeout % 86400 == 0:
        return "0 3 * * *" if days == 1 else f"0 3 */{days} * *"
    if hours and check.timeout % 3600 == 0:
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    if minutes and check.timeout % 60 == 0:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    return "0 3 * * *"


def client_lines(base_url: str, check: Check) -> list[tuple[str, str]]:
    """Ready lines that ping the check by UUID, for the clients cron jobs and devices use."""
    url = f"{base_url}/ping/{check.uuid}"
    curl = f"curl -fsS -m 10 --retry 5 -o /dev/null {url}"
    return [
        ("curl", curl),
        ("wget", f"wget -q -T 10 -t 5 -O /dev/null {url}"),
        ("BusyBox wget", f"wget -q -T 10 -O /dev/null {url}"),
        ("PowerShell", f"Invoke-RestMethod {url}"),
        ("runitor", f"runitor -api-url {base_url}/ping -uuid {check.uuid} -- /path/to/job.sh"),
        ("crontab", f"{crontab_times(check)} /path/to/job.sh && {curl}"),
    ]


def badge_rows(base_url: str, secret: str, check: Check) -> list[tuple[str, str]]:
    """The check's badge URLs, ready to copy, and a Markdown line for a README."""
    svg = check_badge_url(base_url, secret, check.uuid, 2, "svg")
    rows = [
        ("SVG, up or down", svg),
        ("SVG, also late", check_badge_url(base_url, secret, check.uuid, 3, "svg")),
        ("JSON", check_badge_url(base_url, secret, check.uuid, 3, "json")),
        ("Shields.io", check_badge_url(base_url, secret, check.uuid, 3, "shields")),
        ("Markdown", f"![{check.name or 'status'}]({svg})"),
    ]
    rows += [(f"Tag {tag}, SVG", tag_badge_urls(base_url, secret, tag)["svg3"])
             for tag in tags_of(check)]  # fmt: skip
    return rows


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
        now = self._service.now()
        status = status_at(check, now)
        pings = self._service.list_pings(check.id)
        durations = pair_durations(pings)
        project = self._service.project()
        uuid_url = f"{self._base_url}/ping/{check.uuid}"
        slug_url = f"{self._base_url}/ping/{project.ping_key}/{check.slug}"
        flips = self._service.list_flips(check.id)[:RECENT_FLIPS]
        deliveries = self._service.check_deliveries(check, RECENT_DELIVERIES)
        quiet = self._service.quiet_until_by_check([check], now).get(check.id)
        runs = [(n, durations[n], kind) for n, kind in sorted((p.n, p.kind) for p in pings)
                if n in durations]  # fmt: skip
        render_page(
            resp, "check.html", visitor=visitor, check=check, status=status,
            notice=self._sessions.take_notice(req, resp), **actions_context(self._service, check),
            symbol=STATUS_SYMBOLS.get(status, "?"), sentence=explain(check, status),
            uuid_url=uuid_url, slug_url=slug_url, lines=client_lines(self._base_url, check),
            badges=badge_rows(self._base_url, project.badge_key, check),
            declared=self._service.check_is_declared(check.id),
            badge_path=check_badge_url("", project.badge_key, check.uuid, 3, "svg"),
            schedule=describe_schedule(check), runs=_schedule_runs(check, now),
            events=merge_events(pings[:RECENT_PINGS], durations, flips, deliveries),
            output=last_output(pings), policy=policy_rows(self._service, check, now),
            quiet=quiet, quiet_when=None if quiet is None else when(quiet),
            durations=duration_chart(runs), arrivals=arrival_chart(check, pings, now),
        )  # fmt: skip


def policy_rows(service: Service, check: Check, now: datetime) -> dict[str, Any]:
    """What the check page says of its alert policy: thresholds, streaks, reminders, windows."""
    rows = [
        ("Goes down after", f"{check.failure_threshold} failure(s) in a row; "
                            f"{check.fail_streak} now"),
        ("Up again after", f"{check.success_threshold} success(es) in a row; "
                           f"{check.success_streak} now"),
        ("Reminders", f"every {format_duration(check.remind_every)} while down"
         if check.remind_every else "as each channel says"),
    ]  # fmt: skip
    if check.start_window:
        rows.append(("Start window", f"a start ping within {format_duration(check.start_window)}"
                                     " of the expected time, else down (not started)"))  # fmt: skip
    windows = []
    for window in service.windows_of(check):
        span = next_occurrence(window, now)
        what = (f"{window.schedule} ({window.tz}) for {format_duration(window.duration)}"
                if window.recurring else "once")  # fmt: skip
        windows.append({
            "name": window.name or "unnamed", "what": what, "by": "tag " + window.tag
            if window.tag else "this check", "active": occurrence_at(window, now) is not None,
            "span": "" if span is None else f"{when(span[0])} – {when(span[1])}",
        })  # fmt: skip
    return {"rows": rows, "windows": windows}


def _schedule_runs(check: Check, now: datetime) -> list[ExpectedRun]:
    """A cron check's next five times; a simple check's next due time, if it has one."""
    if check.is_cron:
        try:
            return expected_runs(check.schedule, check.tz, now)
        except InvalidInput:  # Stored before its zone left the tz database, say.
            return []
    due = next_expected_ping(check)
    return [] if due is None else [ExpectedRun(due.astimezone(zoneinfo.ZoneInfo(check.tz)), "")]


def _time(value: datetime) -> dict[str, str]:
    return {"time": when(value), "iso": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def merge_events(
    pings: list[Ping], durations: dict[int, float], flips: list[Flip],
    deliveries: list[tuple[Delivery, Channel | None, list[dict[str, Any]]]],
) -> list[dict[str, Any]]:  # fmt: skip
    """Pings, status changes and alerts in one list, newest first.

    An alert is shown under the status change it was sent for (its event
    holds that change's time and statuses); one whose change is no longer
    listed stands on its own, saying which change it was.
    """
    events: list[tuple[datetime, dict[str, Any]]] = []
    by_flip: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for flip in flips:
        sent: list[dict[str, Any]] = []
        key = (flip.created.astimezone(UTC).replace(microsecond=0).isoformat(),
               flip.old_status, flip.new_status)  # fmt: skip
        by_flip.setdefault(key, sent)
        events.append((flip.created, {"type": "flip", **_time(flip.created),
                                      "old": flip.old_status, "new": flip.new_status,
                                      "reason": flip.reason, "deliveries": sent}))  # fmt: skip
    for delivery, channel, attempts in deliveries:
        row = _delivery_row(delivery, channel, attempts)
        event = delivery.event
        key = (str(event.get("time")), str(event.get("old_status")), str(event.get("status")))
        if key in by_flip:
            by_flip[key].append(row)
        else:
            events.append((delivery.created, {"type": "delivery", **_time(delivery.created),
                                              "flip": f"{key[1]} → {key[2]} at {_iso_when(key[0])}",
                                              "deliveries": [row]}))  # fmt: skip
    # A change comes after the ping that caused it, at the same time: the sort
    # is stable, so the pings go in last to be listed below their changes.
    for p in pings:
        events.append((p.created, _ping_row(p, durations.get(p.n))))
    events.sort(key=lambda pair: pair[0], reverse=True)
    return [row for _, row in events[:RECENT_EVENTS]]


def _iso_when(text: str) -> str:
    try:
        return when(datetime.fromisoformat(text))
    except ValueError:
        return "an unknown time"


def _delivery_row(
    delivery: Delivery, channel: Channel | None, attempts: list[dict[str, Any]]
) -> dict[str, Any]:
    if delivery.state == "sent":
        state = "sent"
    elif delivery.state == "failed":
        state = f"failed after {delivery.attempts} attempts, given up"
    elif delivery.next_attempt is not None:
        tried = (
            f"{delivery.attempts} of {DELIVERY_MAX_ATTEMPTS} attempts failed, "
            if delivery.attempts
            else ""
        )
        state = f"pending: {tried}next try at {when(delivery.next_attempt)}"
    else:
        state = "pending"
    return {
        "channel": "a deleted channel" if channel is None else f"{channel.kind} “{channel.name}”",
        "state": delivery.state, "says": state, "error": delivery.last_error,
        "attempts": [{**_time(a["time"]), "ok": "sent" if a["ok"] else "failed",
                      "error": a["error"], "duration": f"{a['duration_ms']:,} ms"}
                     for a in attempts],
    }  # fmt: skip


def last_output(pings: list[Ping]) -> dict[str, Any] | None:
    """The newest ping with a body, its tail (the last lines) first, with how much is shown."""
    ping = next((p for p in pings if p.body), None)
    if ping is None:
        return None
    lines = ping.body.decode("utf-8", errors="replace").splitlines()
    tail = "\n".join(lines[-OUTPUT_LINES:])
    cut = len(tail) > OUTPUT_CHARS
    return {
        "n": ping.n, **_time(ping.created), "kind": ping.kind, "text": tail[-OUTPUT_CHARS:],
        "shown": min(len(lines), OUTPUT_LINES), "total": len(lines), "cut": cut,
        "kept": len(ping.body), "size": ping.body_size,
    }  # fmt: skip


def _ping_row(ping: Ping, duration: float | None) -> dict[str, str]:
    first_line = ping.body.decode("utf-8", errors="replace").split("\n", 1)[0]
    return {
        "type": "ping", **_time(ping.created), "n": str(ping.n), "kind": ping.kind,
        "exit": "" if ping.exit_status is None else str(ping.exit_status),
        "duration": "" if duration is None else format_duration(duration),
        "source": f"{ping.method} {ping.scheme} from {ping.remote_addr}", "ua": ping.ua,
        "body": first_line[:BODY_LINE_CHARS], "repeat": "repeat" if ping.repeat else "",
    }  # fmt: skip

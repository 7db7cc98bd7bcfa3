"""The JSON of a check, a ping, a flip and a channel exactly as Healthchecks sends them.

Keys in Healthchecks' order and types (``to_dict`` in ``hc/api/models.py``):
v1 reports a running check as "started", v2 and v3 judge it as if it were
not running; URLs name the request's version; a read-only key sees a
``unique_key`` instead of the UUID, URLs and channels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from pingd.domain.alerts import Channel
from pingd.domain.badges import check_badge_url
from pingd.domain.badges import status_ignoring_run
from pingd.domain.checks import Check
from pingd.domain.checks import Flip
from pingd.domain.checks import Ping
from pingd.domain.checks import next_expected_ping
from pingd.domain.checks import status_at

# pingd's channel kinds by Healthchecks' names for them, where they differ.
HC_KINDS = {"pushover": "po"}


def iso(value: datetime | None) -> str | None:
    """Format a time as Healthchecks does: ISO 8601 UTC, no microseconds, ``+00:00``."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def unique_key(check_uuid: str) -> str:
    """Return Healthchecks' stable id for read-only keys: SHA-1 of the UUID's first 16 hex."""
    return hashlib.sha1(check_uuid.replace("-", "")[:16].encode("ascii")).hexdigest()


def hc_status(check: Check, now: datetime, *, with_started: bool) -> str:
    """Return Healthchecks' status: "started" only when asked for (v1), else judged without it."""
    return status_at(check, now) if with_started else status_ignoring_run(check, now)


@dataclass(frozen=True, slots=True)
class View:
    """What one answer's check JSON depends on beyond the check itself."""

    base_url: str
    version: int
    read_only: bool
    now: datetime
    badge_secret: str
    channel_uuids: dict[int, list[str]]


def check_dict(check: Check, view: View) -> dict[str, Any]:
    """Return the check as Healthchecks' ``Check.to_dict`` would."""
    next_ping = next_expected_ping(check) if check.status == "up" else None
    data: dict[str, Any] = {
        "name": check.name,
        "slug": check.slug,
        "tags": check.tags,
        "desc": check.desc,
        "grace": check.grace,
        "n_pings": check.n_pings,
        "status": hc_status(check, view.now, with_started=view.version == 1),
        "started": check.last_start is not None,
        "last_ping": iso(check.last_ping),
        "next_ping": iso(next_ping),
        "manual_resume": check.manual_resume,
        "methods": check.methods,
        "subject": "",
        "subject_fail": "",
        "start_kw": check.start_kw,
        "success_kw": check.success_kw,
        "failure_kw": check.failure_kw,
        "filter_subject": False,
        "filter_body": False,
        "filter_http_body": check.filter_body,
        "filter_default_fail": check.filter_default_fail,
        "badge_url": check_badge_url(view.base_url, view.badge_secret, check.uuid, 2, "svg"),
    }
    if check.last_duration:
        data["last_duration"] = int(check.last_duration)
    if view.read_only:
        data["unique_key"] = unique_key(check.uuid)
    else:
        update_url = f"{view.base_url}/api/v{view.version}/checks/{check.uuid}"
        data.update(
            uuid=check.uuid,
            ping_url=f"{view.base_url}/ping/{check.uuid}",
            update_url=update_url,
            pause_url=update_url + "/pause",
            resume_url=update_url + "/resume",
            channels=",".join(sorted(view.channel_uuids.get(check.id, []))),
        )
    if check.is_cron:
        data.update(schedule=check.schedule, tz=check.tz)
    else:
        data["timeout"] = check.timeout
    return data


def ping_dict(
    ping: Ping, duration: float | None, *, base_url: str, version: int, check_uuid: str
) -> dict[str, Any]:
    """Return a ping as Healthchecks' ``Ping.to_dict`` would (its date keeps microseconds)."""
    body_url = f"{base_url}/api/v{version}/checks/{check_uuid}/pings/{ping.n}/body"
    data: dict[str, Any] = {
        "type": ping.kind,
        "date": ping.created.astimezone(UTC).isoformat(),
        "n": ping.n,
        "scheme": ping.scheme,
        "remote_addr": ping.remote_addr,
        "method": ping.method,
        "ua": ping.ua,
        "rid": ping.rid,
        "body_url": body_url if ping.body else None,
    }
    if duration is not None:
        data["duration"] = round(duration, 2)
    return data


def flip_dict(flip: Flip) -> dict[str, Any]:
    """Return a status change as Healthchecks does: its time, and up 1 or (anything else) 0."""
    return {"timestamp": iso(flip.created), "up": 1 if flip.new_status == "up" else 0}


def channel_dict(channel: Channel) -> dict[str, str]:
    """Return a channel as Healthchecks lists it: its UUID as ``id``, name and kind."""
    return {
        "id": channel.uuid,
        "name": channel.name,
        "kind": HC_KINDS.get(channel.kind, channel.kind),
    }

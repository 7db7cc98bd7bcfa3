"""The checks family of the management API: checks, pause and resume, pings and flips.

Lists, creates (or updates by ``unique``), reads, changes and deletes checks,
pauses and resumes them, and reads a check's kept pings, a ping's stored body
and its status changes, with the JSON of a check, a ping and a flip. It must
not know channels or the project beyond the ids and ping key the service
gives, nor import the other family modules of this package.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import falcon

from pingd.api.common import API_PREFIX
from pingd.api.common import ID_PATTERN
from pingd.api.common import READ
from pingd.api.common import WRITE
from pingd.api.common import Resource
from pingd.api.common import format_time
from pingd.api.common import ok
from pingd.api.common import read_json
from pingd.api.common import service_of
from pingd.domain.badges import check_badge_url
from pingd.domain.check_input import UNIQUE_FIELDS
from pingd.domain.checks import Check
from pingd.domain.checks import Flip
from pingd.domain.checks import Ping
from pingd.domain.checks import next_expected_ping
from pingd.domain.checks import pair_durations
from pingd.domain.checks import status_at
from pingd.errors import CheckNotFound
from pingd.errors import InvalidInput
from pingd.errors import NotFound

COMPUTED_STATUSES = ("new", "up", "grace", "down", "paused", "started")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class CheckSerializer:
    def __init__(self, base_url: str) -> None:
        self._base_url = base_url

    def check(
        self,
        check: Check,
        now: datetime,
        channel_ids: list[int],
        *,
        keys: tuple[str, str],
        last_success: datetime | None,
        quiet_until: datetime | None = None,
    ) -> dict[str, Any]:
        """Return a check's JSON; ``keys`` are the project's ping key and badge secret."""
        ping_key, badge_secret = keys
        data: dict[str, Any] = {
            "uuid": check.uuid,
            "name": check.name,
            "slug": check.slug,
            "tags": check.tags,
            "desc": check.desc,
            "status": status_at(check, now),
            "started": check.last_start is not None,
        }
        if check.is_cron:
            data.update(schedule=check.schedule, tz=check.tz)
        else:
            data["timeout"] = check.timeout
        duration = None if check.last_duration is None else round(check.last_duration)
        data.update(
            grace=check.grace,
            n_pings=check.n_pings,
            last_ping=format_time(check.last_ping),
            last_success=format_time(last_success),
            next_ping=None if check.status == "paused" else format_time(next_expected_ping(check)),
            last_duration=duration,
            manual_resume=check.manual_resume,
            methods=check.methods,
            filter_body=check.filter_body,
            filter_default_fail=check.filter_default_fail,
            success_kw=check.success_kw,
            failure_kw=check.failure_kw,
            start_kw=check.start_kw,
            failure_threshold=check.failure_threshold,
            success_threshold=check.success_threshold,
            fail_streak=check.fail_streak,
            success_streak=check.success_streak,
            remind_every=check.remind_every,
            start_window=check.start_window,
            quiet_until=format_time(quiet_until),
            channels=channel_ids,
            created=format_time(check.created),
            ping_url=f"{self._base_url}/ping/{check.uuid}",
            slug_url=f"{self._base_url}/ping/{ping_key}/{check.slug}",
            badge_url=check_badge_url(self._base_url, badge_secret, check.uuid, 2, "svg"),
        )
        return data

    def ping(self, check: Check, ping: Ping, duration: float | None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "n": ping.n,
            "type": ping.kind,
            "date": format_time(ping.created),
            "scheme": ping.scheme,
            "remote_addr": ping.remote_addr,
            "method": ping.method,
            "ua": ping.ua,
            "rid": ping.rid,
            "exit_status": ping.exit_status,
            "repeat": ping.repeat,
        }
        if duration is not None:
            data["duration"] = round(duration, 3)
        body_url = f"{self._base_url}{API_PREFIX}/checks/{check.uuid}/pings/{ping.n}/body"
        data.update(body_size=ping.body_size, body_url=body_url if ping.body else None)
        return data

    @staticmethod
    def flip(flip: Flip) -> dict[str, Any]:
        return {
            "timestamp": format_time(flip.created),
            "old_status": flip.old_status,
            "new_status": flip.new_status,
            "reason": flip.reason,
        }


def _find(req: falcon.Request, check_uuid: str) -> Check:
    if not _UUID.fullmatch(check_uuid):
        raise CheckNotFound()
    return service_of(req).get_check(check_uuid)


class _CheckResource(Resource):
    """A resource of the checks family, which serialises with the check serializer."""

    def __init__(self, serializer: CheckSerializer) -> None:
        self._serialize = serializer

    def _checks_json(self, req: falcon.Request, checks: list[Check]) -> list[dict[str, Any]]:
        # What every check's JSON needs is read once, however many checks.
        service = service_of(req)
        channels = service.channel_ids_by_check()
        successes = service.last_success_times([check.id for check in checks])
        now, project = service.now(), service.project()
        quiet = service.quiet_until_by_check(checks, now)
        keys = (project.ping_key, project.badge_key)
        return [
            self._serialize.check(
                check,
                now,
                channels.get(check.id, []),
                keys=keys,
                last_success=successes.get(check.id),
                quiet_until=quiet.get(check.id),
            )  # fmt: skip
            for check in checks
        ]

    def _check_json(self, req: falcon.Request, check: Check) -> dict[str, Any]:
        return self._checks_json(req, [check])[0]


class ChecksResource(_CheckResource):
    access = {"GET": READ, "POST": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        status = req.get_param("status")
        if status is not None and status not in COMPUTED_STATUSES:
            raise InvalidInput({"status": f"must be one of {', '.join(COMPUTED_STATUSES)}"})
        checks = service_of(req).list_checks(
            tags=req.get_param_as_list("tag") or (), slug=req.get_param("slug"), status=status
        )
        ok(req, resp, self._checks_json(req, checks))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = read_json(req)
        unique = data.pop("unique", [])
        if not isinstance(unique, list) or not all(
            isinstance(name, str) and name in UNIQUE_FIELDS for name in unique
        ):
            raise InvalidInput({"unique": f"must be a list of {', '.join(UNIQUE_FIELDS)}"})
        check, created = service_of(req).upsert_check(data, unique)
        ok(req, resp, self._check_json(req, check), 201 if created else 200)


class CheckResource(_CheckResource):
    access = {"GET": READ, "PATCH": WRITE, "DELETE": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        ok(req, resp, self._check_json(req, _find(req, check_uuid)))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = _find(req, check_uuid)
        updated = service_of(req).update_check(check.id, read_json(req))
        ok(req, resp, self._check_json(req, updated))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = _find(req, check_uuid)
        data = self._check_json(req, check)
        service_of(req).delete_check(check.id)
        ok(req, resp, data)


class PauseResource(_CheckResource):
    access = {"POST": WRITE}

    def on_post(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = _find(req, check_uuid)
        if not req.content_length:
            check = service_of(req).pause_check(check.id)
            ok(req, resp, self._check_json(req, check))
            return
        # {"until": time}: the check stays watched, its alerts are held until then.
        data = read_json(req)
        problems = {name: "unknown field" for name in data if name != "until"}
        if problems or "until" not in data:
            raise InvalidInput(problems or {"until": "is required"})
        service_of(req).pause_alerts_until(check.id, data["until"])
        ok(req, resp, self._check_json(req, service_of(req).get_check(check.uuid)))


class ResumeResource(_CheckResource):
    access = {"POST": WRITE}

    def on_post(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = service_of(req).resume_check(_find(req, check_uuid).id)
        ok(req, resp, self._check_json(req, check))


class PingsResource(_CheckResource):
    access = {"GET": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = _find(req, check_uuid)
        pings = service_of(req).list_pings(check.id)
        durations = pair_durations(pings)
        data = [self._serialize.ping(check, ping, durations.get(ping.n)) for ping in pings]
        ok(req, resp, data)


class PingBodyResource(_CheckResource):
    access = {"GET": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str, n: str) -> None:
        check = _find(req, check_uuid)
        if not ID_PATTERN.fullmatch(n):
            raise NotFound("no such ping")
        resp.data = service_of(req).get_ping_body(check.id, int(n))
        resp.content_type = "text/plain; charset=utf-8"


class FlipsResource(_CheckResource):
    access = {"GET": READ}

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = _find(req, check_uuid)
        ok(req, resp, [self._serialize.flip(flip) for flip in service_of(req).list_flips(check.id)])

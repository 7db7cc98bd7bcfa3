"""The maintenance windows family of the management API: list, create, read, delete.

A window's JSON says what it covers (a check's UUID or a tag), when (a cron
schedule with its zone and duration, or from and until) and whether it is in
effect now, with its current or next occurrence. It must not import the
other family modules of this package.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import falcon

from pingd.api.common import ID_PATTERN
from pingd.api.common import READ
from pingd.api.common import WRITE
from pingd.api.common import Resource
from pingd.api.common import format_time
from pingd.api.common import ok
from pingd.api.common import read_json
from pingd.api.common import service_of
from pingd.domain.windows import Window
from pingd.domain.windows import next_occurrence
from pingd.domain.windows import occurrence_at
from pingd.errors import NotFound


def window_json(window: Window, check_uuids: dict[int, str], now: datetime) -> dict[str, Any]:
    """Return a window's JSON, with its occurrence in effect now or the next one."""
    upcoming = next_occurrence(window, now)
    return {
        "id": window.id,
        "name": window.name,
        "check": None if window.check_id is None else check_uuids.get(window.check_id),
        "tag": window.tag or None,
        "schedule": window.schedule or None,
        "tz": window.tz if window.recurring else None,
        "duration": window.duration if window.recurring else None,
        "starts": format_time(window.starts),
        "ends": format_time(window.ends),
        "active": occurrence_at(window, now) is not None,
        "next_start": format_time(None if upcoming is None else upcoming[0]),
        "next_end": format_time(None if upcoming is None else upcoming[1]),
        "declared": window.declared,
        "created": format_time(window.created),
    }


def _uuids(req: falcon.Request) -> dict[int, str]:
    return {check.id: check.uuid for check in service_of(req).list_checks()}


def _window_id(window_id: str) -> int:
    if not ID_PATTERN.fullmatch(window_id):
        raise NotFound("no window with this id")
    return int(window_id)


class WindowsResource(Resource):
    access = {"GET": READ, "POST": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = service_of(req)
        uuids, now = _uuids(req), service.now()
        ok(req, resp, [window_json(w, uuids, now) for w in service.list_windows()])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = service_of(req)
        window = service.create_window(read_json(req))
        ok(req, resp, window_json(window, _uuids(req), service.now()), 201)


class WindowResource(Resource):
    access = {"GET": READ, "DELETE": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response, window_id: str) -> None:
        service = service_of(req)
        window = service.get_window(_window_id(window_id))
        ok(req, resp, window_json(window, _uuids(req), service.now()))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, window_id: str) -> None:
        service = service_of(req)
        data = window_json(service.get_window(_window_id(window_id)), _uuids(req), service.now())
        service.delete_window(_window_id(window_id))
        ok(req, resp, data)

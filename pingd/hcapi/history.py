"""Healthchecks' history resources: a check's pings, one ping's body, and its flips.

Pings come newest first, at most 1,000 (and no more than the log keeps), with
the durations Healthchecks pairs from start and end. A body is answered as
``text/plain`` bytes, 404 when pruned or empty. Flips take Healthchecks'
``seconds``, ``start`` and ``end`` filters; a bad value is a 400 with an
empty body, as Healthchecks' form gives.
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import falcon

from pingd.domain.checks import pair_durations
from pingd.errors import NotFound
from pingd.hcapi.checks import CheckResource
from pingd.hcapi.common import READ
from pingd.hcapi.common import WRITE
from pingd.hcapi.common import answer
from pingd.hcapi.common import version_of
from pingd.hcapi.shapes import flip_dict
from pingd.hcapi.shapes import ping_dict

MAX_PINGS = 1000
_INTEGER = re.compile(r"[+-]?[0-9]{1,12}")
MAX_TIMESTAMP = 10_000_000_000  # Healthchecks' sanity bound: the year 2286
MAX_SECONDS = 31536000


class PingsResource(CheckResource):
    """``checks/<uuid>/pings/``: read-write keys only, as in Healthchecks."""

    access = {"GET": WRITE}
    cors = ("GET",)

    def on_get(self, req: falcon.Request, resp: falcon.Response, code: str) -> None:
        check = self.find(code)
        pings = self._service.list_pings(check.id)[:MAX_PINGS]
        durations = pair_durations(pings)
        version = version_of(req)
        answer(resp, {"pings": [
            ping_dict(ping, durations.get(ping.n), base_url=self._base_url, version=version,
                      check_uuid=check.uuid)
            for ping in pings
        ]})  # fmt: skip


class PingBodyResource(CheckResource):
    """``checks/<uuid>/pings/<n>/body``: the stored body as it arrived."""

    access = {"GET": WRITE}
    cors = ("GET",)

    def on_get(self, req: falcon.Request, resp: falcon.Response, code: str, n: str) -> None:
        check = self.find(code)
        if not n.isascii() or not n.isdigit() or len(n) > 18:
            raise NotFound()
        resp.data = self._service.get_ping_body(check.id, int(n))
        resp.content_type = "text/plain"


def _bounded(req: falcon.Request, name: str, top: int) -> int | None:
    """Return an integer parameter within 0 … top, None when absent; ValueError when bad."""
    text = req.get_param(name)
    if text is None or text == "":
        return None
    if not _INTEGER.fullmatch(text.strip()):
        raise ValueError(name)
    value = int(text)
    if value < 0 or value > top:
        raise ValueError(name)
    return value


class FlipsResource(CheckResource):
    """``checks/<uuid or unique_key>/flips/``: status changes, newest first."""

    access = {"GET": READ}
    cors = ("GET",)

    def on_get(self, req: falcon.Request, resp: falcon.Response, code: str) -> None:
        check = self.find_any(code)
        try:
            start = _bounded(req, "start", MAX_TIMESTAMP)
            end = _bounded(req, "end", MAX_TIMESTAMP)
            seconds = _bounded(req, "seconds", MAX_SECONDS)
        except ValueError:
            resp.status = 400
            resp.data = b""
            return
        flips = self._service.list_flips(check.id)
        if start:
            flips = [f for f in flips if f.created >= datetime.fromtimestamp(start, UTC)]
        if end:
            flips = [f for f in flips if f.created < datetime.fromtimestamp(end, UTC)]
        if seconds:
            since = self._service.now() - timedelta(seconds=seconds)
            flips = [f for f in flips if f.created >= since]
        answer(resp, {"flips": [flip_dict(flip) for flip in flips]})

"""Healthchecks' project resources (channels, badges, status) and the table of every route.

``add_hc_routes`` is the one place that lists the Healthchecks-compatible
URLs: the API under ``/api/v1/``, ``/api/v2/`` and ``/api/v3/`` (each with and
without its trailing slash, which the app strips), the badges and the
Prometheus metrics.
"""

from __future__ import annotations

from typing import Any

import falcon

from pingd.domain.badges import tag_badge_urls
from pingd.domain.badges import tags_of
from pingd.hcapi.badges import CheckBadgeResource
from pingd.hcapi.badges import TagBadgeResource
from pingd.hcapi.checks import ChecksResource
from pingd.hcapi.checks import PauseResource
from pingd.hcapi.checks import ResumeResource
from pingd.hcapi.checks import SingleResource
from pingd.hcapi.common import NONE
from pingd.hcapi.common import READ
from pingd.hcapi.common import VERSIONS
from pingd.hcapi.common import WRITE
from pingd.hcapi.common import HcResource
from pingd.hcapi.common import answer
from pingd.hcapi.history import FlipsResource
from pingd.hcapi.history import PingBodyResource
from pingd.hcapi.history import PingsResource
from pingd.hcapi.metrics import MetricsResource
from pingd.hcapi.shapes import channel_dict
from pingd.service import Service


class ChannelsResource(HcResource):
    """``channels/``: read-write keys only; each channel's UUID as its id."""

    access = {"GET": WRITE}
    cors = ("GET",)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        channels = self._service.list_channels()
        answer(resp, {"channels": [channel_dict(channel) for channel in channels]})


class BadgesResource(HcResource):
    """``badges/``: the six badge URLs of every tag, and of ``*`` (all checks)."""

    access = {"GET": READ}
    cors = ("GET",)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        secret = self._service.project().badge_key
        tags = {"*"}
        for check in self._service.list_checks():
            tags.update(tags_of(check))
        badges = {tag: tag_badge_urls(self._base_url, secret, tag) for tag in sorted(tags)}
        answer(resp, {"badges": badges})


class StatusResource(HcResource):
    """``status/``: "OK" once the database answers (Healthchecks' Docker health check)."""

    access = {"GET": NONE}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._service.check_database()
        resp.content_type = "text/html; charset=utf-8"
        resp.text = "OK"


def add_hc_routes(
    app: falcon.App[Any, Any], service: Service, base_url: str, *, require_https: str = "auto"
) -> None:
    """Add the Healthchecks-compatible API, badges and metrics to the app."""
    resources = [
        ("checks", ChecksResource),
        ("checks/{code}", SingleResource),
        ("checks/{code}/pause", PauseResource),
        ("checks/{code}/resume", ResumeResource),
        ("checks/{code}/pings", PingsResource),
        ("checks/{code}/pings/{n}/body", PingBodyResource),
        ("checks/{code}/flips", FlipsResource),
        ("channels", ChannelsResource),
        ("badges", BadgesResource),
        ("status", StatusResource),
    ]
    # One resource object per route serves all three versions: it reads the
    # version from the path.
    for suffix, resource_class in resources:
        resource = resource_class(service, base_url)
        for version in VERSIONS:
            app.add_route(f"/api/v{version}/{suffix}", resource)
    app.add_route("/badge/{badge_id}/{rest:path}", TagBadgeResource(service))
    for states in (2, 3):
        app.add_route(f"/b/{states}/{{name}}", CheckBadgeResource(service, states))
    metrics = MetricsResource(service, require_https=require_https)
    app.add_route("/projects/{project}/metrics/{key}", metrics)
    app.add_route("/projects/{project}/metrics", metrics)

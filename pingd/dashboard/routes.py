"""The dashboard's route table: the one place that lists every page and form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from pingd.dashboard.check import CheckPage
from pingd.dashboard.checks import ChecksPage
from pingd.dashboard.login import LoginLinkResource
from pingd.dashboard.login import LoginResource
from pingd.dashboard.login import LogoutResource
from pingd.dashboard.ping import PingBodyDownload
from pingd.dashboard.ping import PingPage
from pingd.dashboard.render import StylesheetResource
from pingd.dashboard.session import Sessions
from pingd.service import Service


def add_dashboard_routes(
    app: falcon.App[Any, Any], service: Service, base_url: str, monotonic: Callable[[], float]
) -> None:
    """Mount the dashboard's pages on the app."""
    sessions = Sessions(service, base_url, monotonic=monotonic)
    app.add_route("/", ChecksPage(service, sessions))
    app.add_route("/checks/{check_uuid}", CheckPage(service, sessions, base_url))
    app.add_route("/checks/{check_uuid}/pings/{n}", PingPage(service, sessions))
    app.add_route("/checks/{check_uuid}/pings/{n}/body", PingBodyDownload(service, sessions))
    app.add_route("/login", LoginResource(service, sessions))
    app.add_route("/login/link", LoginLinkResource(service, sessions))
    app.add_route("/logout", LogoutResource(sessions))
    app.add_route("/static/pingd.css", StylesheetResource())

"""The dashboard's route table: the one place that lists every page and form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from pingd.dashboard.actions import ChannelsAction
from pingd.dashboard.actions import DeleteCheck
from pingd.dashboard.actions import HoldAlertsAction
from pingd.dashboard.actions import PauseAction
from pingd.dashboard.actions import PingNowAction
from pingd.dashboard.actions import ResumeAction
from pingd.dashboard.channels import ChannelsPage
from pingd.dashboard.channels import ChannelTestAction
from pingd.dashboard.check import CheckPage
from pingd.dashboard.checks import ChecksPage
from pingd.dashboard.edit import EditCheckForm
from pingd.dashboard.edit import NewCheckForm
from pingd.dashboard.login import LoginLinkResource
from pingd.dashboard.login import LoginResource
from pingd.dashboard.login import LogoutResource
from pingd.dashboard.ping import PingBodyDownload
from pingd.dashboard.ping import PingPage
from pingd.dashboard.render import FaviconResource
from pingd.dashboard.render import StaticFile
from pingd.dashboard.session import Sessions
from pingd.dashboard.tv import TvPage
from pingd.service import Service


def add_dashboard_routes(
    app: falcon.App[Any, Any], service: Service, base_url: str, monotonic: Callable[[], float],
    *, require_https: str = "auto",
) -> None:  # fmt: skip
    """Mount the dashboard's pages, forms and assets on the app."""
    sessions = Sessions(service, base_url, monotonic=monotonic, require_https=require_https)
    app.add_route("/", ChecksPage(service, sessions, base_url))
    app.add_route("/tv", TvPage(service, sessions))
    app.add_route("/checks/new", NewCheckForm(service, sessions))
    app.add_route("/checks/{check_uuid}", CheckPage(service, sessions, base_url))
    app.add_route("/checks/{check_uuid}/edit", EditCheckForm(service, sessions))
    app.add_route("/checks/{check_uuid}/delete", DeleteCheck(service, sessions))
    app.add_route("/checks/{check_uuid}/pause", PauseAction(service, sessions))
    app.add_route("/checks/{check_uuid}/resume", ResumeAction(service, sessions))
    app.add_route("/checks/{check_uuid}/hold", HoldAlertsAction(service, sessions))
    app.add_route("/checks/{check_uuid}/ping", PingNowAction(service, sessions))
    app.add_route("/checks/{check_uuid}/channels", ChannelsAction(service, sessions))
    app.add_route("/checks/{check_uuid}/pings/{n}", PingPage(service, sessions))
    app.add_route("/checks/{check_uuid}/pings/{n}/body", PingBodyDownload(service, sessions))
    app.add_route("/channels", ChannelsPage(service, sessions))
    app.add_route("/channels/{channel_id}/test", ChannelTestAction(service, sessions))
    app.add_route("/login", LoginResource(service, sessions))
    app.add_route("/login/link", LoginLinkResource(service, sessions))
    app.add_route("/logout", LogoutResource(sessions))
    app.add_route("/static/pingd.css", StaticFile("pingd.css", "text/css; charset=utf-8"))
    app.add_route("/static/pingd.js", StaticFile("pingd.js", "text/javascript; charset=utf-8"))
    app.add_route("/favicon.svg", FaviconResource())

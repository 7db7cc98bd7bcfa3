"""The ``/v1`` route table: the one place that lists every management API route.

``add_api_routes`` mounts each family's resources (checks, channels, windows, project)
on the app. It is the only module of this package that imports the family
modules; it must hold no request handling of its own.
"""

from __future__ import annotations

from typing import Any

import falcon

from pingd.api.channels import ChannelResource
from pingd.api.channels import ChannelsResource
from pingd.api.channels import ChannelTestResource
from pingd.api.checks import CheckResource
from pingd.api.checks import CheckSerializer
from pingd.api.checks import ChecksResource
from pingd.api.checks import FlipsResource
from pingd.api.checks import PauseResource
from pingd.api.checks import PingBodyResource
from pingd.api.checks import PingsResource
from pingd.api.checks import ResumeResource
from pingd.api.common import API_PREFIX
from pingd.api.common import Resource
from pingd.api.project import OpenApiResource
from pingd.api.project import ProjectResource
from pingd.api.project import StatusResource
from pingd.api.windows import WindowResource
from pingd.api.windows import WindowsResource


def add_api_routes(app: falcon.App[Any, Any], base_url: str, document: dict[str, Any]) -> None:
    """Mount every management API resource on the app."""
    serializer = CheckSerializer(base_url)
    routes: list[tuple[str, Resource]] = [
        ("/status", StatusResource()),
        ("/project", ProjectResource(base_url)),
        ("/checks", ChecksResource(serializer)),
        ("/checks/{check_uuid}", CheckResource(serializer)),
        ("/checks/{check_uuid}/pause", PauseResource(serializer)),
        ("/checks/{check_uuid}/resume", ResumeResource(serializer)),
        ("/checks/{check_uuid}/pings", PingsResource(serializer)),
        ("/checks/{check_uuid}/pings/{n}/body", PingBodyResource(serializer)),
        ("/checks/{check_uuid}/flips", FlipsResource(serializer)),
        ("/channels", ChannelsResource()),
        ("/channels/{channel_id}", ChannelResource()),
        ("/channels/{channel_id}/test", ChannelTestResource()),
        ("/windows", WindowsResource()),
        ("/windows/{window_id}", WindowResource()),
        ("/openapi.json", OpenApiResource(document)),
    ]
    for path, resource in routes:
        app.add_route(API_PREFIX + path, resource)

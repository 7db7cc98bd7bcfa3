"""The channels family of the management API: notification channels and their deliveries.

Lists, creates, reads (with its recent deliveries and their attempts), changes
and deletes channels, and sends a test notification, with the JSON of a
channel and the checking of its input. It must not know checks beyond the
uuid a delivery names, nor import the other family modules of this package.
"""

from __future__ import annotations

from typing import Any

import falcon

from pingd.api.common import ID_PATTERN
from pingd.api.common import WRITE
from pingd.api.common import Resource
from pingd.api.common import format_time
from pingd.api.common import ok
from pingd.api.common import read_json
from pingd.api.common import service_of
from pingd.domain.alerts import Channel
from pingd.errors import ChannelNotFound
from pingd.errors import InvalidInput
from pingd.service import Service


def _channel_id(channel_id: str) -> int:
    if not ID_PATTERN.fullmatch(channel_id):
        raise ChannelNotFound()
    return int(channel_id)


def _channel_json(
    service: Service, channel: Channel, *, with_deliveries: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": channel.id,
        "uuid": channel.uuid,
        "kind": channel.kind,
        "name": channel.name,
        "settings": service.masked_settings(channel),
        "remind_every": channel.remind_every,
        "notify_late": channel.notify_late,
        "created": format_time(channel.created),
    }
    if with_deliveries:
        data["deliveries"] = [
            {
                "id": delivery.id,
                "check": delivery.event.get("uuid"),
                "status": delivery.event.get("status"),
                "state": delivery.state,
                "attempts": [
                    {**attempt, "time": format_time(attempt["time"])} for attempt in attempts
                ],
                "next_attempt": format_time(delivery.next_attempt),
                "created": format_time(delivery.created),
            }
            for delivery, attempts in service.channel_deliveries(channel.id)
        ]
    return data


_CHANNEL_CREATE_FIELDS = {"kind", "name", "settings", "all_checks", "remind_every",
                          "notify_late"}  # fmt: skip
_CHANNEL_PATCH_FIELDS = {"name", "settings", "remind_every", "notify_late"}


def _channel_input(data: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    problems = {name: "unknown field" for name in data if name not in allowed}
    for name, kind, text in (
        ("kind", str, "must be a string"),
        ("name", str, "must be a string"),
        ("settings", dict, "must be a JSON object"),
        ("all_checks", bool, "must be true or false"),
    ):
        if name in data and not isinstance(data[name], kind):
            problems[name] = text
    if problems:
        raise InvalidInput(problems)
    return data


class ChannelsResource(Resource):
    access = {"GET": WRITE, "POST": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = service_of(req)
        ok(req, resp, [_channel_json(service, channel) for channel in service.list_channels()])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = _channel_input(read_json(req), _CHANNEL_CREATE_FIELDS)
        if "kind" not in data:
            raise InvalidInput({"kind": "is required"})
        service = service_of(req)
        channel = service.create_channel(
            data["kind"],
            data.get("name", ""),
            data.get("settings", {}),
            attach_all=data.get("all_checks", False),
            remind_every=data.get("remind_every", 0),
            notify_late=data.get("notify_late", False),
        )
        ok(req, resp, _channel_json(service, channel), 201)


class ChannelResource(Resource):
    access = {"GET": WRITE, "PATCH": WRITE, "DELETE": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response, channel_id: str) -> None:
        service = service_of(req)
        channel = service.get_channel(_channel_id(channel_id))
        ok(req, resp, _channel_json(service, channel, with_deliveries=True))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, channel_id: str) -> None:
        data = _channel_input(read_json(req), _CHANNEL_PATCH_FIELDS)
        service = service_of(req)
        channel = service.update_channel(
            _channel_id(channel_id), name=data.get("name"), settings=data.get("settings"),
            remind_every=data.get("remind_every"), notify_late=data.get("notify_late"),
        )  # fmt: skip
        ok(req, resp, _channel_json(service, channel))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, channel_id: str) -> None:
        service = service_of(req)
        channel = service.delete_channel(_channel_id(channel_id))
        ok(req, resp, _channel_json(service, channel))


class ChannelTestResource(Resource):
    access = {"POST": WRITE}

    def on_post(self, req: falcon.Request, resp: falcon.Response, channel_id: str) -> None:
        outcome = service_of(req).test_channel(_channel_id(channel_id))
        data = {"ok": outcome.ok, "error": outcome.error, "duration_ms": outcome.duration_ms}
        ok(req, resp, data)

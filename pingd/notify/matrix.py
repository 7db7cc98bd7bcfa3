"""Matrix: a text message to a room, sent with a user's access token."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import post_json

FIELDS = {
    "homeserver": Field(required=True, url=True),
    "room_id": Field(required=True),
    "access_token": Field(required=True, secret=True),
}


def send(settings: dict[str, Any], message: Message, **_: Any) -> None:
    """PUT an m.room.message event with a fresh transaction id."""
    room = urllib.parse.quote(settings["room_id"], safe="")
    url = (
        f"{settings['homeserver'].rstrip('/')}/_matrix/client/v3/rooms/{room}"
        f"/send/m.room.message/pingd-{uuid.uuid4()}"
    )
    headers = {"Authorization": f"Bearer {settings['access_token']}"}
    # An empty m.mentions says the event mentions no one, so "@room" in a
    # check name or a job's output does not notify the whole room.
    payload = {"msgtype": "m.text", "body": message.text, "m.mentions": {}}
    post_json(url, payload, headers=headers, method="PUT")

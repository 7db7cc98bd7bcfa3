"""Gotify: send a message to a self-hosted Gotify server with an application token."""

from __future__ import annotations

from typing import Any

from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import post_json

FIELDS = {
    "server": Field(required=True, url=True),
    "token": Field(required=True, secret=True),
    "priority": Field(type=int, minimum=0, maximum=10, default=8),
}


def send(settings: dict[str, Any], message: Message, **_: Any) -> None:
    """Post the alert to /message."""
    payload = {"title": message.title, "message": message.text, "priority": settings["priority"]}
    headers = {"X-Gotify-Key": settings["token"]}
    post_json(settings["server"].rstrip("/") + "/message", payload, headers=headers)

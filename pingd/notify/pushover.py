"""Pushover: a push notification to a user's devices."""

from __future__ import annotations

import urllib.parse
from typing import Any

from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import http_request

FIELDS = {
    "user_key": Field(required=True, secret=True),
    "app_token": Field(required=True, secret=True),
    "priority": Field(type=int, minimum=-2, maximum=1, default=0),
    "api_base": Field(url=True, default="https://api.pushover.net"),
}


def send(settings: dict[str, Any], message: Message, **_: Any) -> None:
    """Post the form Pushover's messages API expects."""
    form = {
        "token": settings["app_token"],
        "user": settings["user_key"],
        "title": message.title,
        "message": message.text[:1024],
        "priority": str(settings["priority"]),
        "url": message.link,
    }
    http_request(
        "POST",
        settings["api_base"].rstrip("/") + "/1/messages.json",
        body=urllib.parse.urlencode(form).encode("ascii"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

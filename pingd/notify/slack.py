"""Slack (and Mattermost, Rocket.Chat): post to an incoming webhook."""

from __future__ import annotations

from typing import Any

from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import post_json

FIELDS = {"webhook_url": Field(required=True, secret=True, url=True)}


def send(settings: dict[str, Any], message: Message, **_: Any) -> None:
    """Post the alert text."""
    post_json(settings["webhook_url"], {"text": message.text})

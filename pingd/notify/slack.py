"""Slack (and Mattermost, Rocket.Chat): post to an incoming webhook."""

from __future__ import annotations

from typing import Any

from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import post_json

FIELDS = {"webhook_url": Field(required=True, secret=True, url=True)}


def escape(text: str) -> str:
    """Escape the three characters Slack reads as markup, as Slack's docs ask.

    ``<!channel>``, ``<@U123>`` or ``<https://evil|a link>`` in a check name or
    a job's output would otherwise notify everyone or hide a link.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send(settings: dict[str, Any], message: Message, **_: Any) -> None:
    """Post the alert text, with Slack's control sequences escaped."""
    post_json(settings["webhook_url"], {"text": escape(message.text)})

"""Telegram: a bot sends the alert to a chat."""

from __future__ import annotations

from typing import Any

from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import post_json

TELEGRAM_MAX_CHARS = 4096
FIELDS = {
    "bot_token": Field(required=True, secret=True),
    "chat_id": Field(required=True),
    "api_base": Field(url=True, default="https://api.telegram.org"),
}


def send(settings: dict[str, Any], message: Message, **_: Any) -> None:
    """Call the Bot API's sendMessage."""
    url = f"{settings['api_base'].rstrip('/')}/bot{settings['bot_token']}/sendMessage"
    post_json(url, {"chat_id": settings["chat_id"], "text": message.text[:TELEGRAM_MAX_CHARS]})

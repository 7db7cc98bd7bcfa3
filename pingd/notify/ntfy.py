"""ntfy: publish to a topic on ntfy.sh or a self-hosted ntfy server."""

from __future__ import annotations

from typing import Any

from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import post_json

FIELDS = {
    "server": Field(url=True, default="https://ntfy.sh"),
    "topic": Field(required=True),
    "priority": Field(type=int, minimum=1, maximum=5, default=4),
    "token": Field(secret=True, default=""),
}


def send(settings: dict[str, Any], message: Message, **_: Any) -> None:
    """Publish the alert as JSON; the priority drops to default (3) for recoveries."""
    headers = {"Authorization": f"Bearer {settings['token']}"} if settings.get("token") else {}
    priority = settings["priority"] if message.status != "up" else 3
    payload = {
        "topic": settings["topic"],
        "title": message.title,
        "message": message.text,
        "priority": priority,
        "tags": ["rotating_light" if message.status == "down" else "white_check_mark"],
        "click": message.link,
    }
    post_json(settings["server"].rstrip("/") + "/", payload, headers=headers)

"""Discord: post to a channel webhook."""

from __future__ import annotations

from typing import Any

from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import post_json

DISCORD_MAX_CHARS = 2000
FIELDS = {"webhook_url": Field(required=True, secret=True, url=True)}


def send(settings: dict[str, Any], message: Message, **_: Any) -> None:
    """Post the alert text (cut to Discord's 2,000 characters), mentioning nobody.

    An ``@everyone`` or ``<@&role>`` in a check name or a job's output stays text.
    """
    payload = {"content": message.text[:DISCORD_MAX_CHARS], "allowed_mentions": {"parse": []}}
    post_json(settings["webhook_url"], payload)

"""Apprise: any of the services Apprise knows, by an Apprise URL.

Needs the optional extra: ``pip install 'pingd[apprise]'``. The library is
imported only when such a channel is created or used.
"""

from __future__ import annotations

import importlib
from typing import Any

from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import NotifyError

FIELDS = {"url": Field(required=True, secret=True)}


def _library() -> Any:
    try:
        return importlib.import_module("apprise")
    except ImportError:
        return None


def validate(settings: dict[str, Any]) -> str | None:
    """Refuse apprise channels when the optional library is missing."""
    if _library() is None:
        return "the apprise extra is not installed: pip install 'pingd[apprise]'"
    return None


def send(settings: dict[str, Any], message: Message, **_: Any) -> None:
    """Notify through Apprise."""
    library = _library()
    if library is None:
        raise NotifyError("the apprise extra is not installed")
    apobj = library.Apprise()
    if not apobj.add(settings["url"]):
        raise NotifyError("apprise did not accept the URL")
    if not apobj.notify(title=message.title, body=message.text):
        raise NotifyError("apprise could not deliver the notification")

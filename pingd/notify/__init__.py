"""Notification channels: one small module per kind, behind one Notifier.

Each kind module has ``FIELDS`` (its settings, which of them are secret) and
``send(settings, message, **context)``; it may have ``validate(settings)`` for
rules beyond field types. The service gets a Notifier injected and never
imports this package.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from pingd.config import SmtpConfig
from pingd.domain.alerts import Channel
from pingd.errors import InvalidInput
from pingd.notify import apprise
from pingd.notify import discord
from pingd.notify import email
from pingd.notify import gotify
from pingd.notify import matrix
from pingd.notify import ntfy
from pingd.notify import pushover
from pingd.notify import slack
from pingd.notify import telegram
from pingd.notify import webhook
from pingd.notify.base import NotifyError
from pingd.notify.base import mask_settings
from pingd.notify.base import render_message
from pingd.notify.base import validate_settings

KINDS: dict[str, ModuleType] = {
    "webhook": webhook,
    "email": email,
    "ntfy": ntfy,
    "gotify": gotify,
    "discord": discord,
    "slack": slack,
    "telegram": telegram,
    "pushover": pushover,
    "matrix": matrix,
    "apprise": apprise,
}


class Notifier:
    """Validates, masks and sends notifications for every channel kind."""

    def __init__(self, *, base_url: str, smtp: SmtpConfig) -> None:
        self._base_url = base_url
        self._smtp = smtp

    def validate(self, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Return cleaned settings for a channel kind, or raise InvalidInput."""
        module = KINDS.get(kind)
        if module is None:
            raise InvalidInput({"kind": f"must be one of {', '.join(KINDS)}"})
        cleaned = validate_settings(module.FIELDS, settings)
        check = getattr(module, "validate", None)
        problem = check(cleaned) if check else None
        if problem:
            raise InvalidInput({"settings": problem})
        return cleaned

    def mask(self, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Return the settings with every secret shortened beyond use."""
        return mask_settings(KINDS[kind].FIELDS, settings)

    def secret_fields(self, kind: str) -> tuple[str, ...]:
        """Return the names of a kind's secret settings (never shown, never exported)."""
        module = KINDS.get(kind)
        fields = module.FIELDS if module else {}
        return tuple(name for name, field in fields.items() if field.secret)

    def send(self, channel: Channel, event: dict[str, Any]) -> None:
        """Deliver one alert event through a channel; raise NotifyError on failure."""
        message = render_message(event, self._base_url)
        try:
            KINDS[channel.kind].send(channel.settings, message, smtp=self._smtp)
        except NotifyError:
            raise
        except Exception as ex:
            # Library errors may quote the URL or a token (http.client's
            # InvalidURL does); keep only the kind of failure.
            raise NotifyError(f"{channel.kind} failed: {type(ex).__name__}") from None

"""Use cases of notification channels: creating, listing, changing, deleting, testing them.

Settings are validated and masked by the injected notifier. Builds on
``ServiceCore`` alone; which checks alert a channel is set with the check
(the checks family), and what is queued for it is the alerts family's.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC
from typing import Any

from pingd.domain.alerts import CHANNEL_KINDS
from pingd.domain.alerts import Channel
from pingd.domain.alerts import validate_channel_policy
from pingd.domain.checks import MAX_NAME_LENGTH
from pingd.errors import ChannelNotFound
from pingd.errors import InvalidInput
from pingd.errors import PingdError
from pingd.service.core import DeliveryOutcome
from pingd.service.core import Notifier
from pingd.service.core import ServiceCore
from pingd.store import channels as channels_db


class ChannelsService(ServiceCore):
    """Use cases of notification channels: create, list, change, delete, mask and test them."""

    def _require_notifier(self) -> Notifier:
        if self._notifier is None:
            raise PingdError("notifications are not set up in this process")
        return self._notifier

    def create_channel(
        self, kind: str, name: str, settings: dict[str, Any], *, attach_all: bool = False,
        remind_every: int = 0, notify_late: bool = False,
    ) -> Channel:  # fmt: skip
        """Create a notification channel; optionally make every check alert it."""
        _check_policy(remind_every, notify_late)
        if kind not in CHANNEL_KINDS:
            raise InvalidInput({"kind": f"must be one of {', '.join(CHANNEL_KINDS)}"})
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidInput({"name": f"is too long (maximum {MAX_NAME_LENGTH})"})
        cleaned = self._require_notifier().validate(kind, settings)
        project = self.project()

        def run(conn: sqlite3.Connection) -> Channel:
            channel = channels_db.insert_channel(
                conn, project.id, kind, name or kind, cleaned, self._clock(),
                remind_every=remind_every, notify_late=notify_late,
            )  # fmt: skip
            if attach_all:
                channels_db.attach_channel_to_all_checks(conn, project.id, channel.id)
            return channel

        return self._store.write(run)

    def list_channels(self) -> list[Channel]:
        """Return every channel of the project."""
        project = self.project()
        return self._store.read(lambda conn: channels_db.list_channels(conn, project.id))

    def get_channel(self, channel_id: int) -> Channel:
        """Return one channel, or raise ChannelNotFound."""
        channel = self._store.read(lambda conn: channels_db.get_channel(conn, channel_id))
        if channel is None:
            raise ChannelNotFound()
        return channel

    def update_channel(
        self, channel_id: int, *, name: str | None = None, settings: dict[str, Any] | None = None,
        remind_every: int | None = None, notify_late: bool | None = None,
    ) -> Channel:  # fmt: skip
        """Rename a channel, change the given settings (others are kept) or its alert policy."""
        if name is not None and len(name) > MAX_NAME_LENGTH:
            raise InvalidInput({"name": f"is too long (maximum {MAX_NAME_LENGTH})"})
        current = self.get_channel(channel_id)
        remind_every = current.remind_every if remind_every is None else remind_every
        notify_late = current.notify_late if notify_late is None else notify_late
        _check_policy(remind_every, notify_late)
        merged = current.settings if settings is None else {**current.settings, **settings}
        cleaned = self._require_notifier().validate(current.kind, merged)

        def run(conn: sqlite3.Connection) -> Channel:
            if channels_db.get_channel(conn, channel_id) is None:
                raise ChannelNotFound()
            updated = dataclasses.replace(
                current, name=current.name if name is None else name, settings=cleaned,
                remind_every=remind_every, notify_late=notify_late,
            )  # fmt: skip
            channels_db.update_channel(conn, updated)
            return updated

        return self._store.write(run)

    def delete_channel(self, channel_id: int) -> Channel:
        """Delete a channel with its queued deliveries and return what it was."""

        def run(conn: sqlite3.Connection) -> Channel:
            channel = channels_db.get_channel(conn, channel_id)
            if channel is None:
                raise ChannelNotFound()
            channels_db.delete_channel(conn, channel_id)
            return channel

        return self._store.write(run)

    def masked_settings(self, channel: Channel) -> dict[str, Any]:
        """Return a channel's settings with secrets shortened beyond use."""
        return self._require_notifier().mask(channel.kind, channel.settings)

    def test_channel(self, channel_id: int) -> DeliveryOutcome:
        """Send a test notification through a channel now and return the outcome."""
        channel = self.get_channel(channel_id)
        now = self._clock()
        event = {
            "uuid": "00000000-0000-0000-0000-000000000000", "name": "Test notification",
            "slug": "test-notification", "tags": "", "desc": "", "status": "test",
            "old_status": "", "reason": "test", "exit_status": None,
            "time": now.astimezone(UTC).replace(microsecond=0).isoformat(), "last_ping": None,
            "body": "This is a test notification sent by pingd.",
        }  # fmt: skip
        return self._send(channel, event)


def _check_policy(remind_every: object, notify_late: object) -> None:
    problems = validate_channel_policy({"remind_every": remind_every, "notify_late": notify_late})
    if problems:
        raise InvalidInput(problems)

"""The channels page (``/channels``): where alerts go, and whether they got there.

Each channel shows its settings masked as the API masks them, the checks it
serves, its newest deliveries with every attempt, and (for read-write
sessions) a button that sends a test notification now and shows the outcome.
"""

from __future__ import annotations

from typing import Any

import falcon

from pingd.dashboard.render import moment
from pingd.dashboard.render import redirect
from pingd.dashboard.render import render_page
from pingd.dashboard.session import Page
from pingd.domain.fields import format_duration
from pingd.errors import ChannelNotFound
from pingd.errors import PingdError

RECENT_DELIVERIES = 5
ERROR_CHARS = 300


class ChannelsPage(Page):
    """``/channels``."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._sessions.reader(req, resp)
        if visitor is None:
            return
        now = self._service.now()
        checks = {check.id: check for check in self._service.list_checks()}
        serves: dict[int, list[Any]] = {}
        for check_id, channel_ids in self._service.channel_ids_by_check().items():
            for channel_id in channel_ids:
                serves.setdefault(channel_id, []).append(checks[check_id])
        channels = [
            {"channel": channel, "settings": self._service.masked_settings(channel),
             "remind": format_duration(channel.remind_every),
             "checks": sorted(serves.get(channel.id, []), key=lambda c: c.name.lower()),
             "deliveries": [
                 {"time": moment(d.created, now), "state": d.state, "attempts": d.attempts,
                  "next": moment(d.next_attempt, now), "error": d.last_error[:ERROR_CHARS],
                  "event": _said(d.event), "check": d.event.get("name", ""),
                  "tries": [{**a, "time": moment(a["time"], now),
                             "error": a["error"][:ERROR_CHARS]} for a in tries]}
                 for d, tries in self._service.channel_deliveries(channel.id, RECENT_DELIVERIES)
             ]}
            for channel in self._service.list_channels()
        ]  # fmt: skip
        render_page(resp, "channels.html", visitor=visitor, channels=channels,
                    notice=self._sessions.take_notice(req, resp))  # fmt: skip


def _said(event: dict[str, Any]) -> str:
    """What a delivery told: the status, or that it was a reminder (which) or held back."""
    if event.get("alert") == "reminder":
        return f"still down (reminder {event.get('reminder')})"
    return str(event.get("status", "")) + (" (held by a window)" if event.get("held") else "")


class ChannelTestAction(Page):
    """``POST /channels/{id}/test``: send a test notification now; the outcome is the notice."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, channel_id: str) -> None:
        allowed = self._sessions.writer(req, resp)
        if allowed is None:
            return
        try:
            channel = self._service.get_channel(int(channel_id) if channel_id.isdigit() else -1)
            outcome = self._service.test_channel(channel.id)
        except ChannelNotFound:
            self._sessions.tell(req, resp, "That channel no longer exists.")
        except PingdError as problem:
            self._sessions.tell(req, resp, f"The test was not sent: {problem}")
        else:
            said = "sent" if outcome.ok else f"failed: {outcome.error[:ERROR_CHARS]}"
            self._sessions.tell(
                req, resp, f"Test to {channel.name} {said} ({outcome.duration_ms} ms)."
            )
        redirect(resp, "/channels")

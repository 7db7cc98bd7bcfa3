"""The alert policy, inside a write: who is told what, now, later or not at all.

``queue_alerts`` (the pings and alerts families') queues one delivery per
attached channel for each flip that notifies, unless a maintenance window
covers the check: then the alert is owed, and ``settle_owed`` settles it when
the window ends, by what is true then (still down: one down alert; recovered
after a down alert: one up alert; recovered before anyone was told: nobody).
A down alert starts each channel's reminders (the check's ``remind_every``,
else the channel's); ``send_reminders`` sends the due ones, one per channel
however long the process was stopped, and the next one an interval after
that. ``send_late_notices`` tells the channels that ask when a check turns
late. Every function runs in the caller's transaction; all take ``now``.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta

from pingd.domain.alerts import Channel
from pingd.domain.alerts import alert_event
from pingd.domain.alerts import held_event
from pingd.domain.alerts import late_event
from pingd.domain.alerts import notifies
from pingd.domain.alerts import reminder_event
from pingd.domain.checks import Check
from pingd.domain.checks import Flip
from pingd.domain.checks import Ping
from pingd.domain.checks import late_after
from pingd.domain.windows import quiet_until
from pingd.store import channels as channels_db
from pingd.store import checks as checks_db
from pingd.store import deliveries as deliveries_db
from pingd.store import flips as flips_db
from pingd.store import pings as pings_db
from pingd.store import reminders as reminders_db
from pingd.store import windows as windows_db
from pingd.store.reminders import Reminder


def remind_interval(check: Check, channel: Channel) -> int:
    """Return how often a channel is reminded of a check that stays down (0: never)."""
    return check.remind_every or channel.remind_every


def check_quiet_until(conn: sqlite3.Connection, check: Check, now: datetime) -> datetime | None:
    """Return when the maintenance windows covering a check now end, or None if none does."""
    return quiet_until(windows_db.list_windows(conn, check.project_id), check, now)


def queue_alerts(
    conn: sqlite3.Connection,
    check: Check,
    flips: Sequence[Flip],
    last_ping: Ping | None,
    now: datetime,
) -> int:
    """Queue one delivery per attached channel for every flip that notifies; return how many.

    Inside a maintenance window nothing is queued and the alert is owed.
    """
    notifying = [flip for flip in flips if notifies(flip)]
    if not notifying:
        return 0
    if check.status != "down":
        reminders_db.stop_reminders(conn, check.id)  # the next up stops them, window or not
    notified, _ = reminders_db.get_alert_state(conn, check.id)
    if check_quiet_until(conn, check, now) is not None:
        reminders_db.set_alert_state(conn, check.id, notified, owed=True)
        return 0
    channels = channels_db.get_check_channels(conn, check.id)
    for flip in notifying:
        event = alert_event(check, flip, last_ping)
        for channel in channels:
            deliveries_db.insert_delivery(conn, channel.id, event, now)
    last = notifying[-1]
    reminders_db.set_alert_state(conn, check.id, last.new_status, owed=False)
    if last.new_status == "down":
        _start_reminders(conn, check, channels, last.created, now)
    return len(channels) * len(notifying)


def _start_reminders(
    conn: sqlite3.Connection, check: Check, channels: list[Channel], since: datetime,
    now: datetime,
) -> None:  # fmt: skip
    for channel in channels:
        interval = remind_interval(check, channel)
        if interval:
            first = now + timedelta(seconds=interval)
            reminders_db.set_reminder(conn, Reminder(check.id, channel.id, since, 0, first))


def keep_reminding(conn: sqlite3.Connection, check: Check, now: datetime) -> None:
    """Schedule the reminders a check told down lacks (its interval or channels just changed)."""
    if check.status != "down" or reminders_db.get_alert_state(conn, check.id)[0] != "down":
        return
    have = {r.channel_id for r in reminders_db.list_check_reminders(conn, check.id)}
    down = _newest_flip_to(conn, check.id, "down")
    since = now if down is None else down.created
    missing = [c for c in channels_db.get_check_channels(conn, check.id) if c.id not in have]
    _start_reminders(conn, check, missing, since, now)


def stop_alerts(conn: sqlite3.Connection, check_id: int) -> None:
    """End what a check's channels were told: on pause or resume, reminders and owed alerts go."""
    reminders_db.stop_reminders(conn, check_id)
    reminders_db.set_alert_state(conn, check_id, "", owed=False)


def settle_owed(conn: sqlite3.Connection, now: datetime) -> int:
    """Settle the alerts windows held back, for checks no window covers now; return how many."""
    queued = 0
    for check_id in reminders_db.list_owed_check_ids(conn):
        check = checks_db.get_check_by_id(conn, check_id)
        if check is None or check_quiet_until(conn, check, now) is not None:
            continue
        notified, _ = reminders_db.get_alert_state(conn, check.id)
        owed = _owed_flip(conn, check, notified, now)
        if owed is None:  # recovered before anyone was told, paused, or told already
            reminders_db.set_alert_state(conn, check.id, notified, owed=False)
            keep_reminding(conn, check, now)
            continue
        channels = channels_db.get_check_channels(conn, check.id)
        event = held_event(alert_event(check, owed, last_ping_of(conn, check.id)), owed.created)
        for channel in channels:
            deliveries_db.insert_delivery(conn, channel.id, event, now)
        queued += len(channels)
        reminders_db.set_alert_state(conn, check.id, owed.new_status, owed=False)
        if owed.new_status == "down":
            _start_reminders(conn, check, channels, owed.created, now)
    return queued


def _owed_flip(conn: sqlite3.Connection, check: Check, notified: str, now: datetime) -> Flip | None:
    """Return the newest flip to the check's status if its channels were told otherwise."""
    if check.status == "down" and notified != "down":
        wanted = "down"
    elif check.status == "up" and notified == "down":
        wanted = "up"
    else:
        return None
    newest = _newest_flip_to(conn, check.id, wanted)
    return newest or Flip(check.id, now, "down" if wanted == "up" else "", wanted, "")


def _newest_flip_to(conn: sqlite3.Connection, check_id: int, status: str) -> Flip | None:
    """Return the newest of a check's recent flips to ``status``, if any."""
    return next((f for f in flips_db.list_flips(conn, check_id, 20) if f.new_status == status),
                None)  # fmt: skip


def last_ping_of(conn: sqlite3.Connection, check_id: int) -> Ping | None:
    """Return a check's newest kept ping, which an alert quotes (the alerts family's too)."""
    last = pings_db.list_pings(conn, check_id, 1)
    return last[0] if last else None


def send_reminders(conn: sqlite3.Connection, now: datetime) -> int:
    """Queue every due reminder (one per channel, however late) and schedule the next."""
    queued = 0
    for reminder in reminders_db.list_due_reminders(conn, now):
        check = checks_db.get_check_by_id(conn, reminder.check_id)
        channel = channels_db.get_channel(conn, reminder.channel_id)
        interval = 0 if check is None or channel is None else remind_interval(check, channel)
        attached = check is not None and reminder.channel_id in channels_db.get_check_channel_ids(
            conn, check.id
        )
        if check is None or check.status != "down" or not interval or not attached:
            reminders_db.delete_reminder(conn, reminder.check_id, reminder.channel_id)
            continue
        assert channel is not None
        quiet = check_quiet_until(conn, check, now)
        if quiet is not None:  # held until the window ends, then one, then the schedule
            reminders_db.set_reminder(conn, dataclasses.replace(reminder, next_at=quiet))
            continue
        count = reminder.sent + 1
        event = reminder_event(check, last_ping_of(conn, check.id), reminder.down_since, count, now)
        deliveries_db.insert_delivery(conn, channel.id, event, now)
        next_at = now + timedelta(seconds=interval)
        reminders_db.set_reminder(conn, dataclasses.replace(reminder, sent=count, next_at=next_at))
        queued += 1
    return queued


def send_late_notices(conn: sqlite3.Connection, now: datetime) -> int:
    """Tell the channels that ask (``notify_late``) that a check turned late; return how many.

    Once per late spell: the deadline it was told for is kept (the query
    skips it), and a ping sets a new one. Nothing of it is on the ping path.
    """
    queued = 0
    for check in checks_db.list_maybe_late_checks(conn, now):
        late = late_after(check)
        if late is None or now < late:
            continue
        reminders_db.set_late_told(conn, check.id, check.alert_after)
        if check_quiet_until(conn, check, now) is not None:
            continue  # a window covers it: no notice, and none owed (down would be)
        event = late_event(check, last_ping_of(conn, check.id), now)
        for channel in channels_db.get_check_channels(conn, check.id):
            if channel.notify_late:
                deliveries_db.insert_delivery(conn, channel.id, event, now)
                queued += 1
    return queued

"""Any interleaving of pings, ticks, windows, pauses and restarts: exactly the alerts the rules say.

This extends the model of ``test_alerts.py`` (a simple check's status and
flips) with the alert policy: failure and success thresholds, a client's
retries, reminders, and one-off maintenance windows, and compares, after
every example, the deliveries the real service queued on its real SQLite
file with the ones the model says, in order, each once. A step may also
close the store and open it again (a restart of the process).
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START
from conftest import FakeClock
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from test_alerts import Model as StatusModel

from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import default_config
from pingd.domain.checks import Check
from pingd.errors import CheckNotPaused
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.writer.store import Store


@dataclass
class Model(StatusModel):
    """What the README's alert policy says one simple check and its channels get.

    Its deadline (``alert_after``) is the alerts suite's model's.
    """

    failure_threshold: int = 1
    success_threshold: int = 1
    remind_every: int = 0
    fail_streak: int = 0
    success_streak: int = 0
    notified: str = ""
    owed: bool = False
    reminder: tuple[datetime, int] | None = None  # (next at, sent so far)
    windows: list[list[datetime]] = field(default_factory=list)  # [start, end]
    alerts: list[tuple[str, str, str]] = field(default_factory=list)  # alert, status, extra

    def quiet_until(self, now: datetime) -> datetime | None:
        end: datetime | None = None
        at = now
        while True:
            ends = [w[1] for w in self.windows if w[0] <= at < w[1]]
            if not ends or (end is not None and max(ends) <= end):
                return end
            end = at = max(ends)

    # -- what changes the status, and the flips that notify ------------------------

    def _flips_to(self, status: str, flips: list[str]) -> None:
        if status != self.status:
            old, self.status = self.status, status
            if status == "down" or (old, status) == ("down", "up"):
                flips.append(status)

    def _overdue(self, now: datetime, flips: list[str]) -> None:
        deadline = self.alert_after
        if deadline is not None and now >= deadline:
            self.success_streak = 0
            self._flips_to("down", flips)

    def ping(self, kind: str, now: datetime) -> None:
        flips: list[str] = []
        self._overdue(now, flips)
        if kind != "log" and not self.is_repeat(kind, now):
            self.last_kind = kind
            if kind == "start":
                self.last_start = now
            elif kind in ("success", "fail"):
                self.last_ping, self.last_start = now, None
                self._count(kind, flips)
        self._queue(flips, now)

    def _count(self, kind: str, flips: list[str]) -> None:
        if kind == "success":
            self.success_streak += 1
            self.fail_streak = 0
            up = self.status != "down" or self.success_streak >= self.success_threshold
            self._flips_to("up" if up else "down", flips)
        else:
            self.fail_streak += 1
            self.success_streak = 0
            down = self.status == "down" or self.fail_streak >= self.failure_threshold
            self._flips_to("down" if down else "up", flips)

    def _queue(self, flips: list[str], now: datetime) -> None:
        if not flips:
            return
        if self.status != "down":
            self.reminder = None
        if self.quiet_until(now) is not None:
            self.owed = True
            return
        self.alerts += [("change", status, "") for status in flips]
        self.notified, self.owed = flips[-1], False
        if flips[-1] == "down" and self.remind_every:
            self.reminder = (now + timedelta(seconds=self.remind_every), 0)

    # -- the alert loop's tick ------------------------------------------------------

    def tick(self, now: datetime) -> None:
        flips: list[str] = []
        self._overdue(now, flips)
        self._queue(flips, now)
        if self.owed and self.quiet_until(now) is None:
            self.owed = False
            wanted = ""
            if self.status == "down" and self.notified != "down":
                wanted = "down"
            elif self.status == "up" and self.notified == "down":
                wanted = "up"
            if wanted:
                self.alerts.append(("change", wanted, "held"))
                self.notified = wanted
                if wanted == "down" and self.remind_every:
                    self.reminder = (now + timedelta(seconds=self.remind_every), 0)
            elif self.status == self.notified == "down" and self.reminder is None:
                # Told down, down again after an unsaid recovery: the reminders go on.
                if self.remind_every:
                    self.reminder = (now + timedelta(seconds=self.remind_every), 0)
        if self.reminder is not None and self.reminder[0] <= now:
            if self.status != "down":
                self.reminder = None
                return
            quiet = self.quiet_until(now)
            if quiet is not None:
                self.reminder = (quiet, self.reminder[1])
                return
            count = self.reminder[1] + 1
            self.alerts.append(("reminder", "down", str(count)))
            self.reminder = (now + timedelta(seconds=self.remind_every), count)

    def pause(self, now: datetime) -> None:
        self.last_start = None
        self.status = "paused"
        self.reminder, self.notified, self.owed = None, "", False

    def resume_or_end_hold(self, now: datetime) -> bool:
        """Resume a paused check, or end the windows in effect; False if neither."""
        if self.status == "paused":
            self.last_ping = self.last_start = None
            self.fail_streak = self.success_streak = 0
            self.status = "new"
            self.reminder, self.notified, self.owed = None, "", False
            return True
        active = [w for w in self.windows if w[0] <= now < w[1]]
        for window in active:
            window[1] = now
        return bool(active)


_PINGS = st.tuples(st.just("ping"), st.sampled_from(["success", "fail", "fail", "start", "log"]))
_SPANS = st.sampled_from([1, 20, 31, 600, 1800, 3600, 4200, 7200, 86400])
STEPS = st.one_of(
    _PINGS,
    _PINGS,
    st.tuples(st.just("later"), _SPANS),  # time passes with the alert loop running
    st.tuples(st.just("later"), _SPANS),
    st.tuples(st.just("advance"), _SPANS),  # time passes with the process stopped
    st.tuples(st.just("tick"), st.just(0)),
    st.tuples(st.just("window"), st.sampled_from([0, 60, 1800])),
    st.tuples(st.just("pause"), st.just(0)),
    st.tuples(st.just("resume"), st.just(0)),
    st.tuples(st.just("restart"), st.just(0)),
)


class Harness:
    """A database, its service and a fake clock; ``restart`` closes and opens the store."""

    def __init__(self, folder: str) -> None:
        self.config = default_config(storage__path=str(Path(folder) / "pingd.db"))
        self.clock = FakeClock(START)
        self.store: Store = open_store(self.config)
        self.service = self._service()

    def _service(self) -> Service:
        service = make_service(self.config, self.store, self.clock,
                               notifier=make_notifier(self.config))  # fmt: skip
        service.bootstrap()
        return service

    def restart(self) -> None:
        self.store.close()
        self.store = open_store(self.config)
        self.service = self._service()

    def ping(self, check: Check, kind: str) -> None:
        self.service.record_ping(
            PingRequest(action=kind, method="POST", scheme="http", remote_addr="192.0.2.1",
                        ua="curl", body=b"", body_size=0, uuid=check.uuid)
        )  # fmt: skip

    def queued(self, channel_id: int) -> list[tuple[str, str, str]]:
        conn = sqlite3.connect(f"file:{self.config.storage.path}?mode=ro", uri=True)
        try:
            found = conn.execute(
                "SELECT event FROM deliveries WHERE channel_id = ? ORDER BY id", (channel_id,)
            ).fetchall()
        finally:
            conn.close()
        result = []
        for (text,) in found:
            event: dict[str, Any] = json.loads(text)
            extra = "held" if event.get("held") else str(event.get("reminder") or "")
            result.append((event["alert"], event["status"], extra))
        return result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    failure_threshold=st.sampled_from([1, 2, 3]),
    success_threshold=st.sampled_from([1, 2]),
    remind_every=st.sampled_from([0, 3600]),
    steps=st.lists(STEPS, max_size=40),
)
def test_it_queues_exactly_the_alerts_the_policy_says_in_any_interleaving(
    failure_threshold: int, success_threshold: int, remind_every: int,
    steps: list[tuple[str, Any]],
) -> None:  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="pingd-policy-") as folder:
        run = Harness(folder)
        try:
            channels = [run.service.create_channel("webhook", name, {"url_down": "http://127.0.0.1:9/"})
                        for name in ("one", "two")]  # fmt: skip
            check = run.service.create_check(
                name="Job", timeout=3600, grace=600, failure_threshold=failure_threshold,
                success_threshold=success_threshold, remind_every=remind_every, channels="*",
            )  # fmt: skip
            model = Model(
                3600,
                600,
                failure_threshold=failure_threshold,
                success_threshold=success_threshold,
                remind_every=remind_every,
            )
            for step, value in steps:
                _apply(run, model, check, step, value)
            for channel in channels:
                assert run.queued(channel.id) == model.alerts
            final = run.service.get_check(check.uuid)
            assert (final.status, final.fail_streak, final.success_streak) == (
                model.status, model.fail_streak, model.success_streak)  # fmt: skip
        finally:
            run.store.close()


def _apply(run: Harness, model: Model, check: Check, step: str, value: Any) -> None:
    now = run.clock.now
    if step == "ping":
        run.ping(check, value)
        model.ping(value, now)
    elif step == "advance":
        run.clock.advance(seconds=value)
    elif step == "later":
        # The loop ticks along the way; a tick at each deadline or due reminder is what
        # matters, so tick at the end and at the minutes before it.
        for part in (value - 60, 60) if value > 60 else (value,):
            run.clock.advance(seconds=part)
            _apply(run, model, check, "tick", 0)
    elif step == "tick":
        run.service.sweep_overdue()
        run.service.sweep_policy()
        model.tick(now)
    elif step == "window":
        start, end = now + timedelta(seconds=value), now + timedelta(seconds=value + 3600)
        run.service.create_window({"check": check.uuid, "starts": start.isoformat(),
                                   "ends": end.isoformat()})  # fmt: skip
        model.windows.append([start, end])
    elif step == "pause":
        run.service.pause_check(check.id)
        model.pause(now)
    elif step == "resume":
        if model.resume_or_end_hold(now):
            run.service.resume_check(check.id)
        else:
            with pytest.raises(CheckNotPaused):
                run.service.resume_check(check.id)
    else:
        run.restart()

"""Use cases of pings: recording one durably (waiting for it or not) and reading them back.

A ping finds its check (by UUID, or by project ping key and slug, creating
it for ``create=1`` as the checks family would) and may flip it, queueing
the alerts family's deliveries in the same transaction: so this family
imports ``checks.new_check`` and ``alerts.queue_alerts``, nothing else of
them, and no family imports this one.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pingd.domain.alerts import notifies
from pingd.domain.checks import MAX_UA_LENGTH
from pingd.domain.checks import Check
from pingd.domain.checks import Flip
from pingd.domain.checks import Ping
from pingd.domain.checks import apply_ping
from pingd.domain.checks import decide_kind
from pingd.domain.checks import is_repeat
from pingd.domain.checks import ping_digest
from pingd.errors import AmbiguousSlug
from pingd.errors import NotFound
from pingd.errors import PingdError
from pingd.service.checks import new_check
from pingd.service.core import ServiceCore
from pingd.service.policy import queue_alerts
from pingd.store import channels as channels_db
from pingd.store import checks as checks_db
from pingd.store import flips as flips_db
from pingd.store import pings as pings_db
from pingd.store import projects as projects_db


@dataclass(frozen=True, slots=True)
class PingRequest:
    """One ping as the router parsed it: who it is for, what it says, and its metadata."""

    action: str
    method: str
    scheme: str
    remote_addr: str
    ua: str
    body: bytes
    body_size: int
    uuid: str | None = None
    ping_key: str | None = None
    slug: str | None = None
    exit_status: int | None = None
    rid: str | None = None
    create: bool = False
    # Errors found in the URL that must be reported only once the check is
    # known (an unknown check is a 404 first, as in Healthchecks).
    deferred_error: PingdError | None = None


@dataclass(frozen=True, slots=True)
class PingResult:
    created: bool
    check: Check
    ping: Ping
    flips: tuple[Flip, ...]


class PingsService(ServiceCore):
    """Use cases of pings: record one (waiting or not) and read a check's kept pings."""

    def record_ping(self, request: PingRequest) -> PingResult:
        """Record a ping durably and apply it to its check; raise if it has no check."""
        result = self._store.write(lambda conn: self._record_ping(conn, request), hot=True)
        self._after_ping(result)
        return result

    def record_ping_later(
        self,
        request: PingRequest,
        then: Callable[[PingResult | None, BaseException | None], object],
    ) -> None:
        """Record a ping without waiting: ``then(result, error)`` follows the commit,
        on the store's writer thread."""

        def done(result: PingResult | None, error: BaseException | None) -> None:
            if result is not None:
                self._after_ping(result)
            then(result, error)

        self._store.submit(lambda conn: self._record_ping(conn, request), done, hot=True)

    def _after_ping(self, result: PingResult) -> None:
        """What follows a committed ping: waking the alert loop if it flipped."""
        if any(notifies(flip) for flip in result.flips):
            self.alerts_queued.set()

    def get_ping_body(self, check_id: int, n: int) -> bytes:
        """Return a kept ping's stored body, or raise NotFound if pruned or empty."""
        ping = self._store.read(lambda conn: pings_db.get_ping(conn, check_id, n))
        if ping is None or not ping.body:
            raise NotFound("no stored body for this ping")
        return ping.body

    def list_pings(self, check_id: int) -> list[Ping]:
        """Return a check's kept pings, newest first."""
        return self._store.read(
            lambda conn: pings_db.list_pings(conn, check_id, self._ping_log_limit)
        )

    def last_success_times(self, check_ids: list[int]) -> dict[int, datetime]:
        """Return when each of these checks last had a (kept) success ping."""
        if not check_ids:
            return {}
        return self._store.read(lambda conn: pings_db.last_success_times(conn, check_ids))

    def kept_pings_by_kind(self) -> dict[int, dict[str, int]]:
        """Return, per check id, how many of its kept pings are of each kind."""
        project = self.project()
        return self._store.read(lambda conn: pings_db.count_kept_pings_by_kind(conn, project.id))

    def _find_ping_target(
        self, conn: sqlite3.Connection, request: PingRequest
    ) -> tuple[Check | None, bool]:
        """Return the check a ping is for (creating it for create=1) and whether it is new."""
        if request.uuid is not None:
            return checks_db.get_check_by_uuid(conn, request.uuid), False
        assert request.ping_key is not None and request.slug is not None
        project = projects_db.get_project_by_ping_key(conn, request.ping_key)
        if project is None:
            raise NotFound()
        matches = checks_db.get_checks_by_slug(conn, project.id, request.slug)
        if len(matches) > 1:
            raise AmbiguousSlug()
        if matches:
            return matches[0], False
        if not request.create:
            return None, False
        # Validate the whole request before creating anything, so that a bad
        # URL never leaves an empty check behind.
        if request.deferred_error is not None:
            raise request.deferred_error
        if checks_db.count_checks(conn, project.id) >= self._max_checks:
            return None, False
        new = new_check(project.id, request.slug, self._clock())
        created = checks_db.insert_check(conn, dataclasses.replace(new, slug=request.slug))
        channel_ids = [channel.id for channel in channels_db.list_channels(conn, project.id)]
        channels_db.set_check_channels(conn, created.id, channel_ids)
        return created, True

    def _record_ping(self, conn: sqlite3.Connection, request: PingRequest) -> PingResult:
        check, created = self._find_ping_target(conn, request)
        if check is None:
            raise NotFound()
        if request.deferred_error is not None:
            raise request.deferred_error
        now = self._clock()
        kind = decide_kind(check, request.action, request.exit_status, request.method, request.body)
        ping = Ping(
            check_id=check.id, n=check.n_pings + 1, created=now, kind=kind,
            exit_status=request.exit_status, rid=request.rid, scheme=request.scheme,
            method=request.method, remote_addr=request.remote_addr,
            ua=request.ua[: MAX_UA_LENGTH], body=request.body, body_size=request.body_size,
        )  # fmt: skip
        digest = ping_digest(ping)
        if is_repeat(check, digest, kind, now):
            ping = dataclasses.replace(ping, repeat=True)
        outcome = apply_ping(check, ping, now, digest)
        checks_db.update_check_state(conn, outcome.check)
        pings_db.store_ping(conn, ping, self._ping_log_limit)
        if ping.n > self._ping_log_limit:
            # In the same transaction, so the log never holds more than the
            # limit. Usually there is nothing left to delete: the new ping
            # took the oldest one's row.
            pings_db.trim_pings(conn, check.id, ping.n - self._ping_log_limit)
        for flip in outcome.flips:
            flips_db.insert_flip(conn, flip)
        queue_alerts(conn, outcome.check, outcome.flips, ping, now)
        return PingResult(created, outcome.check, ping, outcome.flips)

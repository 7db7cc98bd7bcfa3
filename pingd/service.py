"""Use cases: each loads state, asks the domain what to do, and writes the result.

Every write goes through ``Store.write`` (one transaction in the single writer
thread) and reads through ``Store.read``. The service takes the time once per
use case from the injected clock.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import sqlite3
import string
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Protocol

from pingd import domain
from pingd.domain import Channel
from pingd.domain import Check
from pingd.domain import Delivery
from pingd.domain import Flip
from pingd.domain import Ping
from pingd.errors import AmbiguousSlug
from pingd.errors import ChannelNotFound
from pingd.errors import CheckNotFound
from pingd.errors import CheckNotPaused
from pingd.errors import Duplicate
from pingd.errors import Forbidden
from pingd.errors import InvalidInput
from pingd.errors import NotFound
from pingd.errors import PingdError
from pingd.store import channels as channels_db
from pingd.store import checks as checks_db
from pingd.store import database
from pingd.store import deliveries as deliveries_db
from pingd.store import flips as flips_db
from pingd.store import pings as pings_db
from pingd.store import projects as projects_db
from pingd.store.projects import ApiKey
from pingd.store.projects import Project
from pingd.writer.store import Store

Clock = Callable[[], datetime]

_NOT_GIVEN = object()
PING_KEY_ALPHABET = string.ascii_lowercase + string.digits
PING_KEY_LENGTH = 22
API_KEY_PREFIX_LENGTH = 12


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


@dataclass(frozen=True, slots=True)
class Bootstrap:
    project: Project
    new_api_key: str | None


def hash_api_key(key: str) -> str:
    """Return the SHA-256 hex digest under which an API key is stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_ping_key() -> str:
    """Generate a project ping key: 22 characters of [a-z0-9]."""
    return "".join(secrets.choice(PING_KEY_ALPHABET) for _ in range(PING_KEY_LENGTH))


def new_api_key() -> str:
    """Generate an API key (about 190 bits of randomness)."""
    return "pingd_" + secrets.token_urlsafe(24)


class Notifier(Protocol):
    """What the service needs from the notification layer (injected, never imported)."""

    def validate(self, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Return cleaned settings for a channel kind, or raise InvalidInput."""

    def mask(self, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Return the settings with every secret shortened beyond use."""

    def send(self, channel: Channel, event: dict[str, Any]) -> None:
        """Deliver one event to a channel, or raise with a message that holds no secret."""


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    ok: bool
    error: str
    duration_ms: int
    # False when the delivery was gone or had changed by the time the outcome
    # was to be written, so nothing was recorded.
    recorded: bool = True
    # False when nothing was sent: another attempt had already moved it on.
    attempted: bool = True


class Service:
    """pingd's use cases over one store, clock and set of limits."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        ping_log_limit: int = 100,
        max_checks: int = 10000,
        notifier: Notifier | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ping_log_limit = ping_log_limit
        self._max_checks = max_checks
        self._notifier = notifier
        # Set when a committed change queued notifications; the alert loop
        # waits on it so that alerts go out at once rather than at the next tick.
        self.alerts_queued = threading.Event()
        # Outcomes of attempts that were made but could not be written yet, by
        # (delivery id, attempts before it): written at the next try, not re-sent.
        self._unwritten: dict[tuple[int, int], DeliveryOutcome] = {}
        self._unwritten_lock = threading.Lock()

    def now(self) -> datetime:
        """Return the service clock's current time."""
        return self._clock()

    # -- projects and keys ---------------------------------------------------

    def bootstrap(self) -> Bootstrap:
        """Make sure the project exists; on first run also create a read-write API key."""

        def run(conn: sqlite3.Connection) -> Bootstrap:
            project = projects_db.get_default_project(conn)
            if project is not None:
                return Bootstrap(project, None)
            now = self._clock()
            project = projects_db.insert_project(conn, "default", new_ping_key(), now)
            key = self._insert_key(conn, project.id, "first key", False, now)
            return Bootstrap(project, key)

        return self._store.write(run)

    def project(self) -> Project:
        """Return the project of this install."""
        project = self._store.read(projects_db.get_default_project)
        if project is None:
            raise NotFound("no project: run `pingd serve` once to create the database")
        return project

    def _insert_key(
        self, conn: sqlite3.Connection, project_id: int, name: str, read_only: bool, now: datetime
    ) -> str:
        key = new_api_key()
        projects_db.insert_api_key(
            conn, project_id, name=name, prefix=key[:API_KEY_PREFIX_LENGTH],
            key_hash=hash_api_key(key), read_only=read_only, now=now,
        )  # fmt: skip
        return key

    def create_api_key(self, name: str, *, read_only: bool = False) -> str:
        """Create an API key and return it; only its hash is kept."""
        project = self.project()
        return self._store.write(
            lambda conn: self._insert_key(conn, project.id, name, read_only, self._clock())
        )

    def list_api_keys(self) -> list[ApiKey]:
        """Return every API key (without the keys themselves)."""
        return self._store.read(projects_db.list_api_keys)

    def revoke_api_key(self, prefix: str) -> ApiKey:
        """Delete the one API key whose prefix starts with ``prefix`` (or the full key)."""

        def run(conn: sqlite3.Connection) -> ApiKey:
            keys = projects_db.list_api_keys(conn)
            digest = hash_api_key(prefix)
            exact = projects_db.get_api_key_by_hash(conn, digest)
            matches = [exact] if exact else [k for k in keys if k.prefix.startswith(prefix)]
            if not prefix or not matches:
                raise NotFound(f"no API key starts with {prefix!r}")
            if len(matches) > 1:
                raise InvalidInput({"prefix": f"{len(matches)} keys start with {prefix!r}"})
            projects_db.delete_api_key(conn, matches[0].id)
            return matches[0]

        return self._store.write(run)

    def authenticate(self, key: str) -> ApiKey | None:
        """Return the API key record for a presented key, compared by hash."""
        digest = hash_api_key(key)
        found = self._store.read(lambda conn: projects_db.get_api_key_by_hash(conn, digest))
        # The lookup compares SHA-256 digests, so its timing can reveal at most
        # how a guess's digest sorts, never the key; the final comparison of
        # the stored digest is constant-time as well.
        if found is None or not hmac.compare_digest(found.key_hash, digest):
            return None
        return found

    # -- checks --------------------------------------------------------------

    def create_check(self, **fields: Any) -> Check:
        """Create a check from fields (validated here) and return it."""
        check, _ = self.upsert_check(fields, unique=())
        return check

    def upsert_check(self, fields: dict[str, Any], unique: Sequence[str]) -> tuple[Check, bool]:
        """Update the one check that matches ``fields`` on ``unique``, or create one.

        Return the check and whether it was created.
        """
        fields = dict(fields)
        channels = fields.pop("channels", _NOT_GIVEN)
        fields = _validate(fields)
        project = self.project()

        def run(conn: sqlite3.Connection) -> tuple[Check, bool]:
            now = self._clock()
            channel_ids = self._resolve_channels(conn, project.id, channels)
            template = _apply_fields(self._new_check(project.id, "", now), fields)
            if unique:
                matches = [
                    check
                    for check in checks_db.list_checks(conn, project.id)
                    if all(getattr(check, name) == getattr(template, name) for name in unique)
                ]
                if len(matches) > 1:
                    raise Duplicate(f"{len(matches)} checks match on {', '.join(unique)}")
                if matches:
                    updated = _apply_fields(matches[0], fields)
                    checks_db.update_check(conn, updated)
                    if channel_ids is not None:
                        channels_db.set_check_channels(conn, updated.id, channel_ids)
                    return updated, False
            if checks_db.count_checks(conn, project.id) >= self._max_checks:
                raise Forbidden(f"the project has reached its limit of {self._max_checks} checks")
            created = checks_db.insert_check(conn, template)
            channels_db.set_check_channels(conn, created.id, channel_ids or [])
            return created, True

        return self._store.write(run)

    def update_check(self, check_id: int, fields: dict[str, Any]) -> Check:
        """Change the given fields of a check and return it."""
        fields = dict(fields)
        channels = fields.pop("channels", _NOT_GIVEN)
        fields = _validate(fields)

        def change(conn: sqlite3.Connection, check: Check, now: datetime) -> Check:
            channel_ids = self._resolve_channels(conn, check.project_id, channels)
            if channel_ids is not None:
                channels_db.set_check_channels(conn, check.id, channel_ids)
            return _apply_fields(check, fields)

        return self._change_check(check_id, change)

    def _resolve_channels(
        self, conn: sqlite3.Connection, project_id: int, channels: object
    ) -> list[int] | None:
        """Turn the ``channels`` input ("*" or a list of ids) into channel ids."""
        if channels is _NOT_GIVEN:
            return None
        known = [channel.id for channel in channels_db.list_channels(conn, project_id)]
        if channels == "*":
            return known
        if not isinstance(channels, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in channels
        ):
            raise InvalidInput({"channels": 'must be "*" or a list of channel ids'})
        unknown = sorted(set(channels) - set(known))
        if unknown:
            raise InvalidInput({"channels": f"no channel with id {unknown[0]}"})
        return sorted(set(channels))

    def channel_ids_by_check(self) -> dict[int, list[int]]:
        """Return, for every check with channels, the ids of the channels it alerts."""
        project = self.project()
        return self._store.read(lambda conn: channels_db.get_channel_ids_by_check(conn, project.id))

    def _new_check(self, project_id: int, name: str, now: datetime) -> Check:
        return Check(
            id=0, project_id=project_id, uuid=str(uuidlib.uuid4()), name=name,
            slug=domain.slugify(name), created=now,
        )  # fmt: skip

    def list_checks(
        self, *, tags: Sequence[str] = (), slug: str | None = None, status: str | None = None
    ) -> list[Check]:
        """Return the project's checks that have all ``tags``, the slug and the status."""
        project = self.project()
        checks = self._store.read(lambda conn: checks_db.list_checks(conn, project.id))
        now = self._clock()
        return [
            check
            for check in checks
            if set(tags) <= set(check.tags.split())
            and (slug is None or check.slug == slug)
            and (status is None or domain.status_at(check, now) == status)
        ]

    def get_check(self, uuid: str) -> Check:
        """Return a check by its UUID, or raise CheckNotFound."""
        check = self._store.read(lambda conn: checks_db.get_check_by_uuid(conn, uuid.lower()))
        if check is None:
            raise CheckNotFound()
        return check

    def get_ping_body(self, check_id: int, n: int) -> bytes:
        """Return a kept ping's stored body, or raise NotFound if pruned or empty."""
        ping = self._store.read(lambda conn: pings_db.get_ping(conn, check_id, n))
        if ping is None or not ping.body:
            raise NotFound("no stored body for this ping")
        return ping.body

    def record_key_use(self, key_id: int) -> None:
        """Note that a key was used now; written in the background, never waited for."""
        now = self._clock()
        self._store.defer(
            ("key_used", key_id), lambda conn: projects_db.touch_api_key(conn, key_id, now)
        )

    def check_database(self) -> None:
        """Make one round trip to the database; raise if it does not answer."""
        self._store.read(database.ping_database)

    def find_check(self, ident: str) -> Check:
        """Return a check by UUID or by slug; raise if none or several match."""
        project = self.project()

        def run(conn: sqlite3.Connection) -> Check:
            check = checks_db.get_check_by_uuid(conn, ident.lower())
            if check is not None:
                return check
            matches = checks_db.get_checks_by_slug(conn, project.id, ident)
            if len(matches) > 1:
                raise AmbiguousSlug(f"more than one check has the slug {ident!r}; use its UUID")
            if not matches:
                raise CheckNotFound(f"no check has the UUID or slug {ident!r}")
            return matches[0]

        return self._store.read(run)

    def _change_check(
        self, check_id: int, change: Callable[[sqlite3.Connection, Check, datetime], Check]
    ) -> Check:
        def run(conn: sqlite3.Connection) -> Check:
            check = checks_db.get_check_by_id(conn, check_id)
            if check is None:
                raise CheckNotFound()
            now = self._clock()
            updated = change(conn, check, now)
            if updated.status != check.status:
                flips_db.insert_flip(conn, Flip(check.id, now, check.status, updated.status, ""))
            checks_db.update_check(conn, updated)
            return updated

        return self._store.write(run)

    def pause_check(self, check_id: int) -> Check:
        """Pause a check (idempotent): no alerts until it is pinged or resumed."""
        return self._change_check(
            check_id,
            lambda conn, check, now: dataclasses.replace(
                check, status="paused", last_start=None, last_start_rid=None, alert_after=None
            ),
        )

    def resume_check(self, check_id: int) -> Check:
        """Resume a paused check: it becomes new and waits for its next ping."""

        def change(conn: sqlite3.Connection, check: Check, now: datetime) -> Check:
            if check.status != "paused":
                raise CheckNotPaused()
            return dataclasses.replace(
                check, status="new", last_ping=None, last_start=None, last_start_rid=None,
                alert_after=None,
            )  # fmt: skip

        return self._change_check(check_id, change)

    def delete_check(self, check_id: int) -> Check:
        """Delete a check with its history and return what it was."""

        def run(conn: sqlite3.Connection) -> Check:
            check = checks_db.get_check_by_id(conn, check_id)
            if check is None:
                raise CheckNotFound()
            checks_db.delete_check(conn, check_id)
            return check

        return self._store.write(run)

    def list_pings(self, check_id: int) -> list[Ping]:
        """Return a check's kept pings, newest first."""
        return self._store.read(
            lambda conn: pings_db.list_pings(conn, check_id, self._ping_log_limit)
        )

    def list_flips(self, check_id: int) -> list[Flip]:
        """Return a check's status changes, newest first."""
        return self._store.read(lambda conn: flips_db.list_flips(conn, check_id))

    # -- pings ---------------------------------------------------------------

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
        if any(domain.notifies(flip) for flip in result.flips):
            self.alerts_queued.set()

    def _queue_alerts(
        self,
        conn: sqlite3.Connection,
        check: Check,
        flips: Sequence[Flip],
        last_ping: Ping | None,
        now: datetime,
    ) -> None:
        """Queue one delivery per attached channel for every flip that notifies."""
        channel_ids: list[int] | None = None
        for flip in flips:
            if not domain.notifies(flip):
                continue
            if channel_ids is None:
                channel_ids = channels_db.get_check_channel_ids(conn, check.id)
            event = domain.alert_event(check, flip, last_ping)
            for channel_id in channel_ids:
                deliveries_db.insert_delivery(conn, channel_id, event, now)

    # -- alerts --------------------------------------------------------------

    def sweep_overdue(self) -> int:
        """Turn every check whose deadline passed down, exactly once; return how many."""

        def run(conn: sqlite3.Connection) -> int:
            now = self._clock()
            flipped = 0
            for check in checks_db.list_overdue_checks(conn, now):
                flip = domain.overdue_flip(check, now)
                if flip is None:
                    continue
                down = dataclasses.replace(check, status="down", alert_after=None)
                checks_db.update_check(conn, down)
                flips_db.insert_flip(conn, flip)
                last = pings_db.list_pings(conn, check.id, 1)
                self._queue_alerts(conn, down, [flip], last[0] if last else None, now)
                flipped += 1
            return flipped

        flipped = self._store.write(run)
        if flipped:
            self.alerts_queued.set()
        return flipped

    def prune_history(self) -> int:
        """Forget flips older than 90 days and finished deliveries older than 30."""
        now = self._clock()
        return self._store.write(
            lambda conn: database.prune_history(
                conn,
                now - timedelta(days=domain.FLIP_HISTORY_DAYS),
                now - timedelta(days=domain.DELIVERY_HISTORY_DAYS),
            )
        )

    def due_deliveries(self, limit: int = 100) -> list[Delivery]:
        """Return the pending deliveries whose next attempt is due."""
        now = self._clock()
        return self._store.read(lambda conn: deliveries_db.list_due_deliveries(conn, now, limit))

    def deliver(self, delivery: Delivery) -> DeliveryOutcome:
        """Attempt one delivery now, record the outcome and schedule any retry.

        Should the outcome not be written (a full disk, say), the write is
        raised and the outcome kept: the next call for the same attempt
        writes it without sending again, so an outage of the disk does not
        turn into one duplicate alert per retry.
        """
        key = (delivery.id, delivery.attempts)
        with self._unwritten_lock:
            outcome = self._unwritten.pop(key, None)
        if outcome is None:
            # Read afresh: the list the caller took it from may be older than
            # the commit of an attempt that has just ended (a second send).
            current, channel = self._store.read(
                lambda conn: (
                    deliveries_db.get_delivery(conn, delivery.id),
                    channels_db.get_channel(conn, delivery.channel_id),
                )
            )
            if current is None or channel is None:  # Deleted meanwhile, with its channel.
                return DeliveryOutcome(False, "channel deleted", 0, recorded=False)
            if (current.state, current.attempts) != ("pending", delivery.attempts):
                return DeliveryOutcome(False, "attempted already", 0, False, attempted=False)
            outcome = self._send(channel, delivery.event)
        try:
            recorded = self._store.write(lambda conn: self._record_attempt(conn, delivery, outcome))
        except Exception:
            with self._unwritten_lock:
                self._unwritten[key] = outcome
            raise
        if not recorded:
            # The delivery was deleted (with its channel) or changed while
            # this attempt was in flight: its outcome belongs to nothing now.
            return dataclasses.replace(outcome, recorded=False)
        return outcome

    def _record_attempt(
        self, conn: sqlite3.Connection, delivery: Delivery, outcome: DeliveryOutcome
    ) -> bool:
        """Write an attempt's outcome onto its delivery, with the retry it calls for."""
        now = self._clock()
        attempts = delivery.attempts + 1
        if outcome.ok:
            state, next_attempt = "sent", None
        elif attempts >= domain.DELIVERY_MAX_ATTEMPTS:
            state, next_attempt = "failed", None
        else:
            state, next_attempt = "pending", now + domain.retry_delay(attempts)
        return deliveries_db.record_delivery_attempt(
            conn, delivery, ok=outcome.ok, error=outcome.error,
            duration_ms=outcome.duration_ms, now=now, state=state, next_attempt=next_attempt,
        )  # fmt: skip

    def _send(self, channel: Channel, event: dict[str, Any]) -> DeliveryOutcome:
        if self._notifier is None:
            return DeliveryOutcome(False, "notifications are not set up in this process", 0)
        started = time.perf_counter()
        try:
            self._notifier.send(channel, event)
        except Exception as ex:  # Any failure of a channel is an outcome, not a crash.
            error = str(ex) or type(ex).__name__
            return DeliveryOutcome(False, error[:500], _ms_since(started))
        return DeliveryOutcome(True, "", _ms_since(started))

    # -- channels ------------------------------------------------------------

    def _require_notifier(self) -> Notifier:
        if self._notifier is None:
            raise PingdError("notifications are not set up in this process")
        return self._notifier

    def create_channel(
        self, kind: str, name: str, settings: dict[str, Any], *, attach_all: bool = False
    ) -> Channel:
        """Create a notification channel; optionally make every check alert it."""
        if kind not in domain.CHANNEL_KINDS:
            raise InvalidInput({"kind": f"must be one of {', '.join(domain.CHANNEL_KINDS)}"})
        if len(name) > domain.MAX_NAME_LENGTH:
            raise InvalidInput({"name": f"is too long (maximum {domain.MAX_NAME_LENGTH})"})
        cleaned = self._require_notifier().validate(kind, settings)
        project = self.project()

        def run(conn: sqlite3.Connection) -> Channel:
            channel = channels_db.insert_channel(
                conn, project.id, kind, name or kind, cleaned, self._clock()
            )
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
        self, channel_id: int, *, name: str | None = None, settings: dict[str, Any] | None = None
    ) -> Channel:
        """Rename a channel and/or change the given settings (others are kept)."""
        if name is not None and len(name) > domain.MAX_NAME_LENGTH:
            raise InvalidInput({"name": f"is too long (maximum {domain.MAX_NAME_LENGTH})"})
        current = self.get_channel(channel_id)
        merged = current.settings if settings is None else {**current.settings, **settings}
        cleaned = self._require_notifier().validate(current.kind, merged)

        def run(conn: sqlite3.Connection) -> Channel:
            if channels_db.get_channel(conn, channel_id) is None:
                raise ChannelNotFound()
            updated = dataclasses.replace(
                current, name=current.name if name is None else name, settings=cleaned
            )
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

    def channel_deliveries(
        self, channel_id: int, limit: int = 10
    ) -> list[tuple[Delivery, list[dict[str, Any]]]]:
        """Return a channel's newest deliveries, each with its attempts."""

        def run(conn: sqlite3.Connection) -> list[tuple[Delivery, list[dict[str, Any]]]]:
            deliveries = deliveries_db.list_channel_deliveries(conn, channel_id, limit)
            return [(d, deliveries_db.list_delivery_attempts(conn, d.id)) for d in deliveries]

        return self._store.read(run)

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
        new = self._new_check(project.id, request.slug, self._clock())
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
        kind = domain.decide_kind(
            check, request.action, request.exit_status, request.method, request.body
        )
        ping = Ping(
            check_id=check.id, n=check.n_pings + 1, created=now, kind=kind,
            exit_status=request.exit_status, rid=request.rid, scheme=request.scheme,
            method=request.method, remote_addr=request.remote_addr,
            ua=request.ua[: domain.MAX_UA_LENGTH], body=request.body, body_size=request.body_size,
        )  # fmt: skip
        outcome = domain.apply_ping(check, ping, now)
        checks_db.update_check_state(conn, outcome.check)
        pings_db.store_ping(conn, ping, self._ping_log_limit)
        if ping.n > self._ping_log_limit:
            # In the same transaction, so the log never holds more than the
            # limit. Usually there is nothing left to delete: the new ping
            # took the oldest one's row.
            pings_db.trim_pings(conn, check.id, ping.n - self._ping_log_limit)
        for flip in outcome.flips:
            flips_db.insert_flip(conn, flip)
        self._queue_alerts(conn, outcome.check, outcome.flips, ping, now)
        return PingResult(created, outcome.check, ping, outcome.flips)


def _validate(fields: dict[str, Any]) -> dict[str, Any]:
    """Return the fields normalised, or raise InvalidInput naming every problem."""
    fields = domain.normalize_check_input(fields)
    problems = domain.validate_check_input(fields)
    if problems:
        raise InvalidInput(problems)
    return fields


def _apply_fields(check: Check, fields: dict[str, Any]) -> Check:
    """Return the check with validated fields applied and derived fields recomputed."""
    updated = dataclasses.replace(check, **fields)
    if "name" in fields:
        updated = dataclasses.replace(updated, slug=domain.slugify(fields["name"]))
    if "timeout" in fields:
        # Setting a period makes the check a simple one again.
        updated = dataclasses.replace(updated, schedule="")
    return dataclasses.replace(updated, alert_after=domain.down_after(updated))


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

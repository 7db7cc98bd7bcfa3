"""The pure core: slugs, durations, status, deadlines and ping decisions, with an explicit now.

Nothing here touches a database or a clock; every instant is written out.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from pingd.domain.checks import Check
from pingd.domain.checks import Flip
from pingd.domain.checks import Ping
from pingd.domain.checks import apply_ping
from pingd.domain.checks import decide_kind
from pingd.domain.checks import down_after
from pingd.domain.checks import next_expected_ping
from pingd.domain.checks import slugify
from pingd.domain.checks import status_at
from pingd.domain.fields import format_duration
from pingd.domain.fields import parse_duration

T0 = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)  # a Monday
US = timedelta(microseconds=1)
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)


def make_check(**fields: Any) -> Check:
    base: dict[str, Any] = {
        "id": 7,
        "project_id": 1,
        "uuid": "6b2b4d3c-3c1e-4c8a-9d55-1f2e3d4c5b6a",
        "name": "Backup",
        "slug": "backup",
        "created": T0 - timedelta(days=30),
    }
    base.update(fields)
    return Check(**base)


def make_ping(kind: str, *, n: int = 1, rid: str | None = None, at: datetime = T0) -> Ping:
    return Ping(
        check_id=7, n=n, created=at, kind=kind, exit_status=None, rid=rid, scheme="http",
        method="GET", remote_addr="127.0.0.1", ua="curl/8", body=b"", body_size=0,
    )  # fmt: skip


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# -- slugify -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Database Backup", "database-backup"),
        ("backup", "backup"),
        ("Crème Brûlée", "creme-brulee"),
        ("Ünïcödé", "unicode"),
        ("ﬁle sync", "file-sync"),  # the "fi" ligature decomposes under NFKD
        ("Ａｂｃ", "abc"),  # fullwidth letters decompose under NFKD
        ("½ price", "12-price"),
        ("Straße", "strae"),  # ß has no ASCII decomposition: dropped, as in Django
        ("日本語", ""),
        ("Hello, World!", "hello-world"),
        ("C++ & C#", "c-c"),
        ("v1.2.3 (nightly)", "v123-nightly"),
        ("one_two", "one_two"),
        ("  --Leading and trailing--  ", "leading-and-trailing"),
        ("__init__", "init"),
        ("-_-x-_-", "x"),
        ("_a_b_", "a_b"),
        ("a   b", "a-b"),
        ("a - b", "a-b"),
        ("a---b", "a-b"),
        ("a \t\n b", "a-b"),
        ("a - - b", "a-b"),
    ],
)
def test_it_slugifies_names_like_django(name: str, slug: str) -> None:
    assert slugify(name) == slug


# -- durations -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 604800),
        ("3600", 3600),
        ("60", 60),
        ("0", 0),
        ("10d", 864000),
    ],
)
def test_it_parses_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["", " ", "s", "abc", "1.5h", "-5", "+5", "5x", "1h30m", "2h 30m", "1 hour", "1e3", "0x10"],
)
def test_it_rejects_bad_durations_with_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (1, "1s"), (90, "1m 30s"), (3600, "1h"), (5400, "1h 30m"), (86400, "1d"),
     (604800, "1w"), (694861, "1w 1d 1h 1m 1s")],
)  # fmt: skip
def test_it_formats_durations_as_space_separated_units(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@PROPERTY_SETTINGS
@given(st.integers(min_value=1, max_value=10 * 31536000))
def test_it_formats_durations_whose_parts_parse_back_to_the_same_seconds(seconds: int) -> None:
    # format_duration writes several units ("1h 30m") which parse_duration does
    # not accept as one string; each part does parse, and the parts add up.
    text = format_duration(seconds)
    parts = text.split(" ")
    assert sum(parse_duration(part) for part in parts) == seconds
    if len(parts) == 1:
        assert parse_duration(text) == seconds
    units = "wdhms"
    positions = [units.index(part[-1]) for part in parts]
    assert positions == sorted(set(positions))


# -- status of simple checks ---------------------------------------------------


def test_it_is_up_until_the_period_ends_then_grace_then_down_exactly_at_the_boundaries() -> None:
    check = make_check(status="up", last_ping=T0, timeout=3600, grace=900)
    assert status_at(check, T0) == "up"
    assert status_at(check, T0 + timedelta(seconds=3600) - US) == "up"
    assert status_at(check, T0 + timedelta(seconds=3600)) == "grace"
    assert status_at(check, T0 + timedelta(seconds=4500) - US) == "grace"
    assert status_at(check, T0 + timedelta(seconds=4500)) == "down"
    assert status_at(check, T0 + timedelta(days=400)) == "down"


@pytest.mark.parametrize("stored", ["new", "paused", "down"])
def test_it_reports_new_paused_and_down_as_stored(stored: str) -> None:
    check = make_check(status=stored, last_ping=T0 if stored != "new" else None)
    assert status_at(check, T0 + timedelta(seconds=1)) == stored
    assert status_at(check, T0 + timedelta(days=3650)) == stored


def test_it_reports_a_pending_start_as_started_until_grace_then_down() -> None:
    start = T0 + timedelta(minutes=10)
    check = make_check(status="up", last_ping=T0, timeout=86400, grace=900, last_start=start)
    assert status_at(check, start) == "started"
    assert status_at(check, start + timedelta(seconds=900) - US) == "started"
    assert status_at(check, start + timedelta(seconds=900)) == "down"


@pytest.mark.parametrize("stored", ["new", "down"])
def test_it_lets_a_pending_start_win_over_the_stored_status(stored: str) -> None:
    check = make_check(status=stored, last_start=T0, grace=600)
    assert status_at(check, T0 + timedelta(seconds=599)) == "started"
    assert status_at(check, T0 + timedelta(seconds=600)) == "down"


def test_it_reports_a_pending_start_older_than_grace_as_down_even_within_the_period() -> None:
    check = make_check(status="up", last_ping=T0, timeout=86400, grace=60, last_start=T0)
    assert status_at(check, T0 + timedelta(seconds=61)) == "down"


# -- cron checks ---------------------------------------------------------------


def test_it_expects_a_cron_check_at_the_next_match_in_its_time_zone() -> None:
    # 10:00 EST on Monday; the next 09:00 in New York is Tuesday 14:00 UTC.
    check = make_check(
        status="up", schedule="0 9 * * *", tz="America/New_York", last_ping=utc(2026, 1, 5, 15)
    )
    assert next_expected_ping(check) == utc(2026, 1, 6, 14)


def test_it_expects_the_next_cron_match_strictly_after_the_last_ping() -> None:
    check = make_check(status="up", schedule="0 9 * * *", tz="UTC", last_ping=utc(2026, 1, 5, 9))
    assert next_expected_ping(check) == utc(2026, 1, 6, 9)
    early = make_check(
        status="up", schedule="0 9 * * *", tz="UTC", last_ping=utc(2026, 1, 5, 8, 59, 59)
    )
    assert next_expected_ping(early) == utc(2026, 1, 5, 9)


def berlin_0230(last_ping: datetime, grace: int = 3600) -> Check:
    return make_check(
        status="up", schedule="30 2 * * *", tz="Europe/Berlin", last_ping=last_ping, grace=grace
    )


def test_it_expects_a_daily_0230_berlin_job_right_after_the_spring_forward_gap() -> None:
    # 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day,
    # and (as in Debian cron and Healthchecks) the job runs at 03:00 CEST.
    assert next_expected_ping(berlin_0230(utc(2026, 3, 28, 1, 30))) == utc(2026, 3, 29, 1, 0)
    # The day after, 02:30 CEST is 00:30 UTC.
    assert next_expected_ping(berlin_0230(utc(2026, 3, 29, 1, 0, 5))) == utc(2026, 3, 30, 0, 30)


def test_it_expects_a_daily_0230_berlin_job_once_on_the_fall_back_night() -> None:
    # 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens twice.
    # The job is due at the first one (00:30 UTC) and then not again that night.
    assert next_expected_ping(berlin_0230(utc(2026, 10, 24, 0, 30))) == utc(2026, 10, 25, 0, 30)
    after_first = berlin_0230(utc(2026, 10, 25, 0, 30, 5))
    assert next_expected_ping(after_first) == utc(2026, 10, 26, 1, 30)  # 02:30 CET


def test_it_expects_the_next_day_after_a_ping_in_the_repeated_hour_of_fall_back() -> None:
    # The 02:30 CEST run took 45 minutes and pinged at 02:15 CET (01:15 UTC), in
    # the repeated hour. The first match after that ping is 02:30 CET next day.
    last_ping = utc(2026, 10, 25, 1, 15)
    check = berlin_0230(last_ping)
    assert next_expected_ping(check) == utc(2026, 10, 26, 1, 30)
    assert status_at(check, last_ping + timedelta(minutes=20)) == "up"


def test_it_skips_weekends_for_a_weekday_cron_schedule() -> None:
    friday = utc(2026, 1, 9, 9, 0, 30)
    check = make_check(status="up", schedule="0 9 * * 1-5", tz="UTC", last_ping=friday, grace=3600)
    monday = utc(2026, 1, 12, 9)
    assert next_expected_ping(check) == monday
    assert status_at(check, utc(2026, 1, 10, 9, 30)) == "up"  # Saturday
    assert status_at(check, utc(2026, 1, 11, 23, 59)) == "up"  # Sunday
    assert status_at(check, monday - US) == "up"
    assert status_at(check, monday) == "grace"
    assert status_at(check, monday + timedelta(hours=1)) == "down"
    assert down_after(check) == monday + timedelta(hours=1)


# -- down_after ----------------------------------------------------------------


def test_it_goes_down_after_last_ping_plus_timeout_plus_grace() -> None:
    check = make_check(status="up", last_ping=T0, timeout=3600, grace=900)
    assert down_after(check) == T0 + timedelta(seconds=4500)


@pytest.mark.parametrize("stored", ["new", "paused", "down"])
def test_it_never_goes_down_by_itself_when_new_paused_or_down(stored: str) -> None:
    assert down_after(make_check(status=stored, last_ping=T0)) is None


def test_it_goes_down_after_a_pending_start_plus_grace() -> None:
    start = T0 + timedelta(hours=2)
    check = make_check(status="up", last_ping=T0, timeout=86400, grace=600, last_start=start)
    assert down_after(check) == start + timedelta(seconds=600)
    assert down_after(make_check(status="new", last_start=start, grace=600)) == start + timedelta(
        seconds=600
    )


def test_it_goes_down_after_the_next_cron_match_plus_grace() -> None:
    check = make_check(
        status="up", schedule="*/15 * * * *", tz="UTC", last_ping=utc(2026, 1, 5, 12, 7), grace=300
    )
    assert down_after(check) == utc(2026, 1, 5, 12, 20)


# -- decide_kind ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "exit_status", "kind"),
    [
        ("success", None, "success"),
        ("start", None, "start"),
        ("fail", None, "fail"),
        ("log", None, "log"),
        ("success", 0, "success"),
        ("success", 1, "fail"),
        ("success", 255, "fail"),
    ],
)
def test_it_decides_the_kind_from_the_url_and_exit_status(
    action: str, exit_status: int | None, kind: str
) -> None:
    assert decide_kind(make_check(status="up"), action, exit_status, "GET", b"") == kind


@pytest.mark.parametrize(("method", "kind"), [("POST", "success"), ("GET", "ign"),
                                              ("HEAD", "ign"), ("PUT", "ign")])  # fmt: skip
def test_it_ignores_pings_that_are_not_post_when_methods_is_post(method: str, kind: str) -> None:
    check = make_check(status="up", methods="POST")
    assert decide_kind(check, "success", None, method, b"") == kind
    assert decide_kind(make_check(status="up"), "success", None, method, b"") == "success"


def filtering(**fields: Any) -> Check:
    base: dict[str, Any] = {
        "status": "up",
        "filter_body": True,
        "failure_kw": "ERROR, FAIL",
        "success_kw": "OK,done",
        "start_kw": "starting",
    }
    base.update(fields)
    return make_check(**base)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"all done", "success"),
        (b"ERROR: done, but badly", "fail"),  # failure beats success
        (b"starting ... done", "success"),  # success beats start
        (b"starting the job", "start"),
        (b"FAIL", "fail"),  # keywords are trimmed around the commas
        (b"error: lower case", "ign"),  # keywords are case-sensitive
        (b"nothing to see", "ign"),
        (b"", "ign"),
        (b"\xff\xfe ERROR \xc3", "fail"),  # not UTF-8: decoded with replacement
    ],
)
def test_it_lets_the_body_decide_the_kind_with_failure_first(body: bytes, kind: str) -> None:
    assert decide_kind(filtering(), "success", None, "GET", body) == kind


def test_it_makes_an_unmatched_body_a_failure_with_filter_default_fail() -> None:
    check = filtering(filter_default_fail=True)
    assert decide_kind(check, "success", None, "GET", b"nothing to see") == "fail"
    assert decide_kind(check, "success", None, "GET", b"all done") == "success"


def test_it_lets_the_body_decide_instead_of_the_url_and_exit_status() -> None:
    check = filtering()
    assert decide_kind(check, "fail", None, "GET", b"all done") == "success"
    assert decide_kind(check, "success", 3, "GET", b"all done") == "success"
    assert decide_kind(check, "start", None, "GET", b"ERROR") == "fail"
    assert decide_kind(check, "fail", None, "GET", b"nothing") == "ign"


def test_it_does_not_treat_an_empty_keyword_as_matching_every_body() -> None:
    check = filtering(failure_kw="ERROR,", success_kw="", start_kw=" , ")
    assert decide_kind(check, "success", None, "GET", b"fine") == "ign"


def test_it_ignores_non_post_pings_even_when_the_body_would_match() -> None:
    check = filtering(methods="POST")
    assert decide_kind(check, "success", None, "GET", b"ERROR") == "ign"
    assert decide_kind(check, "success", None, "POST", b"ERROR") == "fail"


@pytest.mark.parametrize("action", ["success", "start", "fail", "log"])
def test_it_ignores_every_ping_to_a_paused_check_with_manual_resume(action: str) -> None:
    check = make_check(status="paused", manual_resume=True)
    assert decide_kind(check, action, None, "GET", b"") == "ign"
    assert decide_kind(check, "success", 1, "POST", b"") == "ign"
    unpaused = make_check(status="paused", manual_resume=False)
    assert decide_kind(unpaused, action, None, "GET", b"") == action


# -- apply_ping ----------------------------------------------------------------


def test_it_brings_a_new_check_up_with_a_flip_and_a_deadline() -> None:
    check = make_check(status="new", timeout=3600, grace=900)
    now = T0 + timedelta(seconds=5)
    outcome = apply_ping(check, make_ping("success", at=now), now)
    assert outcome.check.status == "up"
    assert outcome.check.last_ping == now
    assert outcome.check.n_pings == 1
    assert outcome.check.alert_after == now + timedelta(seconds=4500)
    assert outcome.flips == (Flip(7, now, "new", "up", ""),)


def test_it_takes_an_up_check_down_on_a_fail_ping_with_reason_fail() -> None:
    check = make_check(status="up", last_ping=T0, n_pings=4, alert_after=T0 + timedelta(days=1))
    now = T0 + timedelta(minutes=5)
    outcome = apply_ping(check, make_ping("fail", n=5, at=now), now)
    assert outcome.check.status == "down"
    assert outcome.check.last_ping == now
    assert outcome.check.alert_after is None
    assert outcome.flips == (Flip(7, now, "up", "down", "fail"),)


def test_it_brings_a_down_check_back_up_on_success() -> None:
    check = make_check(status="down", last_ping=T0)
    now = T0 + timedelta(hours=3)
    outcome = apply_ping(check, make_ping("success", n=2, at=now), now)
    assert outcome.check.status == "up"
    assert outcome.flips == (Flip(7, now, "down", "up", ""),)


def test_it_records_no_flip_when_the_status_does_not_change() -> None:
    check = make_check(status="up", last_ping=T0, timeout=3600, alert_after=T0 + timedelta(hours=2))
    now = T0 + timedelta(minutes=30)
    outcome = apply_ping(check, make_ping("success", n=2, at=now), now)
    assert outcome.flips == ()
    assert outcome.check.last_ping == now
    assert outcome.check.alert_after == now + timedelta(seconds=3600 + 3600)


def test_it_brings_a_paused_check_up_with_a_flip_from_paused() -> None:
    check = make_check(status="paused", last_ping=T0)
    now = T0 + timedelta(days=2)
    outcome = apply_ping(check, make_ping("success", n=2, at=now), now)
    assert outcome.check.status == "up"
    assert outcome.flips == (Flip(7, now, "paused", "up", ""),)


def test_it_records_a_start_without_touching_last_ping_or_status() -> None:
    check = make_check(status="up", last_ping=T0, grace=600, alert_after=T0 + timedelta(days=1))
    now = T0 + timedelta(hours=1)
    outcome = apply_ping(check, make_ping("start", n=2, rid="r1", at=now), now)
    assert outcome.check.status == "up"
    assert outcome.check.last_ping == T0
    assert outcome.check.last_start == now
    assert outcome.check.last_start_rid == "r1"
    assert outcome.check.alert_after == now + timedelta(seconds=600)
    assert outcome.flips == ()


@pytest.mark.parametrize("kind", ["log", "ign"])
def test_it_changes_no_state_for_log_and_ignored_pings(kind: str) -> None:
    deadline = T0 + timedelta(days=1, hours=1)
    check = make_check(status="up", last_ping=T0, n_pings=3, alert_after=deadline)
    now = T0 + timedelta(minutes=1)
    outcome = apply_ping(check, make_ping(kind, n=4, at=now), now)
    assert outcome.check == make_check(status="up", last_ping=T0, n_pings=4, alert_after=deadline)
    assert outcome.flips == ()


def test_it_records_a_missed_deadline_before_the_late_ping_that_ends_it() -> None:
    deadline = T0 + timedelta(seconds=3600 + 900)
    check = make_check(status="up", last_ping=T0, timeout=3600, grace=900, alert_after=deadline)
    now = deadline + timedelta(minutes=10)
    outcome = apply_ping(check, make_ping("success", n=2, at=now), now)
    assert outcome.flips == (
        Flip(7, deadline, "up", "down", "timeout"),
        Flip(7, now, "down", "up", ""),
    )
    assert outcome.check.status == "up"


@pytest.mark.parametrize(
    ("start_rid", "kind", "rid", "duration", "start_kept"),
    [
        ("r1", "success", "r1", 30.0, False),
        (None, "success", None, 30.0, False),
        ("r1", "fail", "r1", 30.0, False),
        ("r1", "success", "r2", None, True),  # another run is still in flight
        ("r1", "fail", "r2", None, False),
        ("r1", "success", None, None, False),
    ],
)
def test_it_pairs_a_start_with_the_success_or_fail_of_the_same_run(
    start_rid: str | None, kind: str, rid: str | None, duration: float | None, start_kept: bool
) -> None:
    check = make_check(status="up", last_ping=T0, last_start=T0, last_start_rid=start_rid)
    now = T0 + timedelta(seconds=30)
    outcome = apply_ping(check, make_ping(kind, n=2, rid=rid, at=now), now)
    assert outcome.check.last_duration == duration
    assert (outcome.check.last_start is not None) is start_kept
    assert outcome.check.last_start_rid == (start_rid if start_kept else None)


# -- properties ----------------------------------------------------------------

RANK = {"up": 0, "started": 0, "grace": 1, "down": 2}
CRON_EXPRESSIONS = ["*/15 * * * *", "30 2 * * *", "0 9 * * 1-5", "0 0 1 * *", "0 */6 * * *"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2034, 12, 31), timezones=st.just(UTC)
)
periods = st.integers(min_value=60, max_value=31536000)


@st.composite
def checks(draw: st.DrawFn) -> Check:
    """An up check, simple or cron, sometimes with a pending start."""
    last_ping = draw(instants)
    fields: dict[str, Any] = {"status": "up", "last_ping": last_ping, "grace": draw(periods)}
    if draw(st.booleans()):
        fields["schedule"] = draw(st.sampled_from(CRON_EXPRESSIONS))
        fields["tz"] = draw(st.sampled_from(ZONES))
    else:
        fields["timeout"] = draw(periods)
    if draw(st.integers(0, 3)) == 0:
        seconds = draw(st.integers(min_value=0, max_value=86400 * 30))
        fields["last_start"] = last_ping + timedelta(seconds=seconds)
    return make_check(**fields)


@PROPERTY_SETTINGS
@given(checks(), st.lists(st.integers(0, 2 * 31536000 + 86400 * 40), min_size=2, max_size=8))
def test_it_never_brings_a_check_back_up_or_out_of_grace_without_a_ping(
    check: Check, offsets: list[int]
) -> None:
    assert check.last_ping is not None
    deadline = down_after(check)
    assert deadline is not None
    moments = [check.last_ping + timedelta(seconds=s) for s in offsets]
    moments += [deadline - US, deadline, deadline + US]
    statuses = [status_at(check, now) for now in sorted(moments)]
    ranks = [RANK[status] for status in statuses]
    assert ranks == sorted(ranks), statuses


@PROPERTY_SETTINGS
@given(checks(), st.integers(min_value=0, max_value=3 * 31536000))
def test_it_is_down_from_down_after_onwards_and_not_before(check: Check, later: int) -> None:
    deadline = down_after(check)
    assert deadline is not None
    assert status_at(check, deadline) == "down"
    assert status_at(check, deadline + timedelta(seconds=later)) == "down"
    assert status_at(check, deadline - US) != "down"


@PROPERTY_SETTINGS
@given(
    last_ping=instants,
    schedule=st.sampled_from(CRON_EXPRESSIONS),
    tz=st.sampled_from(ZONES),
)
@example(last_ping=utc(2026, 10, 25, 1, 15), schedule="30 2 * * *", tz="Europe/Berlin")
def test_it_expects_a_cron_check_after_its_last_ping(
    last_ping: datetime, schedule: str, tz: str
) -> None:
    check = make_check(status="up", schedule=schedule, tz=tz, last_ping=last_ping)
    expected = next_expected_ping(check)
    assert expected is not None
    assert expected > last_ping
    assert status_at(check, last_ping) == "up"

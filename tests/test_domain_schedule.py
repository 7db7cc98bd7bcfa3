"""A schedule's next expected pings in its zone, with DST flagged (pure; exact 2026 dates).

Europe/Berlin: clocks go forward on 2026-03-29 at 02:00 CET (to 03:00 CEST)
and back on 2026-10-25 at 03:00 CEST (to 02:00 CET). America/New_York: forward
on 2026-03-08 at 02:00 EST, back on 2026-11-01 at 02:00 EDT.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest

from pingd.domain.checks import Check
from pingd.domain.checks import next_expected_ping
from pingd.domain.schedule import describe_schedule
from pingd.domain.schedule import expected_runs
from pingd.domain.schedule import spell_duration
from pingd.errors import InvalidInput

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def listed(schedule: str, tz: str, after: datetime, count: int = 5) -> list[tuple[str, str]]:
    """The runs as ``(local time with zone abbreviation and UTC, note)``, to compare exactly."""
    return [
        (f"{run.time:%Y-%m-%d %H:%M %Z} = {run.utc:%H:%M}Z", run.note)
        for run in expected_runs(schedule, tz, after, count)
    ]


def test_a_0230_berlin_job_runs_at_0300_on_the_night_0230_does_not_exist() -> None:
    assert listed("30 2 * * *", BERLIN, utc(2026, 3, 27, 12)) == [
        ("2026-03-28 02:30 CET = 01:30Z", ""),
        ("2026-03-29 03:00 CEST = 01:00Z", "02:30 does not exist this day (clocks go forward"
         " 1 hour), so it runs at 03:00 CEST instead"),
        ("2026-03-30 02:30 CEST = 00:30Z", ""),
        ("2026-03-31 02:30 CEST = 00:30Z", ""),
        ("2026-04-01 02:30 CEST = 00:30Z", ""),
    ]  # fmt: skip


def test_an_hourly_berlin_job_skips_the_hour_the_clocks_skip_and_says_so() -> None:
    assert listed("30 * * * *", BERLIN, utc(2026, 3, 28, 23), 4) == [
        ("2026-03-29 00:30 CET = 23:30Z", ""),
        ("2026-03-29 01:30 CET = 00:30Z", ""),
        ("2026-03-29 03:30 CEST = 01:30Z", "no run at 02:30 on 2026-03-29 before it: the clocks"
         " skip that time (they go forward 1 hour)"),
        ("2026-03-29 04:30 CEST = 02:30Z", ""),
    ]  # fmt: skip


def test_a_job_every_minute_counts_the_times_the_gap_swallows() -> None:
    runs = listed("* * * * *", BERLIN, utc(2026, 3, 29, 0, 58), 2)
    assert runs[1] == ("2026-03-29 03:00 CEST = 01:00Z", "no run at the 60 times from 02:00 to"
                       " 02:59 on 2026-03-29 before it: the clocks skip those times (they go"
                       " forward 1 hour)")  # fmt: skip


def test_a_0230_berlin_job_runs_once_in_the_repeated_hour_at_the_first_pass() -> None:
    assert listed("30 2 * * *", BERLIN, utc(2026, 10, 23, 12), 3) == [
        ("2026-10-24 02:30 CEST = 00:30Z", ""),
        ("2026-10-25 02:30 CEST = 00:30Z", "02:30 comes twice this day (clocks go back 1 hour):"
         " it runs once, at the first, 02:30 CEST (00:30 UTC)"),
        ("2026-10-26 02:30 CET = 01:30Z", "the first run after the clocks go back 1 hour: now"
         " CET (UTC+01:00), so 1 hour later in UTC"),
    ]  # fmt: skip


def test_an_hourly_berlin_job_runs_at_both_passes_of_the_repeated_hour() -> None:
    runs = listed("30 * * * *", BERLIN, utc(2026, 10, 24, 23), 4)
    assert runs[1:] == [
        ("2026-10-25 02:30 CEST = 00:30Z", "02:30 comes twice this day (clocks go back 1 hour):"
         " it runs at both; this is the first, 02:30 CEST (00:30 UTC)"),
        ("2026-10-25 02:30 CET = 01:30Z", "02:30 comes twice this day (clocks go back 1 hour):"
         " this is the second, 02:30 CET (01:30 UTC)"),
        ("2026-10-25 03:30 CET = 02:30Z", ""),
    ]  # fmt: skip


def test_the_fifth_run_still_says_whether_the_repeated_time_comes_again() -> None:
    # The first pass of 02:30 is the last one listed: the next, unlisted, decides.
    runs = listed("30 * * * *", BERLIN, utc(2026, 10, 24, 19, 45), 5)
    assert runs[-1][1].endswith("it runs at both; this is the first, 02:30 CEST (00:30 UTC)")


def test_from_inside_the_second_pass_a_daily_job_is_next_due_the_following_day() -> None:
    # 01:00 UTC is 02:00 CET, the second pass: this day's 02:30 ran at the first.
    assert listed("30 2 * * *", BERLIN, utc(2026, 10, 25, 1), 1) == [
        ("2026-10-26 02:30 CET = 01:30Z", "")
    ]


def test_a_0230_new_york_job_runs_at_0300_edt_when_clocks_spring_forward() -> None:
    assert listed("30 2 * * *", NEW_YORK, utc(2026, 3, 6, 12), 3) == [
        ("2026-03-07 02:30 EST = 07:30Z", ""),
        ("2026-03-08 03:00 EDT = 07:00Z", "02:30 does not exist this day (clocks go forward"
         " 1 hour), so it runs at 03:00 EDT instead"),
        ("2026-03-09 02:30 EDT = 06:30Z", ""),
    ]  # fmt: skip


def test_a_0130_new_york_job_runs_once_on_the_night_0130_comes_twice() -> None:
    assert listed("30 1 * * *", NEW_YORK, utc(2026, 10, 31, 12), 2) == [
        ("2026-11-01 01:30 EDT = 05:30Z", "01:30 comes twice this day (clocks go back 1 hour):"
         " it runs once, at the first, 01:30 EDT (05:30 UTC)"),
        ("2026-11-02 01:30 EST = 06:30Z", "the first run after the clocks go back 1 hour: now"
         " EST (UTC-05:00), so 1 hour later in UTC"),
    ]  # fmt: skip


def test_a_weekday_new_york_job_is_an_hour_earlier_in_utc_after_spring_forward() -> None:
    assert listed("0 9 * * 1-5", NEW_YORK, utc(2026, 3, 6, 12), 2) == [
        ("2026-03-06 09:00 EST = 14:00Z", ""),
        ("2026-03-09 09:00 EDT = 13:00Z", "the first run after the clocks go forward 1 hour:"
         " now EDT (UTC-04:00), so 1 hour earlier in UTC"),
    ]  # fmt: skip


def test_a_schedule_whose_whole_hour_is_skipped_says_on_which_day() -> None:
    runs = listed("*/20 2 * * *", BERLIN, utc(2026, 3, 28, 12), 1)
    assert runs == [("2026-03-30 02:00 CEST = 00:00Z", "no run at 02:00, 02:20, 02:40 on"
                     " 2026-03-29 before it: the clocks skip those times (they go forward"
                     " 1 hour)")]  # fmt: skip


def test_an_ordinary_week_has_no_notes_and_matches_when_a_ping_is_due() -> None:
    after = utc(2026, 6, 1, 12)
    runs = expected_runs("15 4 * * *", BERLIN, after)
    assert [run.note for run in runs] == [""] * 5
    check = Check(1, 1, "u", "n", "n", after, schedule="15 4 * * *", tz=BERLIN, last_ping=after)
    assert runs[0].utc == next_expected_ping(check)
    assert [run.utc.hour for run in runs] == [2] * 5


@pytest.mark.parametrize(
    ("schedule", "tz", "fields"),
    [("30 2 * *", BERLIN, {"schedule"}), ("61 2 * * *", BERLIN, {"schedule"}),
     ("30 2 * * *", "Mars/Olympus", {"tz"}), ("x", "nowhere", {"schedule", "tz"})],
)  # fmt: skip
def test_it_refuses_what_the_api_refuses_with_the_same_fields(
    schedule: str, tz: str, fields: set[str]
) -> None:
    with pytest.raises(InvalidInput) as raised:
        expected_runs(schedule, tz, utc(2026, 1, 1))
    assert set(raised.value.fields) == fields


def test_it_lists_at_most_fifty_and_no_fewer_than_none() -> None:
    assert len(expected_runs("* * * * *", "UTC", utc(2026, 1, 1), 500)) == 50
    assert expected_runs("* * * * *", "UTC", utc(2026, 1, 1), -3) == []


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(86400, "1 day"), (3600, "1 hour"), (90, "1 minute 30 seconds"), (0, "0 seconds"),
     (9000, "2 hours 30 minutes"), (1209600, "2 weeks")],
)  # fmt: skip
def test_it_spells_durations_in_words(seconds: int, words: str) -> None:
    assert spell_duration(seconds) == words


def test_it_describes_a_simple_and_a_cron_schedule_in_words() -> None:
    simple = Check(1, 1, "u", "n", "n", utc(2026, 1, 1), timeout=86400, grace=3600)
    assert describe_schedule(simple) == "every 1 day, grace 1 hour"
    cron = Check(1, 1, "u", "n", "n", utc(2026, 1, 1), schedule="30 2 * * *", tz=BERLIN, grace=900)
    assert describe_schedule(cron) == "30 2 * * * in Europe/Berlin, grace 15 minutes"

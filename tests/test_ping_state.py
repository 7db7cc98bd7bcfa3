"""What a ping does to its check (SPEC §1.5), driven through HTTP with the fake clock.

Pings go in through WebTest; the outcome is read back with the service's
``find_check``, ``list_pings`` and ``list_flips`` (or straight from the SQLite
file where the service would hide what matters, as for pruning).
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import webtest

from pingd.app import create_app
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import default_config
from pingd.domain.checks import Check
from pingd.service import Service

RID = "684e2e73-017e-465f-8149-d70b7c5aaa49"
OTHER_RID = "c5fce3f0-8d33-4c4a-a1b2-6f0e6f4c2d11"
PRUNE_WAIT_SECONDS = 5.0

FlipRow = tuple[datetime, str, str, str]


def ping(app: webtest.TestApp, check: Check, suffix: str = "", **kwargs: Any) -> None:
    """GET (or, with ``body``, POST) a ping by UUID and insist on 200 OK."""
    url = f"/ping/{check.uuid}{suffix}"
    body = kwargs.pop("body", None)
    res = app.get(url, **kwargs) if body is None else app.post(url, body, **kwargs)
    assert (res.status_int, res.text) == (200, "OK")


def flips(service: Service, check: Check) -> list[FlipRow]:
    """Return a check's flips, oldest first, as (time, old, new, reason)."""
    return [
        (flip.created, flip.old_status, flip.new_status, flip.reason)
        for flip in reversed(service.list_flips(check.id))
    ]


def kinds(service: Service, check: Check) -> list[str]:
    """Return the kinds of a check's pings, oldest first."""
    return [p.kind for p in reversed(service.list_pings(check.id))]


def without_count(check: Check) -> Check:
    """Return the check with its ping counter zeroed, to compare everything else."""
    return dataclasses.replace(check, n_pings=0)


# -- sequence numbers and timestamps ------------------------------------------------


def test_it_numbers_the_pings_of_each_check_from_one(
    app: webtest.TestApp, make_check: Any, service: Service
):
    first = make_check("first")
    second = make_check("second", methods="POST")

    ping(app, first)
    ping(app, second)
    ping(app, first, "/log")
    ping(app, second, "/fail")
    ping(app, first, "/start")
    ping(app, first, "/0/")

    assert [(p.n, p.kind) for p in service.list_pings(first.id)] == [
        (4, "success"), (3, "start"), (2, "log"), (1, "success"),
    ]  # fmt: skip
    assert [(p.n, p.kind) for p in service.list_pings(second.id)] == [(2, "ign"), (1, "ign")]
    assert service.find_check(first.uuid).n_pings == 4
    assert service.find_check(second.uuid).n_pings == 2


def test_it_does_not_number_rejected_requests(
    app: webtest.TestApp, make_check: Any, service: Service
):
    check = make_check()
    ping(app, check)
    app.get(f"/ping/{check.uuid}/256", status=400)
    app.get(f"/ping/{check.uuid}?rid=1", status=400)
    app.delete(f"/ping/{check.uuid}", status=405)

    ping(app, check, "/fail")

    assert [p.n for p in service.list_pings(check.id)] == [2, 1]


def test_it_dates_the_ping_the_last_ping_and_the_flip_with_one_now(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check()
    clock.advance(seconds=90.5)

    ping(app, check)

    stored = service.find_check(check.uuid)
    assert service.list_pings(check.id)[0].created == clock.now
    assert stored.last_ping == clock.now
    assert flips(service, check) == [(clock.now, "new", "up", "")]
    assert stored.alert_after == clock.now + timedelta(seconds=86400 + 3600)


# -- start, success, fail and run ids --------------------------------------------------


def test_it_sets_last_start_on_start_without_changing_last_ping_or_status(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check()
    ping(app, check)
    pinged_at = clock.now
    clock.advance(minutes=5)

    ping(app, check, f"/start?rid={RID}")

    stored = service.find_check(check.uuid)
    assert (stored.last_start, stored.last_start_rid) == (clock.now, RID)
    assert (stored.last_ping, stored.status) == (pinged_at, "up")
    assert flips(service, check) == [(pinged_at, "new", "up", "")]


def test_it_leaves_a_new_check_new_on_start(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check()

    ping(app, check, "/start")

    stored = service.find_check(check.uuid)
    assert (stored.status, stored.last_ping, stored.last_start) == ("new", None, clock.now)
    assert stored.last_start_rid is None
    assert flips(service, check) == []


def test_it_leaves_a_paused_check_paused_on_start(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check()
    service.pause_check(check.id)

    ping(app, check, "/start")

    stored = service.find_check(check.uuid)
    assert (stored.status, stored.last_ping, stored.last_start) == ("paused", None, clock.now)
    assert flips(service, check) == [(clock.now, "new", "paused", "")]


def test_it_measures_the_duration_of_a_run_without_rids(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check()
    ping(app, check, "/start")
    clock.advance(seconds=10)

    ping(app, check)

    stored = service.find_check(check.uuid)
    assert stored.last_duration == 10.0
    assert (stored.last_start, stored.last_start_rid) == (None, None)
    assert (stored.last_ping, stored.status) == (clock.now, "up")


@pytest.mark.parametrize(
    ("end", "status"), [("", "up"), ("/fail", "down"), ("/0", "up"), ("/5", "down")]
)
@pytest.mark.parametrize("start_rid", [RID, RID.upper()], ids=["same-case", "upper-case"])
def test_it_measures_the_duration_when_the_end_has_the_rid_of_the_start(
    app: webtest.TestApp, make_check: Any, service: Service, clock, end, status, start_rid
):
    check = make_check()
    ping(app, check, f"/start?rid={start_rid}")
    clock.advance(seconds=42)

    ping(app, check, f"{end}?rid={RID}")

    stored = service.find_check(check.uuid)
    assert stored.last_duration == 42.0
    assert (stored.last_start, stored.last_start_rid) == (None, None)
    assert (stored.last_ping, stored.status) == (clock.now, status)


def test_it_keeps_the_start_when_a_success_has_another_rid(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check()
    ping(app, check, f"/start?rid={RID}")
    started_at = clock.now
    clock.advance(seconds=5)

    ping(app, check, f"?rid={OTHER_RID}")

    stored = service.find_check(check.uuid)
    assert (stored.last_start, stored.last_start_rid) == (started_at, RID)
    assert stored.last_duration is None
    assert (stored.last_ping, stored.status) == (clock.now, "up")

    clock.advance(seconds=5)
    ping(app, check, f"?rid={RID}")

    stored = service.find_check(check.uuid)
    assert stored.last_duration == 10.0
    assert (stored.last_start, stored.last_start_rid) == (None, None)


def test_it_keeps_a_start_without_rid_when_a_success_has_a_rid(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check()
    ping(app, check, "/start")
    started_at = clock.now
    clock.advance(seconds=5)

    ping(app, check, f"?rid={RID}")

    stored = service.find_check(check.uuid)
    assert (stored.last_start, stored.last_start_rid, stored.last_duration) == (
        started_at, None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("end", "status"),
    [("", "up"), ("/0", "up"), (f"/fail?rid={OTHER_RID}", "down"), ("/fail", "down"),
     (f"/1?rid={OTHER_RID}", "down")],
)  # fmt: skip
def test_it_clears_the_start_on_a_fail_or_a_ping_without_rid(
    app: webtest.TestApp, make_check: Any, service: Service, clock, end, status
):
    check = make_check()
    ping(app, check, f"/start?rid={RID}")
    clock.advance(seconds=5)

    ping(app, check, end)

    stored = service.find_check(check.uuid)
    assert (stored.last_start, stored.last_start_rid, stored.last_duration) == (None, None, None)
    assert (stored.last_ping, stored.status) == (clock.now, status)


def test_it_keeps_the_last_duration_until_another_run_ends(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check()
    ping(app, check, "/start")
    clock.advance(seconds=3)
    ping(app, check)
    clock.advance(seconds=60)

    ping(app, check)

    assert service.find_check(check.uuid).last_duration == 3.0


# -- flips -------------------------------------------------------------------------------


def test_it_records_a_flip_for_every_change_of_status_with_its_reason(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check()
    expected: list[FlipRow] = []
    steps = [
        ("", ("new", "up", "")),
        ("", None),
        ("/fail", ("up", "down", "fail")),
        ("/fail", None),
        ("/7", None),
        ("/0", ("down", "up", "")),
        ("/0", None),
        ("/3", ("up", "down", "fail")),
        ("", ("down", "up", "")),
        ("/start", None),
        ("/log", None),
    ]
    for suffix, flip in steps:
        clock.advance(minutes=1)
        ping(app, check, suffix)
        if flip is not None:
            expected.append((clock.now, *flip))

    assert flips(service, check) == expected
    assert service.find_check(check.uuid).status == "up"


def test_it_records_a_fail_flip_from_new(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check()

    ping(app, check, "/fail")

    stored = service.find_check(check.uuid)
    assert (stored.status, stored.last_ping, stored.alert_after) == ("down", clock.now, None)
    assert flips(service, check) == [(clock.now, "new", "down", "fail")]


def test_it_stores_the_exit_status_and_fails_on_a_nonzero_one(
    app: webtest.TestApp, make_check: Any, service: Service
):
    check = make_check()

    ping(app, check, "/123")

    assert [(p.kind, p.exit_status) for p in service.list_pings(check.id)] == [("fail", 123)]
    assert service.find_check(check.uuid).status == "down"


# -- what decides the kind ------------------------------------------------------------


def test_it_ignores_pings_that_are_not_posts_when_the_check_wants_post(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check(methods="POST")
    before = service.find_check(check.uuid)

    ping(app, check)
    ping(app, check, "/fail")
    ping(app, check, "/start")
    ping(app, check, "/1")
    assert app.head(f"/ping/{check.uuid}").status_int == 200
    assert app.put(f"/ping/{check.uuid}/fail", b"x").status_int == 200

    assert kinds(service, check) == ["ign"] * 6
    assert [p.method for p in service.list_pings(check.id)][:2] == ["PUT", "HEAD"]
    assert without_count(service.find_check(check.uuid)) == without_count(before)
    assert flips(service, check) == []

    ping(app, check, body=b"")

    stored = service.find_check(check.uuid)
    assert (stored.status, stored.last_ping) == ("up", clock.now)
    assert kinds(service, check)[-1] == "success"


FILTER = {"filter_body": True, "failure_kw": "ERROR,FATAL", "success_kw": "SUCCESS,done",
          "start_kw": "STARTING"}  # fmt: skip


@pytest.mark.parametrize(
    ("suffix", "body", "kind"),
    [
        ("", b"ERROR after SUCCESS and STARTING", "fail"),
        ("", b"SUCCESS and STARTING", "success"),
        ("", b"STARTING", "start"),
        ("", b"all done", "success"),
        ("", b"FATAL", "fail"),
        ("", b"success, in lower case", "ign"),
        ("", b"nothing to see", "ign"),
        ("", b"", "ign"),
        ("/fail", b"SUCCESS", "success"),
        ("/start", b"ERROR", "fail"),
        ("", b"STARTING", "start"),
        ("/log", b"nothing", "ign"),
        ("", b"\xff\xfe SUCCESS \xe9", "success"),
        ("", b"\xff\xfeERR\xffOR", "ign"),
    ],
)
def test_it_lets_the_body_decide_the_kind_with_filter_body(
    app: webtest.TestApp, make_check: Any, service: Service, suffix, body, kind
):
    check = make_check(**FILTER)

    ping(app, check, suffix, body=body, content_type="text/plain")

    assert kinds(service, check) == [kind]


def test_it_lets_the_body_decide_over_an_exit_status(
    app: webtest.TestApp, make_check: Any, service: Service
):
    check = make_check(**FILTER)

    ping(app, check, "/1", body=b"done")

    assert [(p.kind, p.exit_status) for p in service.list_pings(check.id)] == [("success", 1)]
    assert service.find_check(check.uuid).status == "up"


def test_it_fails_a_body_that_matches_nothing_with_filter_default_fail(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check(**FILTER, filter_default_fail=True)

    ping(app, check, body=b"nothing to see")
    ping(app, check, body=b"done")

    assert kinds(service, check) == ["fail", "success"]
    assert flips(service, check) == [
        (clock.now, "new", "down", "fail"), (clock.now, "down", "up", ""),
    ]  # fmt: skip


def test_it_applies_a_filtered_kind_to_the_state(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check(**FILTER)
    ping(app, check, body=b"STARTING backup")
    clock.advance(seconds=30)

    ping(app, check, body=b"ERROR: disk full")

    stored = service.find_check(check.uuid)
    assert (stored.status, stored.last_ping, stored.last_duration) == ("down", clock.now, 30.0)
    assert flips(service, check) == [(clock.now, "new", "down", "fail")]


def test_it_ignores_a_get_to_a_post_only_check_whatever_its_body(
    app: webtest.TestApp, make_check: Any, service: Service
):
    check = make_check(**FILTER, methods="POST", filter_default_fail=True)

    res = app.request(f"/ping/{check.uuid}", method="GET", body=b"ERROR")

    assert (res.status_int, res.text) == (200, "OK")
    assert kinds(service, check) == ["ign"]
    assert service.find_check(check.uuid).status == "new"


def test_it_ignores_every_ping_to_a_paused_check_with_manual_resume(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check(manual_resume=True)
    ping(app, check)
    first = clock.now
    clock.advance(minutes=1)
    service.pause_check(check.id)
    paused = service.find_check(check.uuid)
    clock.advance(minutes=1)

    for suffix in ("", "/fail", "/start", "/log", "/0", "/1", f"?rid={RID}"):
        ping(app, check, suffix)
    ping(app, check, "/fail", body=b"posted")

    assert kinds(service, check) == ["success"] + ["ign"] * 8
    assert without_count(service.find_check(check.uuid)) == without_count(paused)
    assert flips(service, check) == [
        (first, "new", "up", ""), (first + timedelta(minutes=1), "up", "paused", ""),
    ]  # fmt: skip


def test_it_ignores_a_filtered_body_of_a_paused_check_with_manual_resume(
    app: webtest.TestApp, make_check: Any, service: Service
):
    check = make_check(**FILTER, manual_resume=True)
    service.pause_check(check.id)

    ping(app, check, body=b"ERROR")

    assert kinds(service, check) == ["ign"]
    assert service.find_check(check.uuid).status == "paused"


@pytest.mark.parametrize(
    ("suffix", "status", "reason"), [("", "up", ""), ("/0", "up", ""), ("/fail", "down", "fail")]
)
def test_it_unpauses_a_paused_check_without_manual_resume(
    app: webtest.TestApp, make_check: Any, service: Service, clock, suffix, status, reason
):
    check = make_check()
    service.pause_check(check.id)
    paused_at = clock.now
    clock.advance(minutes=1)

    ping(app, check, suffix)

    stored = service.find_check(check.uuid)
    assert (stored.status, stored.last_ping) == (status, clock.now)
    assert flips(service, check) == [
        (paused_at, "new", "paused", ""), (clock.now, "paused", status, reason),
    ]  # fmt: skip


def test_it_leaves_a_paused_check_paused_on_log(
    app: webtest.TestApp, make_check: Any, service: Service
):
    check = make_check()
    paused = service.pause_check(check.id)

    ping(app, check, "/log", body=b"note")

    assert without_count(service.find_check(check.uuid)) == without_count(paused)
    assert kinds(service, check) == ["log"]


# -- log and ign change nothing --------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/log", "/log/"])
def test_it_changes_no_state_on_log(
    app: webtest.TestApp, make_check: Any, service: Service, clock, suffix
):
    check = make_check()
    ping(app, check, "/fail")
    clock.advance(minutes=1)
    ping(app, check)
    clock.advance(minutes=1)
    ping(app, check, f"/start?rid={RID}")
    before = service.find_check(check.uuid)
    flips_before = flips(service, check)
    clock.advance(minutes=1)

    ping(app, check, f"{suffix}?rid={OTHER_RID}", body=b"ERROR in the log")

    assert without_count(service.find_check(check.uuid)) == without_count(before)
    assert flips(service, check) == flips_before
    logged = service.list_pings(check.id)[0]
    assert (logged.kind, logged.body, logged.rid) == ("log", b"ERROR in the log", OTHER_RID)


def test_it_leaves_a_new_check_new_on_log(app: webtest.TestApp, make_check: Any, service: Service):
    check = make_check()
    before = service.find_check(check.uuid)

    ping(app, check, "/log", body=b"hello")

    stored = service.find_check(check.uuid)
    assert without_count(stored) == without_count(before)
    assert (stored.status, stored.last_ping, stored.alert_after) == ("new", None, None)
    assert flips(service, check) == []


def test_it_changes_no_state_on_an_ignored_ping(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check(methods="POST")
    ping(app, check, body=b"")
    clock.advance(minutes=1)
    ping(app, check, "/start", body=b"")
    before = service.find_check(check.uuid)
    clock.advance(minutes=1)

    ping(app, check, "/fail")

    assert without_count(service.find_check(check.uuid)) == without_count(before)
    assert kinds(service, check) == ["success", "start", "ign"]
    assert len(flips(service, check)) == 1


# -- deadlines that passed before the ping ----------------------------------------------


def test_it_records_a_missed_deadline_before_the_flip_of_a_late_success(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check(timeout=60, grace=60)
    ping(app, check)
    pinged_at = clock.now
    deadline = service.find_check(check.uuid).alert_after
    assert deadline == pinged_at + timedelta(seconds=120)
    clock.advance(seconds=121)

    ping(app, check)

    assert flips(service, check) == [
        (pinged_at, "new", "up", ""),
        (deadline, "up", "down", "timeout"),
        (clock.now, "down", "up", ""),
    ]
    stored = service.find_check(check.uuid)
    assert (stored.status, stored.alert_after) == ("up", clock.now + timedelta(seconds=120))


def test_it_records_a_missed_deadline_before_a_late_fail_without_a_second_flip(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check(timeout=60, grace=60)
    ping(app, check)
    pinged_at = clock.now
    clock.advance(hours=5)

    ping(app, check, "/fail")

    assert flips(service, check) == [
        (pinged_at, "new", "up", ""),
        (pinged_at + timedelta(seconds=120), "up", "down", "timeout"),
    ]
    assert service.find_check(check.uuid).status == "down"


def test_it_records_no_missed_deadline_for_a_ping_in_time(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check(timeout=60, grace=60)
    ping(app, check)
    first = clock.now
    clock.advance(seconds=119)

    ping(app, check)

    assert flips(service, check) == [(first, "new", "up", "")]


def test_it_records_a_start_that_overran_its_grace_as_a_missed_deadline(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check(timeout=3600, grace=60)
    ping(app, check, "/start")
    deadline = service.find_check(check.uuid).alert_after
    assert deadline == clock.now + timedelta(seconds=60)
    clock.advance(seconds=61)

    ping(app, check)

    assert flips(service, check) == [
        (deadline, "new", "down", "timeout"),
        (clock.now, "down", "up", ""),
    ]
    assert service.find_check(check.uuid).last_duration == 61.0


def test_it_records_one_missed_deadline_however_late_the_ping(
    app: webtest.TestApp, make_check: Any, service: Service, clock
):
    check = make_check(timeout=60, grace=60)
    ping(app, check)
    clock.advance(days=3)

    ping(app, check)
    clock.advance(seconds=30)
    ping(app, check)

    reasons = [flip[3] for flip in flips(service, check)]
    assert reasons == ["", "timeout", ""]


# -- pruning -------------------------------------------------------------------------


@pytest.fixture
def small_log(tmp_path: Path, clock: Any) -> Iterator[tuple[webtest.TestApp, Service, Path]]:
    """An app, its service and database file, keeping 3 pings per check."""
    path = tmp_path / "small.db"
    config = default_config(storage__path=str(path), storage__ping_log_limit=3)
    store = open_store(config)
    try:
        service = make_service(config, store, clock)
        service.bootstrap()
        yield webtest.TestApp(create_app(config, store=store, clock=clock)), service, path
    finally:
        store.close()


def stored_numbers(path: Path, check: Check) -> list[int]:
    """Read a check's ping numbers straight from the database file."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT n FROM pings WHERE check_id = ? ORDER BY n", (check.id,))
        return [row[0] for row in rows]


def wait_for_numbers(path: Path, check: Check, expected: list[int]) -> list[int]:
    """Poll the database until the check keeps ``expected``, for at most a few seconds."""
    deadline = time.monotonic() + PRUNE_WAIT_SECONDS
    numbers = stored_numbers(path, check)
    while numbers != expected and time.monotonic() < deadline:
        time.sleep(0.02)
        numbers = stored_numbers(path, check)
    return numbers


def test_it_prunes_a_check_to_the_ping_log_limit_and_keeps_numbering(small_log):
    app, service, path = small_log
    busy = service.create_check(name="busy")
    quiet = service.create_check(name="quiet")
    for suffix in ("/start", "", "/log", "/fail", ""):
        ping(app, busy, suffix)
    ping(app, quiet)
    ping(app, quiet, "/fail")

    assert wait_for_numbers(path, busy, [3, 4, 5]) == [3, 4, 5]
    assert stored_numbers(path, quiet) == [1, 2]
    assert [p.kind for p in service.list_pings(busy.id)] == ["success", "fail", "log"]

    ping(app, busy, "/log")

    assert service.list_pings(busy.id)[0].n == 6
    assert service.find_check(busy.uuid).n_pings == 6
    assert service.find_check(busy.uuid).status == "up"


def test_it_prunes_to_exactly_the_limit_and_leaves_a_check_at_the_limit_alone(small_log):
    app, service, path = small_log
    check = service.create_check(name="job")
    other = service.create_check(name="other")
    for _ in range(3):
        ping(app, check)
    for _ in range(4):
        ping(app, other)

    # Once the other check is pruned, any pruning due for this one has run too.
    assert wait_for_numbers(path, other, [2, 3, 4]) == [2, 3, 4]
    assert stored_numbers(path, check) == [1, 2, 3]

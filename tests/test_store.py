"""The single writer: group commit, staged ping writes and the writer's memory of checks."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pingd.app import make_service
from pingd.app import open_store
from pingd.config import default_config
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.store import checks as checks_queries
from pingd.store.times import from_db_time
from pingd.store.times import to_db_time
from pingd.writer.connection import padded_chunks
from pingd.writer.store import Store


def _request(**target: object) -> PingRequest:
    return PingRequest(
        action="success", method="GET", scheme="http", remote_addr="127.0.0.1", ua="t",
        body=b"", body_size=0, **target,  # type: ignore[arg-type]
    )  # fmt: skip


def _rows(path: str, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_it_numbers_every_ping_once_when_groups_mix_uuid_slug_and_create_pings(
    service: Service, store: Store, ping_key: str
) -> None:
    # Staged writes reach the table only at the end of a group, so within a
    # group every read must come from the writer's memory; creating a check by
    # slug clears the slug memory mid-group. Any stale read would reuse a
    # sequence number n and break UNIQUE (check_id, n) or skip one.
    shared = service.create_check(name="shared")
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for round_ in range(40):
                service.record_ping(_request(uuid=shared.uuid))
                service.record_ping(_request(ping_key=ping_key, slug="shared"))
                service.record_ping(
                    _request(ping_key=ping_key, slug=f"new-{index}-{round_ % 5}", create=True)
                )
        except BaseException as ex:  # noqa: BLE001 - reported below
            failures.append(ex)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    rows = _rows(
        store.path,
        "SELECT checks.slug, checks.n_pings, COUNT(pings.id), MIN(pings.n), MAX(pings.n)"
        " FROM checks JOIN pings ON pings.check_id = checks.id GROUP BY checks.id",
    )
    counts = {slug: (n_pings, count, low, high) for slug, n_pings, count, low, high in rows}
    # 640 pings, numbered 1…640 without a gap; the log keeps the newest 100.
    assert counts["shared"] == (640, 100, 541, 640)
    for index in range(8):
        for suffix in range(5):
            assert counts[f"new-{index}-{suffix}"] == (8, 8, 1, 8)


def test_it_sees_a_change_made_by_another_process_between_groups(
    service: Service, store: Store
) -> None:
    check = service.create_check(name="paused elsewhere")
    service.record_ping(_request(uuid=check.uuid))  # now remembered by the writer
    # Another process (say `pingd check pause` with manual resume) changes the
    # check without breaking any constraint, so only PRAGMA data_version tells.
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "UPDATE checks SET status = 'paused', manual_resume = 1 WHERE uuid = ?", (check.uuid,)
        )
    result = service.record_ping(_request(uuid=check.uuid))
    assert result.ping.kind == "ign"
    assert service.find_check(check.uuid).status == "paused"


def test_it_forgets_what_a_failed_group_wrote(service: Service, store: Store) -> None:
    check = service.create_check(name="rolled back")
    service.record_ping(_request(uuid=check.uuid))

    def fails_after_a_staged_write(conn: sqlite3.Connection) -> None:
        remembered = checks_queries.get_check_by_uuid(conn, check.uuid)
        assert remembered is not None
        checks_queries.update_check_state(
            conn, type(remembered)(**{**_fields(remembered), "n_pings": 99})
        )
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.write(fails_after_a_staged_write, hot=True)
    service.record_ping(_request(uuid=check.uuid))
    assert service.find_check(check.uuid).n_pings == 2
    assert _rows(store.path, "SELECT MAX(n) FROM pings") == [(2,)]


def _fields(check: object) -> dict[str, object]:
    return {name: getattr(check, name) for name in check.__slots__}  # type: ignore[attr-defined]


# -- a ping takes the row of the ping it pushes out of the log ---------------


@pytest.fixture
def reopen(tmp_path: Path, clock: object) -> Iterator[Callable[[int], tuple[Store, Service]]]:
    """Open one database file (again) with a given ping log limit."""
    opened: list[Store] = []

    def open_with(limit: int) -> tuple[Store, Service]:
        config = default_config(
            storage__path=str(tmp_path / "log.db"), storage__ping_log_limit=limit
        )
        store = open_store(config)
        opened.append(store)
        service = make_service(config, store, clock)  # type: ignore[arg-type]
        service.bootstrap()
        return store, service

    yield open_with
    for store in opened:
        store.close()


def _log(path: str, check_id: int) -> list[tuple[object, ...]]:
    return _rows(path, f"SELECT n, body FROM pings WHERE check_id = {check_id} ORDER BY n")


def _body_request(uuid: str, body: bytes) -> PingRequest:
    return PingRequest(
        action="success", method="POST", scheme="http", remote_addr="127.0.0.1", ua="t",
        body=body, body_size=len(body), uuid=uuid,
    )  # fmt: skip


def _ping_bodies(service: Service, uuid: str, numbers: Iterable[int]) -> None:
    """Ping a check once for each number, with the number as the body."""
    for n in numbers:
        service.record_ping(_body_request(uuid, b"%d" % n))


def _in_one_group(store: Store, service: Service, requests: list[PingRequest]) -> list[object]:
    """Record pings so that the writer commits them all in one group."""
    entered, release = threading.Event(), threading.Event()
    store.submit(lambda conn: (entered.set(), release.wait(10)), lambda result, error: None)
    assert entered.wait(10)  # The writer is inside the blocking job: the pings queue up.
    outcomes: list[object] = []
    finished = threading.Event()

    def then(result: object, error: BaseException | None) -> None:
        outcomes.append(error or result)
        if len(outcomes) == len(requests):
            finished.set()

    for request in requests:
        service.record_ping_later(request, then)  # type: ignore[arg-type]
    release.set()
    assert finished.wait(10)
    return outcomes


def test_a_group_holding_more_pings_of_a_check_than_its_log_keeps_the_newest(reopen) -> None:
    store, service = reopen(3)
    path = store.path
    busy = service.create_check(name="busy")
    fresh = service.create_check(name="fresh")
    for n in (1, 2, 3, 4):  # a full log, whose rows the group's pings take
        service.record_ping(_body_request(busy.uuid, b"old %d" % n))
    ids = _rows(path, f"SELECT id FROM pings WHERE check_id = {busy.id} ORDER BY id")
    requests = []
    for n in range(5, 13):
        requests.append(_body_request(busy.uuid, b"busy %d" % n))
        if n < 10:  # 5 pings of a check with an empty log: only the newest 3 are written
            requests.append(_body_request(fresh.uuid, b"fresh %d" % (n - 4)))
    outcomes = _in_one_group(store, service, requests)
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    assert _log(path, busy.id) == [(10, b"busy 10"), (11, b"busy 11"), (12, b"busy 12")]
    assert _log(path, fresh.id) == [(3, b"fresh 3"), (4, b"fresh 4"), (5, b"fresh 5")]
    # The busy check's pings were written over its old rows, not beside them.
    assert _rows(path, f"SELECT id FROM pings WHERE check_id = {busy.id} ORDER BY id") == ids
    assert service.find_check(busy.uuid).n_pings == 12
    assert [p.n for p in service.list_pings(busy.id)] == [12, 11, 10]


def test_a_raised_log_limit_grows_the_log_and_a_lowered_one_trims_it(reopen) -> None:
    store, service = reopen(3)
    path = store.path
    check = service.create_check(name="job")
    _ping_bodies(service, check.uuid, range(1, 6))
    store.close()
    assert [n for n, _ in _log(path, check.id)] == [3, 4, 5]
    third = _rows(path, "SELECT id FROM pings WHERE n = 3")

    store, service = reopen(5)
    # 6 and 7 find no row to take and are inserted; 8 takes 3's.
    _ping_bodies(service, check.uuid, range(6, 9))
    store.close()
    assert _log(path, check.id) == [(n, b"%d" % n) for n in range(4, 9)]
    assert _rows(path, "SELECT id FROM pings WHERE n = 8") == third

    store, service = reopen(2)
    _ping_bodies(service, check.uuid, [9])
    store.close()
    assert _log(path, check.id) == [(8, b"8"), (9, b"9")]
    assert _rows(path, "PRAGMA integrity_check") == [("ok",)]


def test_a_ping_whose_number_is_taken_fails_rather_than_being_lost(reopen) -> None:
    store, service = reopen(3)
    path = store.path
    check = service.create_check(name="job")
    _ping_bodies(service, check.uuid, range(1, 6))
    # Damage from outside: the check's count falls behind its log (3, 4, 5).
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE checks SET n_pings = 3 WHERE id = ?", (check.id,))
    with pytest.raises(sqlite3.IntegrityError):
        service.record_ping(_body_request(check.uuid, b"lost?"))
    outcomes = _in_one_group(store, service, [_body_request(check.uuid, b"lost?")])
    assert isinstance(outcomes[0], sqlite3.IntegrityError)
    assert _log(path, check.id) == [(3, b"3"), (4, b"4"), (5, b"5")]


def test_many_row_statements_come_in_a_few_sizes_padded_with_null_rows() -> None:
    rows = [(n, "x") for n in range(130)]
    chunks = list(padded_chunks(rows))
    assert [size for size, _ in chunks] == [64, 64, 2]
    assert list(padded_chunks(rows[:5])) == [
        (8, [0, "x", 1, "x", 2, "x", 3, "x", 4, "x", None, None, None, None, None, None])
    ]


@given(
    st.datetimes(
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-9, minutes=-30)), timezone(timedelta(hours=14))]
        )
    )
)
def test_stored_times_are_utc_isoformat_with_microseconds(value: datetime) -> None:
    text = to_db_time(value)
    assert text == value.astimezone(UTC).isoformat(timespec="microseconds")
    assert from_db_time(text) == value

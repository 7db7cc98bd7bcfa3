"""The single writer: group commit, staged ping writes and the writer's memory of checks."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from pingd import store as store_module
from pingd.service import PingRequest
from pingd.service import Service
from pingd.store import Store


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
        remembered = store_module.get_check_by_uuid(conn, check.uuid)
        assert remembered is not None
        store_module.update_check_state(
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

"""The management API's check endpoints (SPEC §3.2, fields of §2.1), through WebTest.

Real SQLite under the real service; only the clocks are fake. Apps are built with a
high rate limit so that the limiter (tested in test_api_auth.py) stays out of the way.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import webtest
from conftest import FakeClock

from pingd import __version__
from pingd.app import create_app
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import default_config
from pingd.service import Service
from pingd.store import channels as channels_queries
from pingd.writer.store import Store

HIGH_LIMIT = {"api__burst": 10000, "api__rate_per_second": 10000.0}
BASE_URL = "https://hc.example.org"
RID = "0b7c2a36-6a4e-4d9f-9a52-3f0e8d1c2b4a"
UNKNOWN_UUID = "6f1c1c52-0a4e-4b53-8f0e-2b2f9f3c5d11"
START_WITH_MICROS = datetime(2026, 1, 5, 12, 0, 0, 750000, tzinfo=UTC)
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")

CHECK_KEYS = {
    "uuid", "name", "slug", "tags", "desc", "status", "started", "grace", "n_pings",
    "last_ping", "next_ping", "last_duration", "manual_resume", "methods", "filter_body",
    "filter_default_fail", "success_kw", "failure_kw", "start_kw", "channels", "created",
    "ping_url", "slug_url", "last_success", "badge_url", "failure_threshold", "success_threshold",
    "fail_streak", "success_streak", "remind_every", "start_window", "quiet_until",
}  # fmt: skip
SIMPLE_KEYS = CHECK_KEYS | {"timeout"}
CRON_KEYS = CHECK_KEYS | {"schedule", "tz"}
PING_KEYS = {
    "n", "type", "date", "scheme", "remote_addr", "method", "ua", "rid", "exit_status",
    "body_size", "body_url", "repeat",
}  # fmt: skip


# -- fixtures and helpers -------------------------------------------------------


@pytest.fixture
def api(make_app: Any) -> webtest.TestApp:
    return make_app(server__base_url=BASE_URL, **HIGH_LIMIT)


@pytest.fixture
def headers(service: Service) -> dict[str, str]:
    return {"X-Api-Key": service.create_api_key("tests")}


def create(api: webtest.TestApp, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """Create a check through the API and return its JSON."""
    data: dict[str, Any] = api.post_json("/v1/checks", fields, headers=headers, status=201).json[
        "data"
    ]
    return data


def get_check(api: webtest.TestApp, headers: dict[str, str], check_uuid: str) -> dict[str, Any]:
    data: dict[str, Any] = api.get(f"/v1/checks/{check_uuid}", headers=headers).json["data"]
    return data


def names(response: webtest.TestResponse) -> list[str]:
    return sorted(check["name"] for check in response.json["data"])


def ping(
    api: webtest.TestApp,
    path: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    ua: str = "",
    addr: str = "192.0.2.1",
) -> None:
    """Send one ping through the same app and require 200 OK."""
    response = api.request(
        path,
        method=method,
        body=body,
        headers={"User-Agent": ua} if ua else {},
        environ={"REMOTE_ADDR": addr},
        expect_errors=True,
    )
    assert (response.status_int, response.text) == (200, "OK"), path


def invalid(response: webtest.TestResponse) -> dict[str, str]:
    """Assert a 422 INVALID_INPUT envelope and return its fields."""
    assert response.status_int == 422, response.text
    body = response.json
    assert body["errorCode"] == "INVALID_INPUT"
    assert isinstance(body["error"], str) and body["error"]
    fields = body["fields"]
    assert isinstance(fields, dict) and fields
    assert all(isinstance(v, str) and v for v in fields.values()), fields
    result: dict[str, str] = fields
    return result


def error_code(response: webtest.TestResponse) -> str:
    code: str = response.json["errorCode"]
    return code


# -- status and project -----------------------------------------------------------


def test_it_answers_status_ok_with_the_version_without_a_key(api: webtest.TestApp) -> None:
    response = api.get("/v1/status", status=200)

    assert response.content_type == "application/json"
    assert response.json["data"] == {"status": "ok", "version": __version__}
    assert set(response.json) == {"data", "requestId"}


def test_it_answers_500_on_status_when_the_database_does_not_answer(
    api: webtest.TestApp, store: Store
) -> None:
    api.get("/v1/status", status=200)
    store.close()

    response = api.get("/v1/status", expect_errors=True)

    assert response.status_int == 500
    assert error_code(response) == "INTERNAL_SERVER_ERROR"


def test_it_returns_the_project_with_urls_from_the_configured_base_url(
    api: webtest.TestApp, headers: dict[str, str], ping_key: str, service: Service
) -> None:
    response = api.get("/v1/project", headers={**headers, "Host": "evil.example.net"})

    project_uuid = service.project().uuid
    assert str(uuid.UUID(project_uuid)) == project_uuid
    assert response.json["data"] == {
        "name": "default",
        "ping_key": ping_key,
        "ping_url_base": f"{BASE_URL}/ping/",
        "uuid": project_uuid,
        "metrics_url_base": f"{BASE_URL}/projects/{project_uuid}/metrics/",
    }
    assert service.project().badge_key not in response.text  # the badge secret stays secret


# -- create -------------------------------------------------------------------------


def test_it_creates_a_simple_check_and_answers_201_with_the_full_check_json(
    api: webtest.TestApp, headers: dict[str, str], ping_key: str
) -> None:
    response = api.post_json(
        "/v1/checks",
        {"name": "Database Backup", "tags": "prod db", "desc": "nightly", "timeout": 3600,
         "grace": 120},
        headers={**headers, "Host": "evil.example.net"},
    )  # fmt: skip

    assert response.status_int == 201
    data = response.json["data"]
    check_uuid = data["uuid"]
    assert str(uuid.UUID(check_uuid)) == check_uuid
    # The badge reveals neither the check's UUID nor the project's secrets.
    badge_url = data.pop("badge_url")
    assert re.fullmatch(rf"{BASE_URL}/b/2/[0-9a-f-]{{36}}\.svg", badge_url)
    assert check_uuid not in badge_url and ping_key not in badge_url
    assert data == {
        "uuid": check_uuid,
        "name": "Database Backup",
        "slug": "database-backup",
        "tags": "prod db",
        "desc": "nightly",
        "status": "new",
        "started": False,
        "timeout": 3600,
        "grace": 120,
        "n_pings": 0,
        "last_ping": None,
        "last_success": None,
        "next_ping": None,
        "last_duration": None,
        "manual_resume": False,
        "methods": "",
        "filter_body": False,
        "filter_default_fail": False,
        "success_kw": "",
        "failure_kw": "",
        "start_kw": "",
        "failure_threshold": 1,
        "success_threshold": 1,
        "fail_streak": 0,
        "success_streak": 0,
        "remind_every": 0,
        "start_window": 0,
        "quiet_until": None,
        "channels": [],
        "created": "2026-01-05T12:00:00+00:00",
        "ping_url": f"{BASE_URL}/ping/{check_uuid}",
        "slug_url": f"{BASE_URL}/ping/{ping_key}/database-backup",
    }
    assert get_check(api, headers, check_uuid) == {**data, "badge_url": badge_url}


def test_a_slug_is_settable_and_last_success_follows_success_pings(
    api: webtest.TestApp, headers: dict[str, str], ping_key: str, clock: FakeClock
) -> None:
    data = create(api, headers, name="Database Backup", slug="db")
    assert data["slug"] == "db" and data["slug_url"].endswith(f"/{ping_key}/db")
    patched = api.patch_json(f"/v1/checks/{data['uuid']}", {"name": "Renamed"}, headers=headers)
    assert patched.json["data"]["slug"] == "renamed"  # a new name alone sets the slug
    patched = api.patch_json(
        f"/v1/checks/{data['uuid']}", {"name": "Again", "slug": "kept"}, headers=headers
    )
    assert patched.json["data"]["slug"] == "kept"
    api.get(f"/ping/{ping_key}/kept")
    success_at = clock.now.replace(microsecond=0).isoformat()
    clock.advance(seconds=30)
    api.get(f"/ping/{ping_key}/kept/fail")
    assert get_check(api, headers, data["uuid"])["last_success"] == success_at


def test_it_creates_a_check_with_defaults_from_an_empty_object(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    data = create(api, headers)

    assert set(data) == SIMPLE_KEYS
    assert (data["name"], data["timeout"], data["grace"]) == ("", 86400, 3600)
    assert (data["methods"], data["manual_resume"], data["channels"]) == ("", False, [])


def test_it_creates_a_cron_check_with_schedule_and_tz_instead_of_timeout(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    data = create(api, headers, name="Nightly", schedule="30 2 * * *", tz="Europe/Riga")

    assert set(data) == CRON_KEYS
    assert (data["schedule"], data["tz"]) == ("30 2 * * *", "Europe/Riga")


def test_it_creates_every_writable_field_as_given(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    fields = {
        "name": "Mail queue", "tags": "mail", "desc": "d", "timeout": 60, "grace": 31536000,
        "methods": "POST", "manual_resume": True, "filter_body": True,
        "filter_default_fail": True, "success_kw": "OK,done", "failure_kw": "ERROR",
        "start_kw": "begin",
    }  # fmt: skip

    data = create(api, headers, **fields)

    assert {name: data[name] for name in fields} == fields


def test_it_formats_times_in_utc_with_offset_and_without_microseconds(
    api: webtest.TestApp, headers: dict[str, str], clock: FakeClock
) -> None:
    clock.now = datetime(2026, 3, 1, 14, 30, 15, 987654, tzinfo=ZoneInfo("Europe/Riga"))
    data = create(api, headers, name="Times", timeout=3600)
    ping(api, f"/ping/{data['uuid']}")

    data = get_check(api, headers, data["uuid"])

    assert data["created"] == "2026-03-01T12:30:15+00:00"
    assert data["last_ping"] == "2026-03-01T12:30:15+00:00"
    assert data["next_ping"] == "2026-03-01T13:30:15+00:00"
    for value in (data["created"], data["last_ping"], data["next_ping"]):
        assert ISO_UTC.match(value), value


def test_it_reports_the_next_ping_of_a_cron_check_in_its_zone(
    api: webtest.TestApp, headers: dict[str, str], clock: FakeClock
) -> None:
    data = create(api, headers, name="Cron", schedule="30 2 * * *", tz="Europe/Riga")
    ping(api, f"/ping/{data['uuid']}")  # at 2026-01-05 12:00 UTC = 14:00 in Riga

    data = get_check(api, headers, data["uuid"])

    # 02:30 in Riga (UTC+2 in January) the next day.
    assert data["next_ping"] == "2026-01-06T00:30:00+00:00"


# -- list and filters ----------------------------------------------------------------


def test_it_lists_checks_requiring_every_repeated_tag(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    create(api, headers, name="a", tags="prod db")
    create(api, headers, name="b", tags="prod web")
    create(api, headers, name="c", tags="db")

    assert names(api.get("/v1/checks", headers=headers)) == ["a", "b", "c"]
    assert names(api.get("/v1/checks?tag=prod", headers=headers)) == ["a", "b"]
    assert names(api.get("/v1/checks?tag=prod&tag=db", headers=headers)) == ["a"]
    assert names(api.get("/v1/checks?tag=db&tag=web", headers=headers)) == []
    assert names(api.get("/v1/checks?tag=pro", headers=headers)) == []


def test_it_lists_checks_by_slug(api: webtest.TestApp, headers: dict[str, str]) -> None:
    first = create(api, headers, name="Backup")
    second = create(api, headers, name="backup")
    create(api, headers, name="Other")

    response = api.get("/v1/checks?slug=backup", headers=headers)

    assert sorted(c["uuid"] for c in response.json["data"]) == sorted(
        [first["uuid"], second["uuid"]]
    )
    assert api.get("/v1/checks?slug=Backup", headers=headers).json["data"] == []


def test_it_lists_checks_by_computed_status(
    api: webtest.TestApp, headers: dict[str, str], clock: FakeClock
) -> None:
    by_status = {
        status: create(api, headers, name=status, timeout=60 if status == "grace" else 3600)
        for status in ("new", "up", "grace", "down", "paused", "started")
    }
    ping(api, f"/ping/{by_status['up']['uuid']}")
    ping(api, f"/ping/{by_status['grace']['uuid']}")
    clock.advance(seconds=120)
    ping(api, f"/ping/{by_status['down']['uuid']}/fail")
    ping(api, f"/ping/{by_status['started']['uuid']}/start")
    api.post(f"/v1/checks/{by_status['paused']['uuid']}/pause", headers=headers, status=200)

    for status in by_status:
        response = api.get(f"/v1/checks?status={status}", headers=headers)
        assert [(c["name"], c["status"]) for c in response.json["data"]] == [(status, status)]
    assert {c["status"] for c in api.get("/v1/checks", headers=headers).json["data"]} == set(
        by_status
    )


@pytest.mark.parametrize("status", ["sideways", "UP", "ok", "1"])
def test_it_rejects_an_unknown_status_filter_with_422(
    api: webtest.TestApp, headers: dict[str, str], status: str
) -> None:
    response = api.get("/v1/checks", {"status": status}, headers=headers, expect_errors=True)

    assert "status" in invalid(response)


# -- upsert ---------------------------------------------------------------------------


def test_it_upserts_by_unique_name_creating_when_nothing_matches(
    api: webtest.TestApp, headers: dict[str, str], service: Service
) -> None:
    create(api, headers, name="Other")

    response = api.post_json(
        "/v1/checks", {"name": "Nightly", "tags": "a", "unique": ["name"]}, headers=headers
    )

    assert response.status_int == 201
    assert "unique" not in response.json["data"]
    assert sorted(c.name for c in service.list_checks()) == ["Nightly", "Other"]


def test_it_upserts_by_unique_name_updating_the_one_match(
    api: webtest.TestApp, headers: dict[str, str], service: Service
) -> None:
    existing = create(api, headers, name="Nightly", tags="a", timeout=3600, desc="keep")
    create(api, headers, name="Other")

    response = api.post_json(
        "/v1/checks",
        {"name": "Nightly", "tags": "b", "grace": 300, "unique": ["name"]},
        headers=headers,
    )

    assert response.status_int == 200
    assert response.json["data"] == {**existing, "tags": "b", "grace": 300}
    assert get_check(api, headers, existing["uuid"]) == response.json["data"]
    assert len(service.list_checks()) == 2


def test_it_upserts_on_several_unique_fields_matching_all_of_them(
    api: webtest.TestApp, headers: dict[str, str], service: Service
) -> None:
    create(api, headers, name="Job", tags="a")
    b = create(api, headers, name="Job", tags="b")

    response = api.post_json(
        "/v1/checks",
        {"name": "Job", "tags": "b", "desc": "matched", "unique": ["name", "tags"]},
        headers=headers,
    )

    assert response.status_int == 200
    assert response.json["data"]["uuid"] == b["uuid"]
    assert response.json["data"]["desc"] == "matched"
    assert len(service.list_checks()) == 2


def test_it_upserts_by_unique_slug(api: webtest.TestApp, headers: dict[str, str]) -> None:
    existing = create(api, headers, name="Nightly Job")

    response = api.post_json(
        "/v1/checks", {"name": "nightly   job", "unique": ["slug"]}, headers=headers
    )

    assert response.status_int == 200
    assert response.json["data"]["uuid"] == existing["uuid"]
    assert response.json["data"]["name"] == "nightly   job"


def test_it_upserts_once_when_many_clients_race_on_the_same_unique_name(
    api: webtest.TestApp, headers: dict[str, str], service: Service
) -> None:
    start = threading.Barrier(8)
    statuses: list[int] = []
    lock = threading.Lock()

    def upsert() -> None:
        start.wait()
        response = api.post_json(
            "/v1/checks", {"name": "Raced", "unique": ["name"]}, headers=headers
        )
        with lock:
            statuses.append(response.status_int)

    threads = [threading.Thread(target=upsert) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * 7 + [201]
    assert [check.name for check in service.list_checks()] == ["Raced"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Job"), ("slug", "JOB"), ("tags", "t1"), ("timeout", 600), ("grace", 120)],
)
def test_it_upserts_on_each_unique_field(
    api: webtest.TestApp, headers: dict[str, str], service: Service, field: str, value: Any
) -> None:
    existing = create(api, headers, name="Job", tags="t1", timeout=600, grace=120)
    create(api, headers, name="Other", tags="t2", timeout=900, grace=180)
    body = {"name": value} if field == "slug" else {field: value}

    response = api.post_json(
        "/v1/checks", {**body, "desc": "matched", "unique": [field]}, headers=headers
    )

    assert response.status_int == 200
    assert response.json["data"]["uuid"] == existing["uuid"]
    assert response.json["data"]["desc"] == "matched"
    assert len(service.list_checks()) == 2


def test_it_answers_409_duplicate_when_several_checks_match_unique(
    api: webtest.TestApp, headers: dict[str, str], service: Service
) -> None:
    first = create(api, headers, name="Nightly", tags="a")
    second = create(api, headers, name="Nightly", tags="a")

    response = api.post_json(
        "/v1/checks",
        {"name": "Nightly", "tags": "changed", "unique": ["name"]},
        headers=headers,
        expect_errors=True,
    )

    assert response.status_int == 409
    assert error_code(response) == "DUPLICATE"
    assert get_check(api, headers, first["uuid"]) == first
    assert get_check(api, headers, second["uuid"]) == second
    assert len(service.list_checks()) == 2


@pytest.mark.parametrize(
    "unique", [["uuid"], ["desc"], ["name", "status"], "name", None, [1], [None], {"name": 1}]
)
def test_it_rejects_an_invalid_unique_with_422(
    api: webtest.TestApp, headers: dict[str, str], service: Service, unique: Any
) -> None:
    response = api.post_json(
        "/v1/checks", {"name": "x", "unique": unique}, headers=headers, expect_errors=True
    )

    assert "unique" in invalid(response)
    assert service.list_checks() == []


# -- get, patch, delete -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("check_uuid", [UNKNOWN_UUID, "not-a-uuid", "12345", UNKNOWN_UUID + "0"])
def test_it_answers_404_check_not_found_for_an_unknown_or_malformed_uuid(
    api: webtest.TestApp, headers: dict[str, str], method: str, check_uuid: str
) -> None:
    response = api.request(
        f"/v1/checks/{check_uuid}",
        method=method,
        body=b"{}",
        headers={**headers, "Content-Type": "application/json"},
        expect_errors=True,
    )

    assert response.status_int == 404
    assert error_code(response) == "CHECK_NOT_FOUND"


def test_it_patches_only_the_given_fields(api: webtest.TestApp, headers: dict[str, str]) -> None:
    before = create(
        api, headers, name="Backup", tags="a b", desc="old", timeout=7200, grace=600,
        methods="POST", manual_resume=True, success_kw="ok",
    )  # fmt: skip

    response = api.patch_json(f"/v1/checks/{before['uuid']}", {"desc": "new"}, headers=headers)

    assert response.status_int == 200
    assert response.json["data"] == {**before, "desc": "new"}
    assert get_check(api, headers, before["uuid"]) == {**before, "desc": "new"}


def test_it_patches_nothing_with_an_empty_object(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    before = create(api, headers, name="Backup", tags="x")

    response = api.patch_json(f"/v1/checks/{before['uuid']}", {}, headers=headers)

    assert response.json["data"] == before


def test_it_recomputes_the_slug_when_the_name_changes(
    api: webtest.TestApp, headers: dict[str, str], ping_key: str
) -> None:
    before = create(api, headers, name="Backup")

    data = api.patch_json(
        f"/v1/checks/{before['uuid']}", {"name": "Weekly Report – Café"}, headers=headers
    ).json["data"]

    assert (data["name"], data["slug"]) == ("Weekly Report – Café", "weekly-report-cafe")
    assert data["slug_url"] == f"{BASE_URL}/ping/{ping_key}/weekly-report-cafe"
    assert api.get("/v1/checks?slug=weekly-report-cafe", headers=headers).json["data"] == [data]


def test_it_makes_a_check_cron_by_patching_a_schedule(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    before = create(api, headers, name="Job", timeout=3600)

    data = api.patch_json(
        f"/v1/checks/{before['uuid']}", {"schedule": "0 3 * * *", "tz": "Asia/Tokyo"},
        headers=headers,
    ).json["data"]  # fmt: skip

    assert set(data) == CRON_KEYS
    assert (data["schedule"], data["tz"]) == ("0 3 * * *", "Asia/Tokyo")
    assert get_check(api, headers, before["uuid"]) == data


def test_it_makes_a_check_simple_by_patching_a_timeout(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    before = create(api, headers, name="Job", schedule="0 3 * * *", tz="Asia/Tokyo")

    data = api.patch_json(f"/v1/checks/{before['uuid']}", {"timeout": 7200}, headers=headers).json[
        "data"
    ]

    assert set(data) == SIMPLE_KEYS
    assert data["timeout"] == 7200
    assert get_check(api, headers, before["uuid"]) == data


def test_it_deletes_a_check_returning_it_then_answers_404(
    api: webtest.TestApp, headers: dict[str, str], service: Service
) -> None:
    keep = create(api, headers, name="Keep")
    doomed = create(api, headers, name="Doomed", tags="x")
    ping(api, f"/ping/{doomed['uuid']}")
    before = get_check(api, headers, doomed["uuid"])

    response = api.delete(f"/v1/checks/{doomed['uuid']}", headers=headers)

    assert response.status_int == 200
    assert response.json["data"] == before
    for path in ("", "/pings", "/flips"):
        gone = api.get(f"/v1/checks/{doomed['uuid']}{path}", headers=headers, expect_errors=True)
        assert (gone.status_int, error_code(gone)) == (404, "CHECK_NOT_FOUND")
    again = api.delete(f"/v1/checks/{doomed['uuid']}", headers=headers, expect_errors=True)
    assert (again.status_int, error_code(again)) == (404, "CHECK_NOT_FOUND")
    assert [c.uuid for c in service.list_checks()] == [keep["uuid"]]


# -- pause, resume, flips -----------------------------------------------------------------


def test_it_pauses_idempotently_recording_one_flip(
    api: webtest.TestApp, headers: dict[str, str], clock: FakeClock
) -> None:
    check = create(api, headers, name="Job")
    ping(api, f"/ping/{check['uuid']}")
    clock.advance(seconds=60)

    first = api.post(f"/v1/checks/{check['uuid']}/pause", headers=headers)
    clock.advance(seconds=60)
    second = api.post(f"/v1/checks/{check['uuid']}/pause", headers=headers)

    assert (first.status_int, first.json["data"]["status"]) == (200, "paused")
    assert (second.status_int, second.json["data"]["status"]) == (200, "paused")
    flips = api.get(f"/v1/checks/{check['uuid']}/flips", headers=headers).json["data"]
    assert flips == [
        {"timestamp": "2026-01-05T12:01:00+00:00", "old_status": "up", "new_status": "paused",
         "reason": ""},
        {"timestamp": "2026-01-05T12:00:00+00:00", "old_status": "new", "new_status": "up",
         "reason": ""},
    ]  # fmt: skip


def test_it_pauses_a_running_job_clearing_its_start(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    check = create(api, headers, name="Job")
    ping(api, f"/ping/{check['uuid']}/start")

    data = api.post(f"/v1/checks/{check['uuid']}/pause", headers=headers).json["data"]

    assert (data["status"], data["started"]) == ("paused", False)
    assert api.get("/v1/checks?status=paused", headers=headers).json["data"] == [data]


def test_it_resumes_a_paused_check_to_new(
    api: webtest.TestApp, headers: dict[str, str], clock: FakeClock
) -> None:
    check = create(api, headers, name="Job")
    api.post(f"/v1/checks/{check['uuid']}/pause", headers=headers, status=200)
    clock.advance(seconds=30)

    response = api.post(f"/v1/checks/{check['uuid']}/resume", headers=headers)

    assert response.status_int == 200
    assert response.json["data"]["status"] == "new"
    flips = api.get(f"/v1/checks/{check['uuid']}/flips", headers=headers).json["data"]
    assert [(f["old_status"], f["new_status"]) for f in flips] == [
        ("paused", "new"),
        ("new", "paused"),
    ]
    assert flips[0]["timestamp"] == "2026-01-05T12:00:30+00:00"


@pytest.mark.parametrize("state", ["new", "up", "down", "resumed"])
def test_it_answers_409_check_not_paused_when_resuming_a_running_check(
    api: webtest.TestApp, headers: dict[str, str], state: str
) -> None:
    check = create(api, headers, name="Job")
    if state == "up":
        ping(api, f"/ping/{check['uuid']}")
    elif state == "down":
        ping(api, f"/ping/{check['uuid']}/fail")
    elif state == "resumed":
        api.post(f"/v1/checks/{check['uuid']}/pause", headers=headers, status=200)
        api.post(f"/v1/checks/{check['uuid']}/resume", headers=headers, status=200)
    before = get_check(api, headers, check["uuid"])

    response = api.post(f"/v1/checks/{check['uuid']}/resume", headers=headers, expect_errors=True)

    assert response.status_int == 409
    assert error_code(response) == "CHECK_NOT_PAUSED"
    assert get_check(api, headers, check["uuid"]) == before


def test_it_lists_flips_newest_first_with_their_reasons(
    api: webtest.TestApp, headers: dict[str, str], clock: FakeClock
) -> None:
    check = create(api, headers, name="Job")
    ping(api, f"/ping/{check['uuid']}")
    clock.advance(seconds=10)
    ping(api, f"/ping/{check['uuid']}/fail")
    clock.advance(seconds=10)
    ping(api, f"/ping/{check['uuid']}/fail")
    clock.advance(seconds=10)
    ping(api, f"/ping/{check['uuid']}/0")

    response = api.get(f"/v1/checks/{check['uuid']}/flips", headers=headers)

    assert response.json["data"] == [
        {"timestamp": "2026-01-05T12:00:30+00:00", "old_status": "down", "new_status": "up",
         "reason": ""},
        {"timestamp": "2026-01-05T12:00:10+00:00", "old_status": "up", "new_status": "down",
         "reason": "fail"},
        {"timestamp": "2026-01-05T12:00:00+00:00", "old_status": "new", "new_status": "up",
         "reason": ""},
    ]  # fmt: skip


# -- pings and bodies ----------------------------------------------------------------------


def test_it_lists_pings_newest_first_with_every_field(
    api: webtest.TestApp, headers: dict[str, str], clock: FakeClock
) -> None:
    u = create(api, headers, name="Job")["uuid"]
    ping(api, f"/ping/{u}/start?rid={RID}", ua="runitor/1.0", addr="10.0.0.5")
    clock.advance(seconds=30)
    ping(api, f"/ping/{u}?rid={RID}", method="POST", body=b"all good\n", ua="curl/8.5.0",
         addr="10.0.0.5")  # fmt: skip
    clock.advance(seconds=30)
    ping(api, f"/ping/{u}/fail", addr="2001:db8::7")
    clock.advance(seconds=30)
    ping(api, f"/ping/{u}/7", method="PUT")
    clock.advance(seconds=10)
    ping(api, f"/ping/{u}/log", method="POST", body=b"just a log")

    response = api.get(f"/v1/checks/{u}/pings", headers=headers)

    body_url = f"{BASE_URL}/v1/checks/{u}/pings/{{}}/body"
    common = {"scheme": "http", "rid": None, "exit_status": None, "ua": "", "repeat": False}
    assert response.json["data"] == [
        {**common, "n": 5, "type": "log", "date": "2026-01-05T12:01:40+00:00",
         "remote_addr": "192.0.2.1", "method": "POST", "body_size": 10,
         "body_url": body_url.format(5)},
        {**common, "n": 4, "type": "fail", "date": "2026-01-05T12:01:30+00:00",
         "remote_addr": "192.0.2.1", "method": "PUT", "exit_status": 7, "body_size": 0,
         "body_url": None},
        {**common, "n": 3, "type": "fail", "date": "2026-01-05T12:01:00+00:00",
         "remote_addr": "2001:db8::7", "method": "GET", "body_size": 0, "body_url": None},
        {**common, "n": 2, "type": "success", "date": "2026-01-05T12:00:30+00:00",
         "remote_addr": "10.0.0.5", "method": "POST", "ua": "curl/8.5.0", "rid": RID,
         "duration": 30, "body_size": 9, "body_url": body_url.format(2)},
        {**common, "n": 1, "type": "start", "date": "2026-01-05T12:00:00+00:00",
         "remote_addr": "10.0.0.5", "method": "GET", "ua": "runitor/1.0", "rid": RID,
         "body_size": 0, "body_url": None},
    ]  # fmt: skip
    for item in response.json["data"]:
        assert set(item) - {"duration"} == PING_KEYS


def test_it_pairs_a_start_and_a_success_without_rid_for_the_duration(
    api: webtest.TestApp, headers: dict[str, str], clock: FakeClock
) -> None:
    u = create(api, headers, name="Job")["uuid"]
    ping(api, f"/ping/{u}/start")
    clock.advance(seconds=45)
    ping(api, f"/ping/{u}")
    clock.advance(seconds=45)
    ping(api, f"/ping/{u}")

    pings = api.get(f"/v1/checks/{u}/pings", headers=headers).json["data"]

    assert [(p["n"], p.get("duration")) for p in pings] == [(3, None), (2, 45), (1, None)]
    assert "duration" not in pings[0] and "duration" not in pings[2]
    assert get_check(api, headers, u)["last_duration"] == 45


def test_it_does_not_pair_pings_of_different_runs(
    api: webtest.TestApp, headers: dict[str, str], clock: FakeClock
) -> None:
    u = create(api, headers, name="Job")["uuid"]
    ping(api, f"/ping/{u}/start?rid={RID}")
    clock.advance(seconds=20)
    ping(api, f"/ping/{u}?rid={UNKNOWN_UUID}")

    pings = api.get(f"/v1/checks/{u}/pings", headers=headers).json["data"]

    assert all("duration" not in p for p in pings)


def test_it_reports_a_started_run_and_then_its_duration(
    api: webtest.TestApp, headers: dict[str, str], clock: FakeClock
) -> None:
    u = create(api, headers, name="Job", timeout=3600)["uuid"]
    ping(api, f"/ping/{u}/start?rid={RID}")
    started = get_check(api, headers, u)
    clock.advance(seconds=75)
    ping(api, f"/ping/{u}?rid={RID}")

    done = get_check(api, headers, u)

    assert (started["status"], started["started"], started["n_pings"]) == ("started", True, 1)
    assert (started["last_ping"], started["last_duration"]) == (None, None)
    assert (done["status"], done["started"], done["n_pings"]) == ("up", False, 2)
    assert done["last_duration"] == 75
    assert done["last_ping"] == "2026-01-05T12:01:15+00:00"
    assert done["next_ping"] == "2026-01-05T13:01:15+00:00"


def test_it_lists_no_pings_for_a_new_check(api: webtest.TestApp, headers: dict[str, str]) -> None:
    u = create(api, headers, name="Job")["uuid"]

    assert api.get(f"/v1/checks/{u}/pings", headers=headers).json["data"] == []


def test_it_returns_a_ping_body_as_raw_bytes_in_text_plain(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    u = create(api, headers, name="Job")["uuid"]
    raw = b"caf\xc3\xa9 \xff\xfe not utf-8 \x00 end"
    ping(api, f"/ping/{u}", method="POST", body=raw)

    response = api.get(f"/v1/checks/{u}/pings/1/body", headers=headers)

    assert response.status_int == 200
    assert response.content_type == "text/plain"
    assert response.body == raw


@pytest.mark.parametrize("n", ["2", "0", "99", "abc", "-1", "1.0", "99999999999999999999999"])
def test_it_answers_404_for_a_ping_body_that_is_empty_or_unknown(
    api: webtest.TestApp, headers: dict[str, str], n: str
) -> None:
    u = create(api, headers, name="Job")["uuid"]
    ping(api, f"/ping/{u}", method="POST", body=b"first")
    ping(api, f"/ping/{u}")  # n=2 has no body

    response = api.get(f"/v1/checks/{u}/pings/{n}/body", headers=headers, expect_errors=True)

    assert response.status_int == 404
    assert error_code(response) == "NOT_FOUND"
    assert response.content_type == "application/json"


def test_it_answers_404_for_a_ping_number_in_non_ascii_digits(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    u = create(api, headers, name="Job")["uuid"]
    ping(api, f"/ping/{u}", method="POST", body=b"first")

    for n in ("%C2%B2", "%D9%A1"):  # "²" (a digit to str.isdigit) and an Arabic-Indic one
        response = api.get(f"/v1/checks/{u}/pings/{n}/body", headers=headers, expect_errors=True)
        assert (response.status_int, error_code(response)) == (404, "NOT_FOUND"), n


def test_it_answers_404_check_not_found_for_the_body_of_an_unknown_check(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    response = api.get(
        f"/v1/checks/{UNKNOWN_UUID}/pings/1/body", headers=headers, expect_errors=True
    )

    assert (response.status_int, error_code(response)) == (404, "CHECK_NOT_FOUND")


@pytest.fixture
def small_log(tmp_path: Path, clock: FakeClock) -> Iterator[tuple[webtest.TestApp, Service]]:
    """An app whose checks keep only their last 2 pings."""
    config = default_config(
        storage__path=str(tmp_path / "small.db"), storage__ping_log_limit=2, **HIGH_LIMIT
    )
    opened = open_store(config)
    service = make_service(config, opened, clock)
    service.bootstrap()
    yield webtest.TestApp(create_app(config, store=opened, clock=clock)), service
    opened.close()


def test_it_answers_404_for_the_body_of_a_pruned_ping(
    small_log: tuple[webtest.TestApp, Service],
) -> None:
    api, service = small_log
    headers = {"X-Api-Key": service.create_api_key("tests")}
    u = create(api, headers, name="Job")["uuid"]
    for text in (b"one", b"two", b"three"):
        ping(api, f"/ping/{u}", method="POST", body=text)

    deadline = time.monotonic() + 5
    while True:
        response = api.get(f"/v1/checks/{u}/pings/1/body", headers=headers, expect_errors=True)
        if response.status_int != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert (response.status_int, error_code(response)) == (404, "NOT_FOUND")
    assert api.get(f"/v1/checks/{u}/pings/3/body", headers=headers).body == b"three"
    pings = api.get(f"/v1/checks/{u}/pings", headers=headers).json["data"]
    assert [p["n"] for p in pings] == [3, 2]


# -- channels on a check ----------------------------------------------------------------


def test_it_reports_the_channels_a_check_alerts(
    api: webtest.TestApp, headers: dict[str, str], service: Service, store: Store
) -> None:
    project = service.project()
    channel_ids = [
        store.write(
            lambda conn, name=name: channels_queries.insert_channel(
                conn, project.id, "webhook", name, {}, datetime(2026, 1, 1, tzinfo=UTC)
            )
        ).id
        for name in ("one", "two")
    ]

    every = create(api, headers, name="All", channels="*")
    one = create(api, headers, name="One", channels=[channel_ids[1]])
    patched = api.patch_json(f"/v1/checks/{every['uuid']}", {"channels": []}, headers=headers).json[
        "data"
    ]

    assert every["channels"] == channel_ids
    assert one["channels"] == [channel_ids[1]]
    assert get_check(api, headers, one["uuid"])["channels"] == [channel_ids[1]]
    assert patched["channels"] == []
    unknown = api.post_json("/v1/checks", {"channels": [999]}, headers=headers, expect_errors=True)
    assert "channels" in invalid(unknown)


# -- validation ---------------------------------------------------------------------------

FIELDS = (
    "name", "slug", "tags", "desc", "timeout", "grace", "schedule", "tz", "methods",
    "manual_resume",
    "filter_body", "filter_default_fail", "success_kw", "failure_kw", "start_kw", "channels",
)  # fmt: skip

INVALID_FIELDS: list[tuple[str, Any]] = [
    # Wrong types.
    ("name", 5), ("name", True), ("name", ["a"]), ("name", {"a": 1}),
    ("tags", 1), ("tags", ["a", "b"]), ("desc", 1.5),
    ("timeout", "3600"), ("timeout", 3600.5), ("timeout", True), ("timeout", [3600]),
    ("grace", "60"), ("grace", False),
    ("schedule", 5), ("schedule", ["* * * * *"]), ("tz", 0),
    ("methods", 1), ("methods", ["POST"]),
    ("manual_resume", 1), ("manual_resume", 0), ("manual_resume", "true"),
    ("filter_body", 1), ("filter_body", 0), ("filter_default_fail", 0),
    ("filter_default_fail", "false"),
    ("success_kw", 1), ("failure_kw", ["x"]), ("start_kw", {"x": 1}),
    ("failure_threshold", "2"), ("success_threshold", True), ("remind_every", "1h"),
    ("start_window", 60.5), ("failure_threshold", 0), ("failure_threshold", 101),
    ("remind_every", 59), ("remind_every", -1), ("start_window", 31536001),
    ("channels", "all"), ("channels", [True]), ("channels", ["1"]), ("channels", 1),
    # Ranges and lengths.
    ("timeout", 59), ("timeout", 0), ("timeout", -60), ("timeout", 31536001),
    ("timeout", 10**30), ("grace", 59), ("grace", 31536001),
    ("name", "n" * 101), ("desc", "d" * 10001),
    # Values.
    ("methods", "GET"), ("methods", "post"), ("methods", "PUT"), ("methods", " POST"),
    ("schedule", "* * *"), ("schedule", "61 * * * *"), ("schedule", "not a cron at all"),
    ("schedule", "* * * * * *"), ("schedule", "*/0 * * * *"),
    ("tz", "Mars/Olympus_Mons"), ("tz", ""), ("tz", "Europe/"), ("tz", "../../etc/passwd"),
    ("tz", "Europe/" + "x" * 300),  # longer than a file name may be: once a 500
    ("slug", "Has Spaces"), ("slug", "UPPER"), ("slug", "s" * 101), ("slug", "ü"), ("slug", 5),
    # Unknown fields.
    ("colour", "red"), ("uuid", UNKNOWN_UUID), ("status", "up"),
    ("n_pings", 3), ("unique_", ["name"]),
] + [(name, None) for name in FIELDS]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), INVALID_FIELDS)
def test_it_rejects_an_invalid_field_on_create_with_422_naming_it(
    api: webtest.TestApp, headers: dict[str, str], service: Service, field: str, value: Any
) -> None:
    body = {"name": "Valid", field: value}
    if field == "tz":
        body["schedule"] = "0 0 * * *"

    response = api.post_json("/v1/checks", body, headers=headers, expect_errors=True)

    assert field in invalid(response)
    assert service.list_checks() == []


@pytest.mark.parametrize(("field", "value"), INVALID_FIELDS + [("unique", ["name"])])
def test_it_rejects_an_invalid_field_on_patch_with_422_naming_it(
    api: webtest.TestApp, headers: dict[str, str], field: str, value: Any
) -> None:
    before = create(api, headers, name="Valid", tags="t")
    body: dict[str, Any] = {field: value}
    if field == "tz":
        body["schedule"] = "0 0 * * *"

    response = api.patch_json(
        f"/v1/checks/{before['uuid']}", body, headers=headers, expect_errors=True
    )

    assert field in invalid(response)
    assert get_check(api, headers, before["uuid"]) == before


def test_it_reports_every_invalid_field_at_once(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    response = api.post_json(
        "/v1/checks", {"name": 1, "grace": "x", "colour": "red"}, headers=headers,
        expect_errors=True,
    )  # fmt: skip

    assert set(invalid(response)) == {"name", "grace", "colour"}


def test_it_rejects_a_timeout_together_with_a_schedule(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    response = api.post_json(
        "/v1/checks", {"timeout": 3600, "schedule": "0 0 * * *"}, headers=headers,
        expect_errors=True,
    )  # fmt: skip

    assert set(invalid(response)) & {"timeout", "schedule"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("timeout", 60), ("timeout", 31536000), ("grace", 60), ("grace", 31536000),
     ("name", "n" * 100), ("desc", "d" * 10000), ("methods", ""), ("methods", "POST"),
     ("tz", "America/Argentina/Buenos_Aires"), ("schedule", "*/5 9-17 * * MON-FRI")],
)  # fmt: skip
def test_it_accepts_values_at_the_edges_of_the_ranges(
    api: webtest.TestApp, headers: dict[str, str], field: str, value: Any
) -> None:
    body = {field: value}
    if field == "tz":
        body["schedule"] = "0 0 * * *"

    assert create(api, headers, **body)[field] == value


@pytest.mark.parametrize(
    "body",
    [b'{"name": "\\ud800"}', b'{"tags": "a \\udfff b"}', b'{"desc": "x\\ud83d"}',
     b'{"success_kw": "\\ud800"}', b'{"schedule": "0 0 * * *", "tz": "Europe/\\ud800"}',
     b'{"schedule": "\\ud800 0 * * *"}'],
)  # fmt: skip
@pytest.mark.parametrize("dev", [False, True])
def test_it_rejects_a_lone_surrogate_without_a_server_error(
    api: webtest.TestApp, headers: dict[str, str], service: Service, body: bytes, dev: bool
) -> None:
    field = next(iter(json.loads(body))) if b"tz" not in body else "tz"
    extra = {"X-Developer-Mode": "true"} if dev else {}

    response = api.post(
        "/v1/checks",
        body,
        headers={**headers, **extra, "Content-Type": "application/json"},
        expect_errors=True,
    )

    # Not UTF-8-encodable, so either malformed JSON or an invalid field; never a 500.
    if response.status_int == 400:
        assert error_code(response) == "INVALID_JSON"
    else:
        assert field in invalid(response)
    assert service.list_checks() == []


# -- request bodies ------------------------------------------------------------------------


def send(
    api: webtest.TestApp, method: str, path: str, headers: dict[str, str], body: bytes
) -> webtest.TestResponse:
    return api.request(
        path,
        method=method,
        body=body,
        headers={**headers, "Content-Type": "application/json"},
        expect_errors=True,
    )


@pytest.fixture(params=["POST", "PATCH"])
def target(
    request: pytest.FixtureRequest, api: webtest.TestApp, headers: dict[str, str]
) -> tuple[str, str]:
    """(method, path) of each endpoint that reads a JSON body."""
    if request.param == "POST":
        return "POST", "/v1/checks"
    return "PATCH", f"/v1/checks/{create(api, headers, name='Target')['uuid']}"


@pytest.mark.parametrize(
    "body", [b"{", b"{'name': 'x'}", b'{"name": "x",}', b"nul", b'{"name": "x"} trailing',
             b"\xff\xfe{}", b'"unterminated']
)  # fmt: skip
def test_it_answers_400_invalid_json_for_malformed_json(
    api: webtest.TestApp, headers: dict[str, str], target: tuple[str, str], body: bytes
) -> None:
    response = send(api, *target, headers, body)

    assert (response.status_int, error_code(response)) == (400, "INVALID_JSON")


def test_it_answers_400_invalid_json_for_non_standard_number_constants(
    api: webtest.TestApp, headers: dict[str, str], target: tuple[str, str]
) -> None:
    for body in (b'{"timeout": NaN}', b'{"grace": Infinity}', b'{"timeout": -Infinity}'):
        response = send(api, *target, headers, body)
        assert (response.status_int, error_code(response)) == (400, "INVALID_JSON"), body


@pytest.mark.parametrize("body", [b"", b"   \r\n\t "])
def test_it_answers_400_missing_body_without_a_body(
    api: webtest.TestApp, headers: dict[str, str], target: tuple[str, str], body: bytes
) -> None:
    response = send(api, *target, headers, body)

    assert (response.status_int, error_code(response)) == (400, "MISSING_BODY")


@pytest.mark.parametrize("body", [b"[]", b'[{"name": "x"}]', b'"x"', b"5", b"null", b"true"])
def test_it_answers_422_for_json_that_is_not_an_object(
    api: webtest.TestApp, headers: dict[str, str], target: tuple[str, str], body: bytes
) -> None:
    response = send(api, *target, headers, body)

    invalid(response)


def padded(size: int) -> bytes:
    """A valid JSON object of exactly ``size`` bytes."""
    start = b'{"name": "padded"'
    return start + b" " * (size - len(start) - 1) + b"}"


def test_it_accepts_a_body_of_64_kib_and_answers_413_above(
    api: webtest.TestApp, headers: dict[str, str], target: tuple[str, str], service: Service
) -> None:
    method, path = target
    assert len(padded(65536)) == 65536

    accepted = send(api, method, path, headers, padded(65536))
    too_large = send(api, method, path, headers, padded(65537))
    huge = send(api, method, path, headers, json.dumps({"desc": "x" * 200_000}).encode())

    assert accepted.status_int == (201 if method == "POST" else 200)
    assert (too_large.status_int, error_code(too_large)) == (413, "PAYLOAD_TOO_LARGE")
    assert (huge.status_int, error_code(huge)) == (413, "PAYLOAD_TOO_LARGE")
    assert len(service.list_checks()) == 1
    assert service.list_checks()[0].name == "padded"


def test_it_adds_a_request_id_to_every_check_response(
    api: webtest.TestApp, headers: dict[str, str]
) -> None:
    response = api.post_json("/v1/checks", {"name": "x"}, headers=headers)

    assert str(uuid.UUID(response.json["requestId"])) == response.json["requestId"]
    assert response.headers["X-Request-Id"] == response.json["requestId"]
    assert response.content_type == "application/json"


def test_it_formats_every_time_field_as_utc_without_microseconds_after_a_run(
    api: webtest.TestApp, headers: dict[str, str], clock: FakeClock
) -> None:
    clock.now = START_WITH_MICROS
    u = create(api, headers, name="Job", timeout=60)["uuid"]
    ping(api, f"/ping/{u}/start")
    clock.advance(seconds=12.5)
    ping(api, f"/ping/{u}")

    check = get_check(api, headers, u)
    pings = api.get(f"/v1/checks/{u}/pings", headers=headers).json["data"]
    flips = api.get(f"/v1/checks/{u}/flips", headers=headers).json["data"]

    times = [check["created"], check["last_ping"], check["next_ping"]]
    times += [p["date"] for p in pings] + [f["timestamp"] for f in flips]
    assert all(ISO_UTC.match(t) for t in times), times
    assert check["last_ping"] == "2026-01-05T12:00:13+00:00"
    assert check["last_duration"] in (12, 13)

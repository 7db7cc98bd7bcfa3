"""Healthchecks' checks API on pingd, through WebTest: its own test cases, re-expressed.

Each test follows one of Healthchecks' ``hc/api/tests/test_*.py`` cases (create,
update, get, list, delete, pause, resume, auth) against the real service and
SQLite; only the clock is fake. The exact key set of the check JSON is pinned
per version and key kind, in Healthchecks' order.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import webtest
from conftest import FakeClock

from pingd.hcapi.shapes import unique_key
from pingd.service import Service

BASE = "https://hc.example.org"
UNKNOWN = "6f1c1c52-0a4e-4b53-8f0e-2b2f9f3c5d11"

HC_ORDER = [
    "name", "slug", "tags", "desc", "grace", "n_pings", "status", "started", "last_ping",
    "next_ping", "manual_resume", "methods", "subject", "subject_fail", "start_kw",
    "success_kw", "failure_kw", "filter_subject", "filter_body", "filter_http_body",
    "filter_default_fail", "badge_url",
]  # fmt: skip
RW_EXTRA = ["uuid", "ping_url", "update_url", "pause_url", "resume_url", "channels"]


@pytest.fixture
def hc(make_app: Any) -> webtest.TestApp:
    return make_app(server__base_url=BASE, limits__max_checks=5)


def post(
    hc: webtest.TestApp, path: str, body: Any, status: int | str = "*"
) -> webtest.TestResponse:
    return hc.post_json(path, body, status=status)


def created(hc: webtest.TestApp, key: dict[str, str], v: int = 3, **fields: Any) -> dict[str, Any]:
    r = hc.post_json(f"/api/v{v}/checks/", fields, headers=key, status=201)
    doc: dict[str, Any] = r.json
    return doc


def error_of(r: webtest.TestResponse) -> str:
    message: str = r.json["error"]
    return message


# -- the exact shape ------------------------------------------------------------


@pytest.mark.parametrize("v", [1, 2, 3])
def test_the_check_json_has_healthchecks_keys_in_its_order_per_version_and_key(
    hc: webtest.TestApp, rw: dict[str, str], ro: dict[str, str], v: int
) -> None:
    doc = created(hc, rw, v, name="Backup", timeout=3600)
    assert list(doc) == [*HC_ORDER, *RW_EXTRA, "timeout"]
    assert len(doc) == 29  # Healthchecks' test_get_check pins 29 for a simple check
    assert doc["update_url"] == f"{BASE}/api/v{v}/checks/{doc['uuid']}"
    assert doc["pause_url"] == doc["update_url"] + "/pause"
    assert doc["ping_url"] == f"{BASE}/ping/{doc['uuid']}"
    read = hc.get(f"/api/v{v}/checks/{doc['uuid']}", headers=ro).json
    assert list(read) == [*HC_ORDER, "unique_key", "timeout"]
    assert read["unique_key"] == unique_key(doc["uuid"])
    cron = created(hc, rw, v, name="Nightly", schedule="0 3 * * *", tz="Europe/Riga")
    assert list(cron) == [*HC_ORDER, *RW_EXTRA, "schedule", "tz"]
    assert (cron["schedule"], cron["tz"]) == ("0 3 * * *", "Europe/Riga")


def test_types_are_healthchecks_types(hc: webtest.TestApp, rw: dict[str, str]) -> None:
    doc = created(hc, rw, name="Foo", tags="bar baz", desc="d", timeout=3600, grace=60)
    assert (doc["grace"], doc["timeout"], doc["n_pings"]) == (60, 3600, 0)
    assert doc["status"] == "new" and doc["started"] is False
    assert doc["last_ping"] is None and doc["next_ping"] is None
    assert doc["channels"] == "" and doc["methods"] == ""
    assert (doc["subject"], doc["subject_fail"], doc["filter_subject"]) == ("", "", False)
    assert doc["badge_url"].startswith(f"{BASE}/b/2/") and doc["badge_url"].endswith(".svg")
    assert doc["uuid"] not in doc["badge_url"]


def test_last_duration_and_next_ping_appear_after_a_timed_run(
    hc: webtest.TestApp, rw: dict[str, str], clock: FakeClock
) -> None:
    doc = created(hc, rw, name="Job", timeout=3600)
    hc.get(f"/ping/{doc['uuid']}/start")
    clock.advance(seconds=75)
    hc.get(f"/ping/{doc['uuid']}")
    doc = hc.get(f"/api/v3/checks/{doc['uuid']}", headers=rw).json
    assert doc["last_duration"] == 75 and doc["status"] == "up" and doc["n_pings"] == 2
    assert doc["last_ping"] == (clock.now.replace(microsecond=0)).isoformat()
    expected = clock.now.replace(microsecond=0) + timedelta(seconds=3600)
    assert doc["next_ping"] == expected.isoformat()


def test_v1_reports_started_as_a_status_and_v2_v3_do_not(
    hc: webtest.TestApp, rw: dict[str, str]
) -> None:
    doc = created(hc, rw, name="Job")
    hc.get(f"/ping/{doc['uuid']}/start")
    assert hc.get(f"/api/v1/checks/{doc['uuid']}", headers=rw).json["status"] == "started"
    for v in (2, 3):
        doc = hc.get(f"/api/v{v}/checks/{doc['uuid']}", headers=rw).json
        assert (doc["status"], doc["started"]) == ("new", True)


# -- create (test_create_check.py) ------------------------------------------------


def test_create_works_with_the_key_in_the_body_and_answers_cors(
    hc: webtest.TestApp, rw: dict[str, str], service: Service
) -> None:
    body = {"api_key": rw["X-Api-Key"], "name": "Foo", "tags": "bar,baz", "desc": "here",
            "timeout": 3600, "grace": 60, "start_kw": "START", "success_kw": "SUCCESS",
            "failure_kw": "FAILURE", "filter_http_body": True, "filter_default_fail": True,
            "filter_subject": False, "filter_body": False}  # fmt: skip
    r = post(hc, "/api/v1/checks/", body, 201)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    doc = r.json
    assert (doc["name"], doc["slug"], doc["tags"], doc["desc"]) == ("Foo", "foo", "bar,baz", "here")
    assert doc["filter_http_body"] is True and doc["filter_default_fail"] is True
    stored = service.get_check(doc["uuid"])
    assert (stored.timeout, stored.grace, stored.filter_body) == (3600, 60, True)
    assert (stored.start_kw, stored.success_kw, stored.failure_kw) == (
        "START",
        "SUCCESS",
        "FAILURE",
    )


def test_create_without_a_trailing_slash_and_with_defaults(
    hc: webtest.TestApp, rw: dict[str, str]
) -> None:
    doc = hc.post_json("/api/v3/checks", {}, headers=rw, status=201).json
    assert (doc["name"], doc["slug"], doc["timeout"], doc["grace"]) == ("", "", 86400, 3600)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"timeout": 0}, "timeout is too small"),
        ({"timeout": 31536001}, "timeout is too large"),
        ({"timeout": "oops"}, "timeout is not a number"),
        ({"timeout": 3600.5}, "timeout is not a number"),
        ({"grace": 59}, "grace is too small"),
        ({"name": False}, "name is not a string"),
        ({"name": "01234567890" * 20}, "name is too long"),
        ({"unique": ["status"]}, "an item in 'unique' has unexpected value"),
        ({"unique": "name"}, "unique is not an array"),
        ({"schedule": "* * * * * *"}, "schedule is not a valid cron expression"),
        ({"schedule": "61 * * * *"}, "schedule is not a valid cron or OnCalendar expression"),
        ({"schedule": "* " * 60}, "schedule is too long"),
        ({"tz": "Mars/Olympus"}, "tz is not a valid timezone"),
        ({"manual_resume": "true"}, "manual_resume is not a boolean"),
        ({"filter_http_body": 1}, "filter_http_body is not a boolean"),
        ({"filter_default_fail": "yes"}, "filter_default_fail is not a boolean"),
        ({"methods": "FOO"}, "methods has unexpected value"),
        ({"success_kw": "x" * 201}, "success_kw is too long"),
        ({"subject": 1}, "subject is not a string"),
        ({"subject_fail": 1}, "subject_fail is not a string"),
        ({"slug": "Has Spaces"}, "slug does not match pattern"),
        ({"slug": "a" * 101}, "slug is too long"),
        ({"channels": 1}, "channels is not a string"),
        ({"tags": "x" * 20000}, "tags is too long"),
    ],
)
def test_create_rejects_what_healthchecks_rejects(
    hc: webtest.TestApp, rw: dict[str, str], body: dict[str, Any], fragment: str
) -> None:
    r = post(hc, "/api/v1/checks/", {"api_key": rw["X-Api-Key"], **body}, 400)
    assert fragment in error_of(r), error_of(r)
    assert hc.get("/api/v3/checks/", headers=rw).json["checks"] == []  # nothing was stored


NULLABLE = ["channels", "timeout", "grace", "name", "schedule", "subject", "subject_fail", "unique",
            "manual_resume", "methods"]  # fmt: skip


@pytest.mark.parametrize("field", NULLABLE)
def test_create_rejects_null_for_every_field(
    hc: webtest.TestApp, rw: dict[str, str], field: str
) -> None:
    r = post(hc, "/api/v1/checks/", {"api_key": rw["X-Api-Key"], field: None}, 400)
    assert error_of(r).startswith(f"json validation error: {field} "), error_of(r)


@pytest.mark.parametrize(
    ("raw", "error"),
    [(b"this is not json", "could not parse request body"),
     (b"[1,2,3]", "json validation error: value is not an object"),
     (b'{"name": NaN}', "could not parse request body"),
     (b'{"name": "\\ud800"}', "could not parse request body"),
     (b"\xff\xfe", "could not parse request body")],
)  # fmt: skip
def test_unreadable_bodies_are_400_before_the_key_is_looked_at(
    hc: webtest.TestApp, raw: bytes, error: str
) -> None:
    r = hc.post("/api/v1/checks/", raw, content_type="application/json", status=400)
    assert r.json == {"error": error}


def test_missing_body_and_wrong_or_read_only_keys_are_401(
    hc: webtest.TestApp, ro: dict[str, str]
) -> None:
    r = hc.post("/api/v1/checks/", content_type="application/json", status=401)
    assert r.json == {"error": "missing api key"}
    r = post(hc, "/api/v1/checks/", {"api_key": "Y" * 32}, 401)
    assert r.json == {"error": "wrong api key"}
    r = hc.post_json("/api/v1/checks/", {}, headers=ro, status=401)
    assert r.json == {"error": "wrong api key"}
    r = post(hc, "/api/v1/checks/", {"api_key": ro["X-Api-Key"]}, 401)
    assert r.json == {"error": "wrong api key"}
    assert hc.get("/api/v1/checks/", status=401).json == {"error": "missing api key"}
    assert hc.get("/api/v1/checks/", headers={"X-Api-Key": ""}, status=401).json == {
        "error": "missing api key"
    }


def test_a_get_never_takes_the_key_from_a_query_or_body(
    hc: webtest.TestApp, rw: dict[str, str]
) -> None:
    hc.get(f"/api/v1/checks/?api_key={rw['X-Api-Key']}", status=401)


def test_channels_by_uuid_name_all_and_none(
    hc: webtest.TestApp, rw: dict[str, str], svc: Service
) -> None:
    a = svc.create_channel("webhook", "Ops hook", {"url_down": "http://127.0.0.1:9/a"})
    b = svc.create_channel("webhook", "Other", {"url_down": "http://127.0.0.1:9/b"})
    doc = created(hc, rw, channels=a.uuid)
    assert doc["channels"] == a.uuid
    doc = created(hc, rw, channels="Other")
    assert doc["channels"] == b.uuid
    doc = created(hc, rw, channels="*")
    assert doc["channels"] == ",".join(sorted([a.uuid, b.uuid]))
    url = f"/api/v3/checks/{doc['uuid']}"
    assert hc.post_json(url, {"channels": ""}, headers=rw).json["channels"] == ""
    assert hc.post_json(url, {"name": "kept"}, headers=rw).json["channels"] == ""  # unchanged


def test_channel_identifier_errors(hc: webtest.TestApp, rw: dict[str, str], svc: Service) -> None:
    svc.create_channel("webhook", "Twin", {"url_down": "http://127.0.0.1:9/a"})
    svc.create_channel("webhook", "Twin", {"url_down": "http://127.0.0.1:9/b"})
    cases = {
        "nope": "invalid channel identifier: nope",
        "Twin": "non-unique channel identifier: Twin",
        ",,": "empty channel identifier",
        UNKNOWN: f"invalid channel identifier: {UNKNOWN}",
    }
    for channels, message in cases.items():
        r = hc.post_json("/api/v1/checks/", {"channels": channels}, headers=rw, status=400)
        assert r.json == {"error": message}


@pytest.mark.parametrize("field", ["name", "slug", "tags", "timeout", "grace"])
def test_unique_updates_the_first_match_with_200(
    hc: webtest.TestApp, rw: dict[str, str], field: str
) -> None:
    values = {"name": "Foo", "slug": "foo", "tags": "a b", "timeout": 600, "grace": 120}
    first = created(hc, rw, **values)
    created(hc, rw, **values)  # a second match: the first is the one updated
    r = hc.post_json("/api/v3/checks/", {field: values[field], "desc": "changed",
                                         "unique": [field]}, headers=rw, status=200)  # fmt: skip
    assert r.json["uuid"] == first["uuid"] and r.json["desc"] == "changed"
    assert len(hc.get("/api/v3/checks/", headers=rw).json["checks"]) == 2


def test_unique_naming_an_absent_field_always_creates(
    hc: webtest.TestApp, rw: dict[str, str]
) -> None:
    for _ in range(2):
        hc.post_json("/api/v3/checks/", {"name": "Foo", "unique": ["slug"]}, headers=rw, status=201)
    hc.post_json("/api/v3/checks/", {"name": "Foo", "unique": []}, headers=rw, status=201)
    assert len(hc.get("/api/v3/checks/", headers=rw).json["checks"]) == 3


def test_the_check_limit_is_an_empty_403(hc: webtest.TestApp, rw: dict[str, str]) -> None:
    for i in range(5):
        created(hc, rw, name=f"c{i}")
    r = hc.post_json("/api/v3/checks/", {"name": "one too many"}, headers=rw, status=403)
    assert r.body == b""
    # An upsert that finds its check still works at the limit.
    hc.post_json("/api/v3/checks/", {"name": "c1", "unique": ["name"]}, headers=rw, status=200)


def test_cron_schedule_wins_over_timeout_and_timeout_alone_makes_it_simple(
    hc: webtest.TestApp, rw: dict[str, str]
) -> None:
    doc = created(hc, rw, schedule="5 4 * * *", tz="Europe/Riga", timeout=600)
    assert (doc["schedule"], doc["tz"]) == ("5 4 * * *", "Europe/Riga") and "timeout" not in doc
    doc = hc.post_json(doc["update_url"][len(BASE) :], {"timeout": 600}, headers=rw).json
    assert doc["timeout"] == 600 and "schedule" not in doc


def test_oncalendar_and_email_filters_are_refused_by_name(
    hc: webtest.TestApp, rw: dict[str, str]
) -> None:
    r = hc.post_json("/api/v3/checks/", {"schedule": "Mon *-*-* 10:00"}, headers=rw, status=400)
    assert "schedule" in error_of(r) and "OnCalendar" in error_of(r)
    for field, value in (("filter_subject", True), ("filter_body", True), ("subject", "OK")):
        r = hc.post_json("/api/v3/checks/", {field: value}, headers=rw, status=400)
        assert error_of(r).startswith(field) and "email" in error_of(r)
    doc = created(hc, rw, filter_subject=False, filter_body=False, subject="", subject_fail="")
    assert doc["filter_subject"] is False


def test_sets_manual_resume_methods_and_keywords(hc: webtest.TestApp, rw: dict[str, str]) -> None:
    doc = created(hc, rw, manual_resume=True, methods="POST", success_kw="OK", failure_kw="ERR")
    assert (doc["manual_resume"], doc["methods"]) == (True, "POST")
    assert (doc["success_kw"], doc["failure_kw"]) == ("OK", "ERR")


def test_v3_saves_slug_and_does_not_derive_it(hc: webtest.TestApp, rw: dict[str, str]) -> None:
    assert created(hc, rw, 3, name="Foo", slug="custom-slug")["slug"] == "custom-slug"
    assert created(hc, rw, 3, name="Foo Bar")["slug"] == ""
    assert created(hc, rw, 1, name="Foo Bar")["slug"] == "foo-bar"
    assert created(hc, rw, 2, name="Foo Bar", slug="given")["slug"] == "given"


def test_unknown_fields_are_ignored(hc: webtest.TestApp, rw: dict[str, str]) -> None:
    doc = created(hc, rw, name="Foo", kind="simple", foo=[1, {"x": None}])
    assert doc["name"] == "Foo"


# -- update, get, list, delete (test_update_check, test_get_check, test_list_checks, …) --


def test_update_changes_only_the_given_fields(hc: webtest.TestApp, rw: dict[str, str]) -> None:
    doc = created(hc, rw, 1, name="Foo", tags="a", desc="keep", timeout=600, grace=120)
    url = f"/api/v1/checks/{doc['uuid']}"
    r = hc.post_json(url, {"name": "New Name", "grace": 300}, headers=rw, status=200)
    assert (r.json["name"], r.json["slug"], r.json["grace"]) == ("New Name", "new-name", 300)
    assert (r.json["desc"], r.json["tags"], r.json["timeout"]) == ("keep", "a", 600)
    v3 = hc.post_json(f"/api/v3/checks/{doc['uuid']}", {"name": "Third"}, headers=rw).json
    assert (v3["name"], v3["slug"]) == ("Third", "new-name")  # v3 keeps the slug
    r = hc.post_json(url, {"timeout": 1}, headers=rw, status=400)
    assert r.json == {"error": "json validation error: timeout is too small"}


def test_update_and_delete_of_unknown_or_malformed_ids_are_404(
    hc: webtest.TestApp, rw: dict[str, str]
) -> None:
    for path in (f"/api/v1/checks/{UNKNOWN}", "/api/v1/checks/not-a-uuid"):
        hc.post_json(path, {"name": "x"}, headers=rw, status=404)
        hc.delete(path, headers=rw, status=404)
        hc.get(path, headers=rw, status=404)
    hc.post_json(f"/api/v1/checks/{UNKNOWN}", {}, headers={"X-Api-Key": "wrong"}, status=401)


def test_get_by_unique_key_for_read_only_keys(
    hc: webtest.TestApp, rw: dict[str, str], ro: dict[str, str]
) -> None:
    doc = created(hc, rw, name="Foo")
    key = unique_key(doc["uuid"])
    read = hc.get(f"/api/v3/checks/{key}", headers=ro).json
    assert read["name"] == "Foo" and "uuid" not in read and "ping_url" not in read
    hc.get(f"/api/v3/checks/{'a' * 40}", headers=ro, status=404)
    hc.post_json(f"/api/v3/checks/{key}", {"name": "x"}, headers=rw, status=404)


def test_list_filters_by_every_tag_and_by_slug(hc: webtest.TestApp, rw: dict[str, str]) -> None:
    created(hc, rw, 1, name="A one", tags="prod db")
    created(hc, rw, 1, name="B two", tags="prod")
    created(hc, rw, 1, name="C three", tags="production")

    def names(query: str) -> list[str]:
        return [c["name"] for c in hc.get(f"/api/v1/checks/{query}", headers=rw).json["checks"]]

    assert names("") == ["A one", "B two", "C three"]
    assert names("?tag=prod") == ["A one", "B two"]  # whole tags only
    assert names("?tag=prod&tag=db") == ["A one"]  # all must match
    assert names("?slug=b-two") == ["B two"]
    assert names("?tag=nothing") == []


def test_read_only_list_has_unique_keys_and_no_secrets(
    hc: webtest.TestApp, rw: dict[str, str], ro: dict[str, str]
) -> None:
    doc = created(hc, rw, name="Foo")
    (listed,) = hc.get("/api/v3/checks/", headers=ro).json["checks"]
    assert listed["unique_key"] == unique_key(doc["uuid"])
    assert doc["uuid"] not in str(listed)


def test_delete_answers_the_deleted_check(
    hc: webtest.TestApp, rw: dict[str, str], ro: dict[str, str]
) -> None:
    doc = created(hc, rw, name="Gone")
    hc.delete(f"/api/v3/checks/{doc['uuid']}", headers=ro, status=401)
    r = hc.delete(f"/api/v3/checks/{doc['uuid']}", headers=rw, status=200)
    assert r.json["name"] == "Gone" and r.json["uuid"] == doc["uuid"]
    hc.get(f"/api/v3/checks/{doc['uuid']}", headers=rw, status=404)
    assert hc.get(f"/ping/{doc['uuid']}", status=404).text == "not found"


# -- pause and resume (test_pause.py, test_resume.py) ------------------------------


def test_pause_is_idempotent_and_resume_needs_a_paused_check(
    hc: webtest.TestApp, rw: dict[str, str], ro: dict[str, str]
) -> None:
    doc = created(hc, rw, name="Job")
    base = f"/api/v3/checks/{doc['uuid']}"
    hc.get(f"/ping/{doc['uuid']}")
    r = hc.post(f"{base}/resume", headers=rw, status=409)
    assert r.text == "check is not paused"
    hc.post(f"{base}/pause", headers=ro, status=401)
    for _ in range(2):
        r = hc.post(f"{base}/pause", headers=rw, status=200)
        assert r.json["status"] == "paused" and r.json["next_ping"] is None
    flips = hc.get(f"{base}/flips/", headers=rw).json["flips"]
    assert [f["up"] for f in flips] == [0, 1]  # one pause flip (up 0), then new -> up
    r = hc.post(f"{base}/resume", headers=rw, status=200)
    assert (r.json["status"], r.json["last_ping"]) == ("new", None)
    hc.post(f"/api/v3/checks/{UNKNOWN}/pause", headers=rw, status=404)


# -- CORS, OPTIONS, methods (test_auth.py and every view's cors) ------------------


@pytest.mark.parametrize(
    ("path", "methods"),
    [("/api/v1/checks/", "GET, POST, OPTIONS"),
     (f"/api/v2/checks/{UNKNOWN}", "POST, DELETE, GET, OPTIONS"),
     (f"/api/v3/checks/{UNKNOWN}/pause", "POST, OPTIONS"),
     (f"/api/v3/checks/{UNKNOWN}/pings/", "GET, OPTIONS"),
     ("/api/v3/channels/", "GET, OPTIONS"), ("/api/v3/badges", "GET, OPTIONS")],
)  # fmt: skip
def test_options_is_204_without_a_key_and_every_answer_has_cors(
    hc: webtest.TestApp, path: str, methods: str
) -> None:
    r = hc.options(path, status=204)
    assert r.body == b""
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Headers"] == "X-Api-Key"
    assert r.headers["Access-Control-Allow-Methods"] == methods
    assert r.headers["Access-Control-Max-Age"] == "600"
    # 401 without a key, or 405 where GET is not allowed: CORS headers either way.
    assert hc.get(path, status="*").headers["Access-Control-Allow-Origin"] == "*"


def test_a_method_not_allowed_is_an_empty_405(hc: webtest.TestApp, rw: dict[str, str]) -> None:
    for method, path in (("PUT", "/api/v1/checks/"), ("PATCH", f"/api/v3/checks/{UNKNOWN}"),
                         ("GET", f"/api/v3/checks/{UNKNOWN}/pause"),
                         ("POST", "/api/v3/channels/")):  # fmt: skip
        r = hc.request(path, method=method, headers=rw, status=405)
        assert r.body == b"", (method, path)


def test_status_is_ok_without_a_key(hc: webtest.TestApp) -> None:
    for v in (1, 2, 3):
        assert hc.get(f"/api/v{v}/status/").text == "OK"
    assert "Access-Control-Allow-Origin" not in hc.get("/api/v3/status").headers


def test_unknown_api_paths_are_404_not_500(hc: webtest.TestApp, rw: dict[str, str]) -> None:
    for path in ("/api/v4/checks/", "/api/v3/nothing", "/api/v3/checks/x/y/z",
                 f"/api/v3/checks/{UNKNOWN}"):  # fmt: skip
        assert hc.get(path, headers=rw, status=404).text == "not found"

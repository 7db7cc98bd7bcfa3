"""The Pinging API over HTTP (SPEC §1.1–1.4): routes, methods, parameters, bodies, replies.

Every test drives the real app through WebTest against a real SQLite file and
reads back what was stored through the service. The cases of Healthchecks'
``hc/api/tests/test_ping.py`` and ``test_ping_by_slug.py`` are re-expressed here;
where SPEC marks a deliberate difference, SPEC wins.
"""

from __future__ import annotations

from typing import Any

import pytest
import webtest

from pingd.domain.checks import Check
from pingd.domain.checks import Ping
from pingd.service import Service
from pingd.store import channels as channels_queries
from pingd.writer.store import Store

CACHE_CONTROL = "no-cache, no-store, must-revalidate, max-age=0"
MISSING_UUID = "07c2f548-9850-4b27-af5d-6c9dc157ec02"
RID = "684e2e73-017e-465f-8149-d70b7c5aaa49"
OTHER_RID = "c5fce3f0-8d33-4c4a-a1b2-6f0e6f4c2d11"
WRONG_PING_KEY = "rrrrrrrrrrrrrrrrrrrrrr"

# (URL suffix, kind stored, exit status stored) for every action of PING.
ACTIONS = [
    ("", "success", None),
    ("/start", "start", None),
    ("/fail", "fail", None),
    ("/log", "log", None),
    ("/0", "success", 0),
    ("/1", "fail", 1),
    ("/123", "fail", 123),
    ("/255", "fail", 255),
    ("/007", "fail", 7),
    ("/000", "success", 0),
    ("/" + "0" * 5000 + "42", "fail", 42),
]
ACTION_IDS = ["success", "start", "fail", "log", "0", "1", "123", "255", "007", "000", "zeros42"]
SUFFIXES = ["", "/start", "/fail", "/log", "/0", "/3"]


def where(res: webtest.TestResponse) -> str:
    return f"{res.request.method} {res.request.url}"


def assert_ping_headers(res: webtest.TestResponse, body_limit: str | None) -> None:
    """Assert the headers of SPEC §1.2 that every Pinging API response carries."""
    got = tuple(
        res.headers.get(name)
        for name in ("Content-Type", "Access-Control-Allow-Origin", "Cache-Control",
                     "Ping-Body-Limit")
    )  # fmt: skip
    assert got == ("text/plain; charset=utf-8", "*", CACHE_CONTROL, body_limit), where(res)


def assert_reply(
    res: webtest.TestResponse, status: int, body: str, body_limit: str | None = None
) -> None:
    """Assert the exact status, body and headers of a reply."""
    assert (res.status_int, res.text) == (status, body), where(res)
    assert_ping_headers(res, body_limit if status in (200, 201) else None)


def only_ping(service: Service, check: Check) -> Ping:
    pings = service.list_pings(check.id)
    assert len(pings) == 1
    return pings[0]


def kinds_of(service: Service, check: Check) -> list[str]:
    return [ping.kind for ping in reversed(service.list_pings(check.id))]


def slugs(service: Service) -> list[str]:
    return [check.slug for check in service.list_checks()]


@pytest.fixture
def check(make_check: Any) -> Check:
    return make_check("foo")


@pytest.fixture(params=["uuid", "slug"])
def base(request: pytest.FixtureRequest, check: Check, ping_key: str) -> str:
    """The PING of SPEC §1.1 for the check ``foo``, in both of its forms."""
    if request.param == "uuid":
        return f"/ping/{check.uuid}"
    return f"/ping/{ping_key}/foo"


@pytest.fixture(params=["uuid", "slug"])
def missing_base(request: pytest.FixtureRequest, ping_key: str) -> str:
    """A PING, in both forms, for which no check exists."""
    if request.param == "uuid":
        return f"/ping/{MISSING_UUID}"
    return f"/ping/{ping_key}/missing"


# -- routes ----------------------------------------------------------------------


def test_it_answers_ok_to_a_success_ping(app: webtest.TestApp, base: str, check: Check, service):
    res = app.get(base)

    assert_reply(res, 200, "OK", "10000")
    ping = only_ping(service, check)
    assert (ping.n, ping.kind, ping.exit_status, ping.method) == (1, "success", None, "GET")


@pytest.mark.parametrize(("suffix", "kind", "exit_status"), ACTIONS, ids=ACTION_IDS)
def test_it_records_the_action_of_every_route(
    app: webtest.TestApp, base: str, check: Check, service, suffix, kind, exit_status
):
    res = app.get(base + suffix)

    assert_reply(res, 200, "OK", "10000")
    ping = only_ping(service, check)
    assert (ping.kind, ping.exit_status) == (kind, exit_status)


@pytest.mark.parametrize(("suffix", "kind", "exit_status"), ACTIONS, ids=ACTION_IDS)
def test_it_accepts_a_trailing_slash_on_every_route(
    app: webtest.TestApp, base: str, check: Check, service, suffix, kind, exit_status
):
    res = app.get(base + suffix + "/")

    assert_reply(res, 200, "OK", "10000")
    ping = only_ping(service, check)
    assert (ping.kind, ping.exit_status) == (kind, exit_status)


OVER_255 = ["256", "0256", "1000", "00000300", "9" * 5000]


def test_it_rejects_an_exit_status_over_255_of_a_known_check(
    app: webtest.TestApp, base: str, check: Check, service
):
    for status in OVER_255:
        for url in (f"{base}/{status}", f"{base}/{status}/"):
            res = app.get(url, status=400)

            assert_reply(res, 400, "invalid url format")
    assert service.list_pings(check.id) == []
    assert service.find_check(check.uuid).n_pings == 0


def test_it_answers_not_found_for_an_exit_status_over_255_of_an_unknown_check(
    app: webtest.TestApp, missing_base: str, service
):
    for status in OVER_255:
        res = app.get(f"{missing_base}/{status}", status=404)

        assert_reply(res, 404, "not found")
    assert slugs(service) == []


def test_it_answers_not_found_for_an_unknown_check(
    app: webtest.TestApp, missing_base: str, service
):
    for suffix in [*SUFFIXES, "/"]:
        res = app.get(missing_base + suffix, status=404)

        assert_reply(res, 404, "not found")
    assert slugs(service) == []


def test_it_matches_an_uppercase_uuid(app: webtest.TestApp, check: Check, service):
    for suffix in ("", "/fail", "/start/", "/"):
        res = app.get(f"/ping/{check.uuid.upper()}{suffix}")

        assert_reply(res, 200, "OK", "10000")
    assert [ping.kind for ping in service.list_pings(check.id)] == [
        "success", "start", "fail", "success"
    ]  # fmt: skip


def test_it_matches_a_mixed_case_uuid(app: webtest.TestApp, check: Check, service):
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(check.uuid))
    assert mixed not in (check.uuid, check.uuid.upper())

    res = app.get(f"/ping/{mixed}")

    assert_reply(res, 200, "OK", "10000")
    assert len(service.list_pings(check.id)) == 1


def test_it_answers_not_found_for_other_uuid_forms(app: webtest.TestApp, check: Check, service):
    uuid = check.uuid
    hex_ = uuid.replace("-", "")
    forms = [
        hex_,
        "%7B" + uuid + "%7D",
        "{" + uuid + "}",
        "urn:uuid:" + uuid,
        uuid + "0",
        uuid[:-1],
        f"{hex_[:4]}-{hex_[4:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:]}",
    ]
    for form in forms:
        for suffix in ("", "/", "/fail"):
            res = app.get(f"/ping/{form}{suffix}", status=404)

            assert_reply(res, 404, "not found")
    assert service.list_pings(check.id) == []


def test_it_answers_not_found_for_paths_that_match_no_route(
    app: webtest.TestApp, check: Check, ping_key: str, service
):
    paths = [
        "/ping",
        "/ping/",
        "/ping/not-uuid",
        "/ping/not-uuid/",
        "/ping/{uuid}/unknown",
        "/ping/{uuid}/START",
        "/ping/{uuid}/success",
        "/ping/{uuid}/start/extra",
        "/ping/{uuid}/fail/1",
        "/ping/{uuid}/-1",
        "/ping/{uuid}/1.0",
        "/ping/{uuid}/+1",
        "/ping/{uuid}/%D9%A3",
        "/ping/{key}",
        "/ping/{key}/",
        "/ping/{key}/foo/bar",
        "/ping/{key}/foo/start/1",
        "/ping/{key}/foo.bar",
        "/ping/{key}/fo%20o",
        "/ping/{key}/f%C3%B6o",
        "/ping/{key}/foo/LOG",
    ]
    for path in paths:
        res = app.get(path.format(uuid=check.uuid, key=ping_key), status=404)

        assert_reply(res, 404, "not found")
    assert service.list_pings(check.id) == []


def test_it_rejects_a_slug_with_uppercase_letters(
    app: webtest.TestApp, check: Check, ping_key: str, service
):
    urls = ["Foo", "FOO/fail", "foO/", "Foo/7", "Foo/256", "Foo?create=1", "New-Job?create=1"]
    for url in urls:
        res = app.get(f"/ping/{ping_key}/{url}", status=400)

        assert_reply(res, 400, "invalid url format")
    assert service.list_pings(check.id) == []
    assert slugs(service) == ["foo"]


def test_it_answers_not_found_for_an_unknown_ping_key(
    app: webtest.TestApp, check: Check, ping_key: str, service
):
    keys = [WRONG_PING_KEY, ping_key[:-1], ping_key + "a", "0" * 22]
    if ping_key.upper() != ping_key:
        keys.append(ping_key.upper())
    for key in keys:
        for suffix in ("", "/fail", "/256", "?create=1", "/new?create=1"):
            res = app.get(f"/ping/{key}/foo{suffix}", status=404)

            assert_reply(res, 404, "not found")
    assert service.list_pings(check.id) == []
    assert slugs(service) == ["foo"]


def test_it_answers_conflict_for_an_ambiguous_slug(
    app: webtest.TestApp, check: Check, ping_key: str, make_check, service
):
    twin = make_check("Foo")
    assert twin.slug == "foo"

    for suffix in [*SUFFIXES, "/", "?create=1", "/fail?create=1", "/999"]:
        res = app.get(f"/ping/{ping_key}/foo{suffix}", status=409)

        assert_reply(res, 409, "ambiguous slug")
    assert service.list_pings(check.id) == []
    assert service.list_pings(twin.id) == []
    assert slugs(service) == ["foo", "foo"]


def test_it_still_pings_an_ambiguous_check_by_its_uuid(
    app: webtest.TestApp, check: Check, make_check, service
):
    make_check("Foo")

    res = app.get(f"/ping/{check.uuid}")

    assert_reply(res, 200, "OK", "10000")
    assert len(service.list_pings(check.id)) == 1


def test_it_pings_by_every_kind_of_slug(
    app: webtest.TestApp, make_check: Any, ping_key: str, service
):
    names = ["Database Backup", "db_backup", "2024", "a", "x-1_y", "start", "fail", "log", "42"]
    created = [make_check(name) for name in names]
    assert [check.slug for check in created] == [
        "database-backup", "db_backup", "2024", "a", "x-1_y", "start", "fail", "log", "42"
    ]  # fmt: skip

    for check in created:
        assert_reply(app.get(f"/ping/{ping_key}/{check.slug}"), 200, "OK", "10000")
        assert_reply(app.get(f"/ping/{ping_key}/{check.slug}/fail/"), 200, "OK", "10000")

    for check in created:
        assert kinds_of(service, check) == ["success", "fail"]


# -- methods ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT"])
def test_it_records_each_ping_method(
    app: webtest.TestApp, base: str, check: Check, service, method
):
    res = app.request(base, method=method)

    assert res.status_int == 200
    assert res.body == (b"" if method == "HEAD" else b"OK")
    assert_ping_headers(res, "10000")
    ping = only_ping(service, check)
    assert (ping.method, ping.kind) == (method, "success")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("{base}", 200),
        ("{base}/fail", 200),
        ("{base}/256", 400),
        ("{base}?rid=x", 400),
        ("/ping/{missing}", 404),
        ("/ping/not-uuid", 404),
    ],
)
def test_it_answers_head_with_the_status_and_headers_of_get_and_no_body(
    app: webtest.TestApp, base: str, path, status
):
    url = path.format(base=base, missing=MISSING_UUID)

    got = app.get(url, status=status)
    head = app.head(url, status=status)

    assert head.body == b""
    assert head.status == got.status
    assert dict(head.headers) == dict(got.headers)


# WebTest's linter frowns on a Content-Type in a 204, but SPEC asks for it on every response.
@pytest.mark.filterwarnings("ignore:Content-Type header found in a 204 response")
def test_it_answers_options_as_a_preflight_without_recording_it(
    app: webtest.TestApp, base: str, check: Check, service
):
    for suffix in [*SUFFIXES, "/"]:
        res = app.options(base + suffix)

        assert (res.status_int, res.body) == (204, b""), where(res)
        assert_ping_headers(res, None)
    assert service.list_pings(check.id) == []
    assert service.find_check(check.uuid).n_pings == 0


@pytest.mark.filterwarnings("ignore:Content-Type header found in a 204 response")
def test_it_answers_options_for_an_unknown_check_without_creating_it(
    app: webtest.TestApp, missing_base: str, service
):
    res = app.options(missing_base + "?create=1")

    assert (res.status_int, res.body) == (204, b"")
    assert_ping_headers(res, None)
    assert slugs(service) == []


def test_it_answers_method_not_allowed_for_other_methods(
    app: webtest.TestApp, base: str, check: Check, service
):
    for method in ("DELETE", "PATCH", "TRACE"):
        for suffix in ("", "/fail", "/"):
            res = app.request(base + suffix, method=method, status=405)

            assert_reply(res, 405, "method not allowed")
    assert service.list_pings(check.id) == []


def test_it_accepts_any_host_header(app: webtest.TestApp, base: str, check: Check, service):
    res = app.get(base, headers={"Host": "evil.example:6666"})

    assert_reply(res, 200, "OK", "10000")
    assert len(service.list_pings(check.id)) == 1


def test_it_accepts_an_http_1_0_request_without_a_host_header(
    app: webtest.TestApp, base: str, check: Check, service
):
    req = webtest.TestRequest.blank(base)
    del req.environ["HTTP_HOST"]
    req.environ["SERVER_PROTOCOL"] = "HTTP/1.0"

    res = app.do_request(req, status=200)

    assert_reply(res, 200, "OK", "10000")
    assert len(service.list_pings(check.id)) == 1


# -- query parameters: rid ---------------------------------------------------------


@pytest.mark.parametrize("rid", [RID, RID.upper(), RID[:18] + RID[18:].upper()])
def test_it_stores_a_valid_rid_in_any_case(
    app: webtest.TestApp, base: str, check: Check, service, rid
):
    res = app.get(f"{base}/start?rid={rid}")

    assert_reply(res, 200, "OK", "10000")
    assert only_ping(service, check).rid == RID


BAD_RIDS = [
    "",
    "12345",
    RID + "0",
    RID[:-1],
    RID.replace("-", ""),
    "%7B" + RID + "%7D",
    RID + "%0A",
    "%0A" + RID,
    "%20" + RID,
    RID + "%20",
    "urn:uuid:" + RID,
    "g" + RID[1:],
    RID + "%00",
]


def test_it_rejects_a_bad_rid(app: webtest.TestApp, base: str, check: Check, service):
    for rid in BAD_RIDS:
        res = app.get(f"{base}?rid={rid}", status=400)

        assert_reply(res, 400, "invalid uuid format")
    assert service.list_pings(check.id) == []


def test_it_rejects_a_bad_rid_on_every_route(
    app: webtest.TestApp, base: str, check: Check, service
):
    for suffix in [*SUFFIXES, "/"]:
        res = app.post(f"{base}{suffix}?rid=12345", b"body", status=400)

        assert_reply(res, 400, "invalid uuid format")
    assert service.list_pings(check.id) == []
    assert service.find_check(check.uuid).n_pings == 0


def test_it_uses_the_last_rid_when_it_is_repeated(
    app: webtest.TestApp, base: str, check: Check, service
):
    assert_reply(app.get(f"{base}?rid=12345&rid={RID}"), 200, "OK", "10000")
    assert_reply(app.get(f"{base}?rid={RID}&rid={OTHER_RID}"), 200, "OK", "10000")
    res = app.get(f"{base}?rid={RID}&rid=12345", status=400)

    assert_reply(res, 400, "invalid uuid format")
    assert [ping.rid for ping in service.list_pings(check.id)] == [OTHER_RID, RID]


# -- query parameters: create=1 ------------------------------------------------------


def add_channel(store: Store, service: Service, name: str) -> int:
    """Create a notification channel directly in the database; return its id."""
    project_id = service.project().id
    channel = store.write(
        lambda conn: channels_queries.insert_channel(
            conn, project_id, "webhook", name, {"url": "http://example.invalid/"}, service.now()
        )
    )
    return channel.id


def test_it_creates_a_missing_check_with_create_1(
    app: webtest.TestApp, ping_key: str, service, store, clock
):
    channels = [add_channel(store, service, "one"), add_channel(store, service, "two")]

    res = app.get(f"/ping/{ping_key}/new-job?create=1")

    assert_reply(res, 201, "Created", "10000")
    created = service.find_check("new-job")
    assert (created.name, created.slug) == ("new-job", "new-job")
    assert (created.timeout, created.grace, created.schedule) == (86400, 3600, "")
    assert (created.status, created.n_pings, created.last_ping) == ("up", 1, clock.now)
    assert service.channel_ids_by_check() == {created.id: channels}
    assert only_ping(service, created).kind == "success"


@pytest.mark.parametrize(("suffix", "kind", "exit_status"), ACTIONS[:8], ids=ACTION_IDS[:8])
def test_it_creates_a_check_from_every_route_with_create_1(
    app: webtest.TestApp, ping_key: str, service, suffix, kind, exit_status
):
    for url in (
        f"/ping/{ping_key}/job{suffix}?create=1",
        f"/ping/{ping_key}/job2{suffix}/?create=1",
    ):
        res = app.get(url)

        assert_reply(res, 201, "Created", "10000")
    for slug in ("job", "job2"):
        ping = only_ping(service, service.find_check(slug))
        assert (ping.kind, ping.exit_status) == (kind, exit_status)


def test_it_stores_the_rid_of_a_ping_that_creates_its_check(
    app: webtest.TestApp, ping_key: str, service
):
    res = app.get(f"/ping/{ping_key}/job/start?create=1&rid={RID}")

    assert_reply(res, 201, "Created", "10000")
    created = service.find_check("job")
    assert only_ping(service, created).rid == RID
    assert created.last_start_rid == RID


def test_it_answers_ok_when_create_1_finds_the_check(
    app: webtest.TestApp, ping_key: str, check: Check, service
):
    res = app.get(f"/ping/{ping_key}/foo?create=1")

    assert_reply(res, 200, "OK", "10000")
    assert slugs(service) == ["foo"]
    assert len(service.list_pings(check.id)) == 1


def test_it_validates_the_whole_request_before_creating_a_check(
    app: webtest.TestApp, ping_key: str, service
):
    cases = [
        ("/256?create=1", 400, "invalid url format"),
        ("/1000?create=1&rid=" + RID, 400, "invalid url format"),
        ("/" + "9" * 5000 + "?create=1", 400, "invalid url format"),
        ("?create=1&rid=12345", 400, "invalid uuid format"),
        ("/start?create=1&rid=", 400, "invalid uuid format"),
        ("/fail/?create=1&rid=%7B" + RID + "%7D", 400, "invalid uuid format"),
        ("?create=1&rid=" + RID + "%0A", 400, "invalid uuid format"),
        ("/log?rid=" + RID + "&create=1&rid=x", 400, "invalid uuid format"),
    ]
    for query, status, body in cases:
        res = app.get(f"/ping/{ping_key}/job{query}", status=status)

        assert_reply(res, status, body)
    assert slugs(service) == []


def test_it_ignores_other_values_of_create(app: webtest.TestApp, ping_key: str, service):
    for value in ("0", "", "true", "yes", "2", "01", "1.0", "%201", "TRUE", "on"):
        res = app.get(f"/ping/{ping_key}/job?create={value}", status=404)

        assert_reply(res, 404, "not found")
    assert slugs(service) == []


def test_it_does_not_create_by_default(app: webtest.TestApp, ping_key: str, service):
    res = app.get(f"/ping/{ping_key}/job", status=404)

    assert_reply(res, 404, "not found")
    assert slugs(service) == []


def test_it_ignores_create_on_uuid_urls(app: webtest.TestApp, service):
    for suffix in ("?create=1", "/fail?create=1", "/?create=1"):
        res = app.get(f"/ping/{MISSING_UUID}{suffix}", status=404)

        assert_reply(res, 404, "not found")
    assert service.list_checks() == []


def test_it_creates_nothing_when_the_project_is_at_max_checks(
    make_app: Any, ping_key: str, check: Check, service
):
    app = make_app(limits__max_checks=1)

    res = app.get(f"/ping/{ping_key}/job?create=1", status=404)

    assert_reply(res, 404, "not found")
    assert slugs(service) == ["foo"]


def test_it_creates_checks_up_to_max_checks(make_app: Any, ping_key: str, check: Check, service):
    app = make_app(limits__max_checks=2)

    assert_reply(app.get(f"/ping/{ping_key}/one?create=1"), 201, "Created", "10000")
    res = app.get(f"/ping/{ping_key}/two?create=1", status=404)

    assert_reply(res, 404, "not found")
    assert slugs(service) == ["foo", "one"]
    assert_reply(app.get(f"/ping/{ping_key}/foo?create=1"), 200, "OK", "10000")


# -- bodies ----------------------------------------------------------------------


def test_it_stores_the_body_of_a_post_as_raw_bytes(
    app: webtest.TestApp, base: str, check: Check, service
):
    res = app.post(base, b"hello world", content_type="text/plain")

    assert_reply(res, 200, "OK", "10000")
    ping = only_ping(service, check)
    assert (ping.method, ping.body, ping.body_size) == ("POST", b"hello world", 11)


def test_it_stores_the_body_whatever_its_content_type(
    app: webtest.TestApp, base: str, check: Check, service
):
    cases = [
        ("text/plain", b"runitor says hi\n"),
        ("text/plain; charset=utf-8", "d\u00e9j\u00e0 vu \U0001f600".encode()),
        ("application/x-www-form-urlencoded", b"a=1&b=%C3%A9&c"),
        ("application/json", b'{"ok": true, "n": [1, 2]}'),
        ("application/octet-stream", bytes(range(256))),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data\r\n\r\nhi"),
        ("text/plain; charset=latin-1", b"caf\xe9"),
        (None, b"no content type"),
    ]
    for content_type, body in cases:
        headers = {} if content_type is None else {"Content-Type": content_type}

        res = app.request(base, method="POST", body=body, headers=headers)

        assert_reply(res, 200, "OK", "10000")
    stored = [(ping.body, ping.body_size) for ping in reversed(service.list_pings(check.id))]
    assert stored == [(body, len(body)) for _, body in cases]


def test_it_takes_rid_and_create_from_the_query_string_never_from_a_form_body(
    app: webtest.TestApp, base: str, check: Check, ping_key: str, service
):
    form = "application/x-www-form-urlencoded"

    res = app.post(base, b"rid=12345&create=1", content_type=form)

    assert_reply(res, 200, "OK", "10000")
    ping = only_ping(service, check)
    assert (ping.rid, ping.body) == (None, b"rid=12345&create=1")
    res = app.post(f"/ping/{ping_key}/job", b"create=1", content_type=form, status=404)
    assert_reply(res, 404, "not found")
    assert slugs(service) == ["foo"]


@pytest.mark.parametrize("method", ["PUT", "GET"])
def test_it_stores_the_body_of_other_methods(
    app: webtest.TestApp, base: str, check: Check, service, method
):
    res = app.request(base + "/log", method=method, body=b"from " + method.encode())

    assert_reply(res, 200, "OK", "10000")
    ping = only_ping(service, check)
    assert (ping.method, ping.kind, ping.body) == (method, "log", b"from " + method.encode())


def test_it_truncates_the_body_at_the_ping_body_limit(
    make_app: Any, base: str, check: Check, service
):
    app = make_app(storage__ping_body_limit=5)

    res = app.post(base, b"hello world", content_type="text/plain")

    assert_reply(res, 200, "OK", "5")
    ping = only_ping(service, check)
    assert (ping.body, ping.body_size) == (b"hello", 11)


def test_it_keeps_a_body_of_exactly_the_limit_whole(
    make_app: Any, base: str, check: Check, service
):
    app = make_app(storage__ping_body_limit=5)

    assert_reply(app.post(base, b"hello"), 200, "OK", "5")

    ping = only_ping(service, check)
    assert (ping.body, ping.body_size) == (b"hello", 5)


def test_it_stores_no_body_with_a_limit_of_zero(make_app: Any, base: str, check: Check, service):
    app = make_app(storage__ping_body_limit=0)

    res = app.post(base, b"hello")

    assert_reply(res, 200, "OK", "0")
    ping = only_ping(service, check)
    assert (ping.body, ping.body_size) == (b"", 5)


def test_it_reads_a_body_far_over_the_ping_body_limit(
    app: webtest.TestApp, base: str, check: Check, service
):
    body = bytes(range(256)) * 2000

    res = app.post(base, body, content_type="application/octet-stream")

    assert_reply(res, 200, "OK", "10000")
    ping = only_ping(service, check)
    assert (ping.body, ping.body_size) == (body[:10000], 512000)


@pytest.mark.parametrize(
    "body", [b"Hello \xe9 World", b"\xff\xfe\x00\x01", b"\xc3", b"\xed\xa0\x80 surrogate"]
)
def test_it_stores_a_body_that_is_not_utf8_as_it_is(
    app: webtest.TestApp, base: str, check: Check, service, body
):
    res = app.post(base, body, content_type="text/plain")

    assert_reply(res, 200, "OK", "10000")
    assert only_ping(service, check).body == body


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_it_stores_a_multibyte_character_cut_by_the_limit_as_it_is(
    make_app: Any, base: str, check: Check, service, content_type
):
    app = make_app(storage__ping_body_limit=5)

    res = app.post(base, "abcd\u00e9f".encode(), content_type=content_type)

    assert_reply(res, 200, "OK", "5")
    ping = only_ping(service, check)
    assert (ping.body, ping.body_size) == (b"abcd\xc3", 7)


def test_it_answers_413_for_a_body_over_max_request_body(
    make_app: Any, base: str, check: Check, service
):
    app = make_app(server__max_request_body=100, storage__ping_body_limit=50)

    res = app.post(base, b"x" * 101, content_type="text/plain", status=413)

    assert_reply(res, 413, "request body too large")
    assert service.list_pings(check.id) == []
    assert_reply(app.post(base, b"x" * 100), 200, "OK", "50")
    assert only_ping(service, check).body_size == 100


def test_it_answers_413_for_a_body_over_the_default_1_mib(
    app: webtest.TestApp, base: str, check: Check, service
):
    res = app.put(base, b"x" * (1048576 + 1), status=413)

    assert_reply(res, 413, "request body too large")
    assert service.list_pings(check.id) == []
    assert_reply(app.put(base, b"x" * 1048576), 200, "OK", "10000")
    assert only_ping(service, check).body_size == 1048576


# -- the response table ------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "status", "body"),
    [
        ("accepted", 200, "OK"),
        ("created", 201, "Created"),
        ("unknown check", 404, "not found"),
        ("unknown ping key", 404, "not found"),
        ("no route", 404, "not found"),
        ("exit status over 255", 400, "invalid url format"),
        ("uppercase slug", 400, "invalid url format"),
        ("bad rid", 400, "invalid uuid format"),
        ("ambiguous slug", 409, "ambiguous slug"),
        ("other method", 405, "method not allowed"),
        ("body too large", 413, "request body too large"),
    ],
)
def test_it_answers_every_case_of_the_response_table_with_the_ping_headers(
    make_app: Any, make_check: Any, ping_key: str, case, status, body
):
    app = make_app(server__max_request_body=100, storage__ping_body_limit=20)
    check = make_check("foo")
    key_url = f"/ping/{ping_key}"
    requests = {
        "accepted": ("GET", f"/ping/{check.uuid}", b""),
        "created": ("GET", f"{key_url}/new?create=1", b""),
        "unknown check": ("GET", f"/ping/{MISSING_UUID}", b""),
        "unknown ping key": ("GET", f"/ping/{WRONG_PING_KEY}/foo", b""),
        "no route": ("GET", "/ping/not-a-route/at/all", b""),
        "exit status over 255": ("GET", f"/ping/{check.uuid}/256", b""),
        "uppercase slug": ("GET", f"{key_url}/Foo", b""),
        "bad rid": ("GET", f"/ping/{check.uuid}?rid=1", b""),
        "ambiguous slug": ("GET", f"{key_url}/twin", b""),
        "other method": ("DELETE", f"/ping/{check.uuid}", b""),
        "body too large": ("POST", f"/ping/{check.uuid}", b"x" * 101),
    }
    make_check("twin")
    make_check("Twin")
    method, url, payload = requests[case]

    res = app.request(url, method=method, body=payload, status=status)

    assert_reply(res, status, body, "20")


# -- what is stored with a ping -------------------------------------------------------


def test_it_stores_every_field_of_a_ping(app: webtest.TestApp, check: Check, service, clock):
    res = app.post(
        f"https://localhost/ping/{check.uuid}/7?rid={RID}",
        b"exit 7",
        headers={"User-Agent": "curl/8.5.0"},
        extra_environ={"REMOTE_ADDR": "203.0.113.9"},
    )

    assert_reply(res, 200, "OK", "10000")
    assert only_ping(service, check) == Ping(
        check_id=check.id, n=1, created=clock.now, kind="fail", exit_status=7, rid=RID,
        scheme="https", method="POST", remote_addr="203.0.113.9", ua="curl/8.5.0",
        body=b"exit 7", body_size=6,
    )  # fmt: skip


@pytest.mark.parametrize("addr", ["198.51.100.23", "2001:db8::1"])
def test_it_stores_the_remote_address(app: webtest.TestApp, base: str, check: Check, service, addr):
    app.get(base, extra_environ={"REMOTE_ADDR": addr})

    assert only_ping(service, check).remote_addr == addr


def test_it_ignores_forwarded_headers_from_a_peer_that_is_not_the_trusted_proxy(
    app: webtest.TestApp, base: str, check: Check, service
):
    app.get(
        base,
        headers={"X-Forwarded-For": "1.1.1.1, 2.2.2.2", "X-Forwarded-Proto": "https"},
        extra_environ={"REMOTE_ADDR": "198.51.100.23"},
    )

    ping = only_ping(service, check)
    assert (ping.remote_addr, ping.scheme) == ("198.51.100.23", "http")


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_it_stores_the_scheme(app: webtest.TestApp, base: str, check: Check, service, scheme):
    app.get(f"{scheme}://localhost{base}")

    assert only_ping(service, check).scheme == scheme


def test_it_stores_a_120_character_user_agent_whole(
    app: webtest.TestApp, base: str, check: Check, service
):
    ua = (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_4) "
        "AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/44.0.2403.89 Safari/537.36"
    )

    app.get(base, headers={"User-Agent": ua})

    assert only_ping(service, check).ua == ua


def test_it_truncates_a_long_user_agent_to_200_characters(
    app: webtest.TestApp, base: str, check: Check, service
):
    ua = "01234567890" * 30

    app.get(base, headers={"User-Agent": ua})

    assert only_ping(service, check).ua == ua[:200]

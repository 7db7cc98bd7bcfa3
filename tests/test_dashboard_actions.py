"""The dashboard's actions, filters, channels page and TV view (WebTest, real SQLite, fake clock).

Every action is a POST form answered 303; these pin that each one does what
it says through the service layer, that the edit form shows the API's own
validation beside each field, and that a read-only session, a missing or
wrong form token and a foreign origin change nothing. The browser tests
drive the same forms in Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import webtest
from conftest import FakeClock
from receivers import http_receiver

import pingd.dashboard
from pingd.dashboard.render import STATUS_SYMBOLS
from pingd.domain.checks import Check
from pingd.service import Service
from pingd.service.pings import PingRequest


def form_token(page: webtest.TestResponse) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def ping(service: Service, uuid: str, action: str = "success") -> None:
    service.record_ping(
        PingRequest(action=action, method="POST", scheme="https", remote_addr="198.51.100.4",
                    ua="curl/8.5", body=b"", body_size=0, uuid=uuid)
    )  # fmt: skip


@pytest.fixture
def writer(app: webtest.TestApp, service: Service) -> webtest.TestApp:
    app.post("/login", {"key": service.create_api_key("browser")}, status=303)
    return app


@pytest.fixture
def reader(app: webtest.TestApp, service: Service) -> webtest.TestApp:
    app.post("/login", {"key": service.create_api_key("wall", read_only=True)}, status=303)
    return app


def post(app: webtest.TestApp, path: str, fields: dict[str, Any] | None = None,
         **kwargs: Any) -> webtest.TestResponse:  # fmt: skip
    token = form_token(app.get("/"))
    return app.post(path, {"csrf": token, **(fields or {})}, **kwargs)


def posts(page: webtest.TestResponse) -> list[str]:
    """Return where the page's POST forms go."""
    return [f.action for f in page.forms.values() if f.method.lower() == "post"]


def notice(app: webtest.TestApp, answer: webtest.TestResponse) -> str:
    page = app.get(answer.headers["Location"])
    match = re.search(r'<p class="notice" role="status">(.*?)</p>', page.text)
    assert match, page.text
    return match.group(1)


def test_pause_and_resume_redirect_back_with_a_notice_shown_once(
    writer: webtest.TestApp, service: Service, make_check: Any
) -> None:
    check = make_check("Nightly backup")
    ping(service, check.uuid)
    answer = post(writer, f"/checks/{check.uuid}/pause", {"back": "/?tag=db"}, status=303)
    assert answer.headers["Location"] == "/?tag=db"
    assert service.get_check(check.uuid).status == "paused"
    assert "Paused Nightly backup" in notice(writer, answer)
    assert 'class="notice"' not in writer.get("/").text  # shown once
    answer = post(writer, f"/checks/{check.uuid}/resume", status=303)
    assert answer.headers["Location"] == f"/checks/{check.uuid}"
    assert service.get_check(check.uuid).status == "new"
    again = post(writer, f"/checks/{check.uuid}/resume", status=303)
    assert "was not paused" in notice(writer, again)


def test_back_goes_only_to_a_local_page(writer: webtest.TestApp, make_check: Any) -> None:
    check = make_check()
    answer = post(writer, f"/checks/{check.uuid}/pause", {"back": "//evil.example/"}, status=303)
    assert answer.headers["Location"] == "/"


def test_ping_now_records_a_success_ping_from_the_dashboard(
    writer: webtest.TestApp, service: Service, make_check: Any
) -> None:
    check = make_check()
    post(writer, f"/checks/{check.uuid}/ping", status=303)
    [recorded] = service.list_pings(check.id)
    assert (recorded.kind, recorded.ua, recorded.method) == ("success", "pingd dashboard", "POST")
    assert service.get_check(check.uuid).status == "up"


def test_delete_asks_first_then_deletes(
    writer: webtest.TestApp, service: Service, make_check: Any
) -> None:
    check = make_check("Old job")
    page = writer.get(f"/checks/{check.uuid}/delete", status=200)
    assert "Delete Old job?" in page.text and "stop working" in page.text
    assert service.get_check(check.uuid)  # the GET changed nothing
    answer = page.forms["delete-form"].submit(status=303)
    assert answer.headers["Location"] == "/"
    assert "Deleted Old job" in notice(writer, answer)
    assert [c.name for c in service.list_checks()] == []
    writer.get(f"/checks/{check.uuid}", status=404)


def test_creating_a_check_through_the_form(
    writer: webtest.TestApp, service: Service, svc: Service
) -> None:
    hook = svc.create_channel("webhook", "hook", {"url_down": "http://192.0.2.1/"})
    form = writer.get("/checks/new").forms[1]
    form["name"] = "DB dump"
    form["tags"] = "db prod"
    form["kind"] = "cron"
    form["schedule"] = "30 2 * * *"
    form["tz"] = "Europe/Berlin"
    form["grace"] = "2h"
    form["channel"] = [str(hook.id)]
    answer = form.submit(status=303)
    [check] = service.list_checks()
    assert answer.headers["Location"] == f"/checks/{check.uuid}"
    assert (check.name, check.tags, check.schedule, check.tz, check.grace) == (
        "DB dump", "db prod", "30 2 * * *", "Europe/Berlin", 7200)  # fmt: skip
    assert service.channel_ids_by_check() == {check.id: [hook.id]}
    assert "Created DB dump" in notice(writer, answer)


def test_the_form_shows_the_apis_problems_beside_each_field_and_saves_nothing(
    writer: webtest.TestApp, service: Service
) -> None:
    form = writer.get("/checks/new").forms[1]
    form["name"] = "x" * 101
    form["timeout"] = "10s"
    form["grace"] = "soon"
    page = form.submit(status=422)
    assert service.list_checks() == []
    for field in ("name", "grace"):
        assert f'id="{field}-error"' in page.text
        assert re.search(f'id="f-{field}"[^>]*aria-invalid="true"', page.text)
    assert "must be a duration" in page.text
    assert page.forms[1]["tags"].value == ""  # the form comes back as typed
    assert page.forms[1]["timeout"].value == "10s"
    form = page.forms[1]
    form["name"], form["grace"] = "ok", "1h"
    page = form.submit(status=422)  # the period's own rule, from the API's validation
    assert 'id="timeout-error"' in page.text and "too small" in page.text
    form = page.forms[1]
    form["kind"], form["schedule"] = "cron", "61 * * * *"
    page = form.submit(status=422)
    assert 'id="schedule-error"' in page.text
    assert service.list_checks() == []


def test_editing_a_check_changes_every_field_the_form_has(
    writer: webtest.TestApp, service: Service, make_check: Any
) -> None:
    check = make_check("Backup", schedule="0 3 * * *", tz="UTC")
    form = writer.get(f"/checks/{check.uuid}/edit").forms[1]
    assert form["kind"].value == "cron" and form["schedule"].value == "0 3 * * *"
    form["kind"] = "simple"
    form["timeout"] = "1d"
    form["desc"] = "Runs <nightly>"
    form["methods"] = True
    form["filter_body"] = True
    form["failure_kw"] = "ERROR, FATAL"
    form["manual_resume"] = True
    form.submit(status=303)
    saved = service.get_check(check.uuid)
    assert (saved.is_cron, saved.timeout, saved.desc, saved.methods) == (
        False, 86400, "Runs <nightly>", "POST")  # fmt: skip
    assert (saved.filter_body, saved.failure_kw, saved.manual_resume) == (
        True,
        "ERROR, FATAL",
        True,
    )
    page = writer.get(f"/checks/{check.uuid}/edit")
    assert "Runs &lt;nightly&gt;" in page.text and "<nightly>" not in page.text


def test_the_schedule_preview_needs_no_script(
    writer: webtest.TestApp, make_check: Any, clock: FakeClock
) -> None:
    check = make_check()
    page = writer.get(
        f"/checks/{check.uuid}/edit",
        {
            "kind": "cron",
            "schedule": "0 9 * * 1",
            "tz": "Europe/Berlin",
            "grace": "1h",
            "name": "Backup",
        },  # fmt: skip
    )
    assert "Next expected pings" in page.text
    assert page.forms[1]["schedule"].value == "0 9 * * 1"  # the form as typed
    bad = writer.get(f"/checks/{check.uuid}/edit", {"kind": "cron", "schedule": "nope",
                                                   "tz": "Mars/Base", "grace": "1h"})  # fmt: skip
    assert 'class="preview"' in bad.text and "Next expected pings" not in bad.text


def test_channels_are_attached_and_detached_from_the_check_page(
    writer: webtest.TestApp, service: Service, svc: Service, make_check: Any
) -> None:
    check = make_check()
    one = svc.create_channel("webhook", "one", {"url_down": "http://192.0.2.1/"})
    two = svc.create_channel("webhook", "two", {"url_down": "http://192.0.2.2/"})
    form = writer.get(f"/checks/{check.uuid}").forms["channels-form"]
    form["channel"] = [str(one.id), str(two.id)]
    answer = form.submit(status=303)
    assert service.channel_ids_by_check() == {check.id: [one.id, two.id]}
    assert "now alerts 2 channels" in notice(writer, answer)
    post(writer, f"/checks/{check.uuid}/channels", {"channel": str(two.id)}, status=303)
    assert service.channel_ids_by_check() == {check.id: [two.id]}
    post(writer, f"/checks/{check.uuid}/channels", {"channel": "999"}, status=303)
    assert service.channel_ids_by_check() == {}


WRITES = ["pause", "resume", "ping", "channels", "delete", "edit"]


@pytest.mark.parametrize("action", WRITES)
def test_a_read_only_session_sees_no_action_and_its_posts_change_nothing(
    reader: webtest.TestApp, service: Service, make_check: Any, action: str
) -> None:
    check = make_check("Watched", tags="db")
    ping(service, check.uuid)
    for page in (reader.get("/"), reader.get(f"/checks/{check.uuid}")):
        assert posts(page) == ["/logout"]
        assert "/edit" not in page.text and "/delete" not in page.text
    before = service.get_check(check.uuid)
    answer = post(reader, f"/checks/{check.uuid}/{action}", {"name": "x"}, status=403)
    assert "read-only" in answer.text
    assert service.get_check(check.uuid) == before
    assert len(service.list_pings(check.id)) == 1
    reader.get("/checks/new", status=403)
    reader.get(f"/checks/{check.uuid}/edit", status=403)
    reader.get(f"/checks/{check.uuid}/delete", status=403)


@pytest.mark.parametrize("action", WRITES)
@pytest.mark.parametrize(
    ("token", "headers"),
    [
        (None, {}),
        ("0" * 64, {}),
        ("own", {"Origin": "https://evil.example"}),
        ("own", {"Sec-Fetch-Site": "cross-site"}),
    ],  # fmt: skip
    ids=["no token", "wrong token", "foreign origin", "cross-site"],
)
def test_a_forged_post_changes_nothing(
    writer: webtest.TestApp, service: Service, make_check: Any, action: str,
    token: str | None, headers: dict[str, str],
) -> None:  # fmt: skip
    check = make_check("Guarded")
    ping(service, check.uuid)
    fields = {"name": "renamed", "kind": "simple", "timeout": "1d", "grace": "1h"}
    if token is not None:
        fields["csrf"] = form_token(writer.get("/")) if token == "own" else token
    before = service.get_check(check.uuid)
    writer.post(f"/checks/{check.uuid}/{action}", fields, headers=headers, status=403)
    writer.post("/checks/new", fields, headers=headers, status=403)
    assert service.get_check(check.uuid) == before
    assert [c.name for c in service.list_checks()] == ["Guarded"]
    assert len(service.list_pings(check.id)) == 1


def test_a_signed_out_post_is_sent_to_sign_in(app: webtest.TestApp, make_check: Any) -> None:
    check = make_check()
    answer = app.post(f"/checks/{check.uuid}/pause", {}, status=303)
    assert answer.headers["Location"].startswith("/login?next=")


def _statuses(service: Service, make_check: Any, clock: FakeClock) -> dict[str, Check]:
    tagged = [("alpha", "db prod"), ("bravo", "db"), ("charlie", "web"), ("delta", "")]
    checks = {name: make_check(name, tags=tags, timeout=3600, grace=600) for name, tags in tagged}
    for name in ("alpha", "bravo", "charlie"):
        ping(service, checks[name].uuid)
    clock.advance(hours=2)
    ping(service, checks["charlie"].uuid)
    service.sweep_overdue()
    return checks


def test_the_checks_page_filters_by_status_tag_and_search(
    writer: webtest.TestApp, service: Service, make_check: Any, clock: FakeClock
) -> None:
    _statuses(service, make_check, clock)

    def names(query: str) -> list[str]:
        page = writer.get("/" + query)
        return re.findall(r'<a href="/checks/[^"]+">([^<]+)</a>', page.text)

    assert names("") == ["alpha", "bravo", "charlie", "delta"]  # down first, then by name
    assert names("?status=down") == ["alpha", "bravo"]
    assert names("?status=up") == ["charlie"]
    assert names("?tag=db") == ["alpha", "bravo"]
    assert names("?tag=db&tag=prod") == ["alpha"]
    assert names("?q=ARL") == ["charlie"]
    assert names("?status=nonsense") == ["alpha", "bravo", "charlie", "delta"]
    page = writer.get("/?tag=db")
    assert "(2 down) Checks" in page.text
    assert 'href="/favicon.svg?down=2"' in page.text
    assert 'href="/?status=down&amp;tag=db"' in page.text  # the counts keep the other filters
    assert "No check matches" in writer.get("/?q=zzz").text


def test_the_checks_page_shows_last_success_duration_and_when_due(
    writer: webtest.TestApp, service: Service, make_check: Any, clock: FakeClock
) -> None:
    _statuses(service, make_check, clock)
    page = writer.get("/?q=alpha").text
    assert "overdue by 1 h" in page and "2 h ago" in page  # last success, before it went down
    assert re.search(r'<td title="\d{4}-\d\d-\d\d [\d:]+ UTC">2 h ago\b', page)  # exact on hover
    up = writer.get("/?q=charlie").text
    assert "due in 1 h" in up and "just now" in up


def test_the_checks_table_draws_each_status_symbol_from_the_stylesheet() -> None:
    """The table's rows carry the status word; the symbol beside it comes from pingd.css."""
    css = (Path(pingd.dashboard.__file__).parent / "static" / "pingd.css").read_text()
    drawn = dict(re.findall(r'tr\.status-(\w+) > td:first-child::before \{ content: "(.) ";', css))
    assert drawn == STATUS_SYMBOLS
    hidden = re.findall(
        r'tr\.status-\w+ > td:first-child::before \{[^}]*content: "(.) " / "";', css
    )
    assert len(hidden) == len(STATUS_SYMBOLS)  # and kept from screen readers, which read the word


def test_an_empty_dashboard_says_how_to_make_a_check(
    writer: webtest.TestApp, service: Service
) -> None:
    page = writer.get("/").text
    assert "No checks yet" in page
    assert f"/ping/{service.project().ping_key}/my-job?create=1" in page


def test_the_channels_page_masks_settings_and_tests_a_channel(
    writer: webtest.TestApp, svc: Service, make_check: Any
) -> None:
    with http_receiver() as receiver:
        channel = svc.create_channel(
            "webhook", "<b>hook</b>",
            {"url_down": receiver.url + "/down?token=s3cr3t-t0ken-value", "body_down": "$NAME"},
            attach_all=False,
        )  # fmt: skip
        check = make_check("Served")
        svc.update_check(check.id, {"channels": [channel.id]})
        page = writer.get("/channels")
        assert "&lt;b&gt;hook&lt;/b&gt;" in page.text and "<b>hook</b>" not in page.text
        assert "s3cr3t-t0ken-value" not in page.text
        assert f'href="/checks/{check.uuid}">Served</a>' in page.text
        answer = page.forms["test-channel-" + str(channel.id)].submit(status=303)
        assert answer.headers["Location"] == "/channels"
        assert "sent" in notice(writer, answer)
        assert len(receiver.requests) == 1
        receiver.fail_next(1, 500)
        answer = post(writer, f"/channels/{channel.id}/test", status=303)
        assert "failed" in notice(writer, answer)
    post(writer, "/channels/999/test", status=303)


def test_the_tv_view_is_tiles_without_buttons(
    writer: webtest.TestApp, service: Service, make_check: Any, clock: FakeClock
) -> None:
    _statuses(service, make_check, clock)
    page = writer.get("/tv?tag=db")
    assert page.headers["Cache-Control"] == "no-store"
    assert 'http-equiv="refresh"' not in page.text  # WCAG 2.2.1: the script refreshes it
    assert page.text.count('class="tile status-down"') == 2
    assert "charlie" not in page.text
    assert posts(page) == ["/logout"]


def test_the_script_and_the_favicon_are_served_from_the_package(app: webtest.TestApp) -> None:
    script = app.get("/static/pingd.js", status=200)
    assert script.content_type == "text/javascript"
    assert "data-live" in script.text and "replaceState" in script.text
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    calm = app.get("/favicon.svg", status=200)
    assert calm.content_type == "image/svg+xml" and "<text" not in calm.text
    alarmed = app.get("/favicon.svg?down=3")
    assert ">3</text>" in alarmed.text
    assert ">99+</text>" in app.get("/favicon.svg?down=1000").text
    assert "<text" not in app.get("/favicon.svg?down=<script>").text

"""The alert policy through every face: /v1, the CLI, the config files and the dashboard.

The rules themselves are ``test_alert_policy.py``'s; these pin that each face
sets and shows the same settings (thresholds, streaks, reminders, start
windows, late notices, maintenance windows, holding alerts until a time),
answers bad input with the documented 4xx naming the field, and that
developer mode touches no real window. Real SQLite, a fake clock, WebTest.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import webtest
from conftest import START
from conftest import FakeClock

from pingd.app import create_app
from pingd.cli.main import main
from pingd.config import Config
from pingd.config import default_config
from pingd.declared.parse import load_declaration
from pingd.declared.plan import render_plan
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.writer.store import Store


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return default_config(storage__path=str(tmp_path / "pingd.db"), api__burst=1000)


@pytest.fixture
def api(config: Config, store: Store, clock: FakeClock, svc: Service) -> webtest.TestApp:
    app = webtest.TestApp(create_app(config, store=store, clock=clock, service=svc))
    app.extra_environ = {"HTTP_X_API_KEY": svc.create_api_key("tests")}
    return app


def fail(svc: Service, uuid: str) -> None:
    svc.record_ping(PingRequest(action="fail", method="GET", scheme="http", remote_addr="::1",
                                ua="t", body=b"", body_size=0, uuid=uuid))  # fmt: skip


# -- /v1 ------------------------------------------------------------------------------


def test_checks_take_and_show_the_policy_and_the_streaks(
    api: webtest.TestApp, svc: Service
) -> None:
    data = api.post_json("/v1/checks", {"name": "Backup", "failure_threshold": 2,
                                        "success_threshold": 3, "remind_every": 3600,
                                        "start_window": 600}, status=201).json["data"]  # fmt: skip
    assert {
        k: data[k]
        for k in (
            "failure_threshold",
            "success_threshold",
            "remind_every",
            "start_window",
            "fail_streak",
            "success_streak",
            "quiet_until",
        )
    } == {  # fmt: skip
        "failure_threshold": 2,
        "success_threshold": 3,
        "remind_every": 3600,
        "start_window": 600,
        "fail_streak": 0,
        "success_streak": 0,
        "quiet_until": None,
    }
    fail(svc, data["uuid"])
    again = api.get(f"/v1/checks/{data['uuid']}").json["data"]
    assert (again["status"], again["fail_streak"]) == ("up", 1)  # one failure of two: not down
    answer = api.patch_json(f"/v1/checks/{data['uuid']}", {"failure_threshold": 0}, status=422)
    assert answer.json["fields"] == {"failure_threshold": "must be between 1 and 100"}


def test_windows_are_created_listed_read_and_deleted(
    api: webtest.TestApp, svc: Service, clock: FakeClock
) -> None:
    check = svc.create_check(name="NAS")
    one_off = {"check": check.uuid, "name": "disk swap", "starts": "2026-01-05T12:00:00Z",
               "ends": "2026-01-05T14:00:00+00:00"}  # fmt: skip
    created = api.post_json("/v1/windows", one_off, status=201).json["data"]
    assert created | {"id": 0, "created": ""} == {
        "id": 0, "name": "disk swap", "check": check.uuid, "tag": None, "schedule": None,
        "tz": None, "duration": None, "starts": "2026-01-05T12:00:00+00:00",
        "ends": "2026-01-05T14:00:00+00:00", "active": True,
        "next_start": "2026-01-05T12:00:00+00:00", "next_end": "2026-01-05T14:00:00+00:00",
        "declared": False, "created": ""}  # fmt: skip
    nightly = api.post_json("/v1/windows", {"tag": "nas", "schedule": "0 3 * * *",
                                            "tz": "Europe/Berlin", "duration": 3600},
                            status=201).json["data"]  # fmt: skip
    assert (nightly["active"], nightly["next_start"]) == (False, "2026-01-06T02:00:00+00:00")
    assert [w["id"] for w in api.get("/v1/windows").json["data"]] == [created["id"], nightly["id"]]
    assert api.get(f"/v1/checks/{check.uuid}").json["data"]["quiet_until"] == (
        "2026-01-05T14:00:00+00:00")  # fmt: skip
    assert api.get(f"/v1/windows/{nightly['id']}").json["data"] == nightly
    api.delete(f"/v1/windows/{created['id']}", status=200)
    api.get(f"/v1/windows/{created['id']}", status=404)
    api.get("/v1/windows/abc", status=404)
    assert api.get(f"/v1/checks/{check.uuid}").json["data"]["quiet_until"] is None
    bad = api.post_json("/v1/windows", {"tag": "nas", "schedule": "0 3 * * *"}, status=422)
    assert bad.json["errorCode"] == "INVALID_INPUT" and "duration" in bad.json["fields"]


def test_a_read_only_key_reads_windows_but_cannot_make_them(
    api: webtest.TestApp, svc: Service
) -> None:
    ro = {"X-Api-Key": svc.create_api_key("ro", read_only=True)}
    api.get("/v1/windows", headers=ro, status=200)
    body = {"tag": "x", "starts": "2026-01-05T12:00:00Z", "ends": "2026-01-05T13:00:00Z"}
    api.post_json("/v1/windows", body, headers=ro, status=403)


def test_developer_mode_makes_windows_only_in_its_sandbox(
    api: webtest.TestApp, svc: Service
) -> None:
    dev = {"x-developer-mode": "true"}
    body = {"tag": "x", "starts": "2026-01-05T12:00:00Z", "ends": "2026-01-05T13:00:00Z"}
    api.post_json("/v1/windows", body, headers=dev, status=201)
    assert svc.list_windows() == []


def test_pause_with_until_holds_alerts_and_resume_ends_the_hold(
    api: webtest.TestApp, svc: Service, clock: FakeClock
) -> None:
    check = svc.create_check(name="Backup")
    until = (START + timedelta(hours=4)).isoformat()
    data = api.post_json(f"/v1/checks/{check.uuid}/pause", {"until": until}).json["data"]
    assert (data["status"], data["quiet_until"]) == ("new", until)
    [window] = api.get("/v1/windows").json["data"]
    assert (window["check"], window["ends"]) == (check.uuid, until)
    api.post(f"/v1/checks/{check.uuid}/resume", status=200)
    assert api.get(f"/v1/checks/{check.uuid}").json["data"]["quiet_until"] is None
    api.post(f"/v1/checks/{check.uuid}/resume", status=409)
    for body, field in (({"until": "tomorrow"}, "until"), ({"until": START.isoformat()}, "until"),
                        ({"for": "1h"}, "for"), ({}, "until")):  # fmt: skip
        answer = api.post_json(f"/v1/checks/{check.uuid}/pause", body, status=422)
        assert field in answer.json["fields"], answer.json
    paused = api.post(f"/v1/checks/{check.uuid}/pause").json["data"]  # no body: as before
    assert paused["status"] == "paused"


def test_channels_take_and_show_reminders_and_late_notices(api: webtest.TestApp) -> None:
    body = {"kind": "webhook", "name": "ops", "settings": {"url_down": "http://192.0.2.1/"},
            "remind_every": 86400, "notify_late": True}  # fmt: skip
    data = api.post_json("/v1/channels", body, status=201).json["data"]
    assert (data["remind_every"], data["notify_late"]) == (86400, True)
    changed = api.patch_json(f"/v1/channels/{data['id']}", {"remind_every": 0}).json["data"]
    assert (changed["remind_every"], changed["notify_late"]) == (0, True)
    bad = api.patch_json(f"/v1/channels/{data['id']}", {"notify_late": "yes"}, status=422)
    assert bad.json["fields"] == {"notify_late": "must be true or false"}
    api.patch_json(f"/v1/channels/{data['id']}", {"remind_every": 30}, status=422)


def test_a_retried_ping_shows_as_a_repeat_in_the_log(
    api: webtest.TestApp, svc: Service, clock: FakeClock
) -> None:
    check = svc.create_check(name="Backup")
    fail(svc, check.uuid)
    clock.advance(seconds=2)
    fail(svc, check.uuid)
    pings = api.get(f"/v1/checks/{check.uuid}/pings").json["data"]
    assert [(p["n"], p["repeat"]) for p in pings] == [(2, True), (1, False)]


# -- the CLI ----------------------------------------------------------------------------


def test_the_cli_makes_checks_channels_and_windows_with_the_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "pingd.db")

    def run(*args: str) -> str:
        assert main(["--db", db, *args]) == 0
        return capsys.readouterr().out.strip()

    channel = run("channel", "add", "webhook", "--set", "url_down=http://192.0.2.1/",
                  "--remind-every", "1d", "--notify-late")  # fmt: skip
    url = run(
        "check",
        "add",
        "Backup",
        "--tag",
        "nas",
        "--channel",
        channel,
        "--failure-threshold",
        "3",
        "--remind-every",
        "2h",
        "--start-window",
        "10m",
    )
    uuid = url.rsplit("/", 1)[-1]
    shown = run("check", "show", uuid)
    assert "down after 3 failure(s) in a row (now 0)" in shown
    assert "reminders every 2h" in shown and "start window 10m" in shown
    window = run("window", "add", "--tag", "nas", "--cron", "0 3 * * 0", "--duration", "2h",
                 "--tz", "Europe/Berlin", "--name", "weekly scrub")  # fmt: skip
    held = run("check", "pause", uuid, "--until", "3h")
    assert held.startswith("alerts of Backup") and "held until" in held
    listed = run("window", "list")
    assert "weekly scrub" in listed and "tag nas" in listed and "check Backup" in listed
    assert run("window", "rm", window) == f"deleted window {window} weekly scrub"
    assert "weekly scrub" not in run("window", "list")
    assert main(["--db", db, "window", "add", "--tag", "nas", "--cron", "0 3 * * *"]) != 0
    assert "--duration" in capsys.readouterr().err


# -- the config files ----------------------------------------------------------------


def test_the_files_declare_the_policy_and_windows_and_apply_replaces_their_windows(
    tmp_path: Path, svc: Service
) -> None:
    text = ('[[channel]]\nname = "ops"\nkind = "webhook"\nurl_down = "http://127.0.0.1:9/"\n'
            'remind_every = "1d"\nnotify_late = true\n\n'
            '[[check]]\nname = "Backup"\ntags = ["nas"]\nfailure_threshold = 2\n'
            'remind_every = "4h"\nstart_window = "15m"\nchannels = ["ops"]\n\n'
            '[[window]]\nname = "scrub"\ntag = "nas"\nschedule = "0 3 * * 0"\nduration = "2h"\n'
            'tz = "Europe/Berlin"\n\n'
            '[[window]]\ncheck = "Backup"\nstarts = 2026-12-24T18:00:00Z\n'
            'ends = "2026-12-27T08:00:00Z"\n')  # fmt: skip
    path = tmp_path / "pingd.toml"
    path.write_text(text, encoding="utf-8")
    plan = render_plan(svc.apply_declaration(load_declaration(path, {})))
    assert "+ window 'scrub'" in plan and "+ window 'for Backup'" in plan
    [check] = svc.list_checks()
    assert (check.failure_threshold, check.remind_every, check.start_window) == (2, 14400, 900)
    [channel] = svc.list_channels()
    assert (channel.remind_every, channel.notify_late) == (86400, True)
    windows = svc.list_windows()
    assert [(w.tag, w.check_id, w.declared) for w in windows] == [
        ("nas", None, True), ("", check.id, True)]  # fmt: skip
    assert render_plan(svc.apply_declaration(load_declaration(path, {}))).endswith(
        "= 2 windows unchanged")  # fmt: skip
    made = svc.create_window({"tag": "web", "starts": "2026-01-05T12:00:00Z",
                              "ends": "2026-01-05T13:00:00Z"})  # fmt: skip
    path.write_text(text.split("[[window]]")[0], encoding="utf-8")
    plan = render_plan(svc.apply_declaration(load_declaration(path, {})))
    assert "- window 'scrub' (no longer declared)" in plan
    assert [w.id for w in svc.list_windows()] == [made.id]  # one made with the API stays
    path.write_text(text.replace('duration = "2h"', 'duration = "2 hours"'), encoding="utf-8")
    with pytest.raises(Exception, match=r"\[\[window\]\] 1 \('scrub'\): duration"):
        load_declaration(path, {})


# -- the dashboard ---------------------------------------------------------------------


def form_token(page: webtest.TestResponse) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def test_the_check_page_shows_the_policy_and_holds_alerts(
    app: webtest.TestApp, service: Service, clock: FakeClock
) -> None:
    app.post("/login", {"key": service.create_api_key("browser")}, status=303)
    check = service.create_check(name="NAS backup", tags="nas", failure_threshold=2,
                                 remind_every=7200, start_window=900)  # fmt: skip
    service.create_window({"tag": "nas", "schedule": "0 3 * * *", "duration": 3600,
                           "name": "nightly <scrub>"})  # fmt: skip
    page = app.get(f"/checks/{check.uuid}")
    assert "2 failure(s) in a row; 0 now" in page.text
    assert "every 2h while down" in page.text and "within 15m of the expected time" in page.text
    assert "nightly &lt;scrub&gt;" in page.text and "<scrub>" not in page.text
    token = form_token(page)
    answer = app.post(f"/checks/{check.uuid}/hold", {"csrf": token, "for": "4h"}, status=303)
    assert answer.headers["Location"] == f"/checks/{check.uuid}"
    page = app.get(f"/checks/{check.uuid}")
    assert "Alerts of NAS backup are held until" in page.text
    assert "Alerts held by a maintenance window until" in page.text
    assert service.quiet_until_by_check([check], clock.now) == {
        check.id: START + timedelta(hours=4)}  # fmt: skip
    app.post(f"/checks/{check.uuid}/hold", {"csrf": token, "for": "forever"}, status=303)
    assert len(service.list_windows()) == 2
    app.post(f"/checks/{check.uuid}/resume", {"csrf": token}, status=303)
    assert service.quiet_until_by_check([check], clock.now) == {}


def test_the_edit_form_sets_the_policy_with_the_apis_rules(
    app: webtest.TestApp, service: Service
) -> None:
    app.post("/login", {"key": service.create_api_key("browser")}, status=303)
    check = service.create_check(name="Backup")
    form = app.get(f"/checks/{check.uuid}/edit").forms[1]
    form["failure_threshold"] = "3"
    form["remind_every"] = "1d"
    form["start_window"] = ""
    form.submit(status=303)
    saved = service.get_check(check.uuid)
    assert (saved.failure_threshold, saved.remind_every, saved.start_window) == (3, 86400, 0)
    form = app.get(f"/checks/{check.uuid}/edit").forms[1]
    assert (form["failure_threshold"].value, form["remind_every"].value) == ("3", "1d")
    form["success_threshold"] = "0"
    form["remind_every"] = "often"
    page = form.submit(status=422)
    assert "must be between 1 and 100" in page.text
    assert "must be empty (none) or a duration" in page.text


def test_a_repeat_is_marked_on_the_check_page(app: webtest.TestApp, service: Service) -> None:
    app.post("/login", {"key": service.create_api_key("browser")}, status=303)
    check = service.create_check(name="Backup")
    fail(service, check.uuid)
    fail(service, check.uuid)
    assert "(a repeat: the client sent it again; it changed nothing)" in app.get(
        f"/checks/{check.uuid}").text  # fmt: skip


def test_the_channels_page_says_each_channels_reminders_and_late_notices(
    app: webtest.TestApp, service: Service, svc: Service
) -> None:
    app.post("/login", {"key": service.create_api_key("browser")}, status=303)
    svc.create_channel("webhook", "ops", {"url_down": "http://192.0.2.1/"}, remind_every=86400,
                       notify_late=True)  # fmt: skip
    svc.create_channel("webhook", "quiet", {"url_down": "http://192.0.2.1/"})
    page = app.get("/channels").text
    assert "Reminds every 1d while a check stays down;\n  also told when a check is late." in page
    assert "No reminders unless a check asks for them;\n  not told of late checks." in page

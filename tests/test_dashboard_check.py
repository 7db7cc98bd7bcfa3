"""The check page, where every alert links (WebTest, real SQLite, fake clock)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import webtest
from conftest import FakeClock

from pingd.dashboard.render import when
from pingd.declared.parse import load_declaration
from pingd.service import Service
from pingd.service.pings import PingRequest


def ping(service: Service, uuid: str, action: str = "success", **fields: Any) -> None:
    service.record_ping(
        PingRequest(**{"action": action, "method": "POST", "scheme": "https",
                       "remote_addr": "198.51.100.4", "ua": "curl/8.5", "body": b"",
                       "body_size": 0, "uuid": uuid, **fields})
    )  # fmt: skip


@pytest.fixture
def signed_in(app: webtest.TestApp, service: Service) -> webtest.TestApp:
    app.post("/login", {"key": service.create_api_key("browser")}, status=303)
    return app


def test_a_stranger_signs_in_first_and_lands_on_the_check(
    app: webtest.TestApp, service: Service, make_check: Any
) -> None:
    check = make_check("Backup")
    answer = app.get(f"/checks/{check.uuid}", status=303)
    assert answer.headers["Location"] == f"/login?next=%2Fchecks%2F{check.uuid}"
    form = app.get(answer.headers["Location"]).forms[0]
    form["key"] = service.create_api_key("browser")
    landed = form.submit(status=303)
    assert landed.headers["Location"] == f"/checks/{check.uuid}"
    assert "<h1>Backup</h1>" in app.get(landed.headers["Location"], status=200).text


def test_it_says_why_a_check_is_up_and_when_it_goes_down(
    signed_in: webtest.TestApp, service: Service, make_check: Any, clock: FakeClock
) -> None:
    check = make_check("Backup", timeout=3600, grace=600)
    ping(service, check.uuid)
    text = signed_in.get(f"/checks/{check.uuid}").text
    pinged = clock()
    assert (f"Up: the last ping came {when(pinged)}; the next is due by"
            f" {when(pinged + timedelta(hours=1))}, and it goes down at"
            f" {when(pinged + timedelta(minutes=70))}.") in text  # fmt: skip
    clock.advance(minutes=65)
    assert "Late: a ping was due at" in signed_in.get(f"/checks/{check.uuid}").text
    clock.advance(minutes=10)
    text = signed_in.get(f"/checks/{check.uuid}").text
    assert "<title>Backup (down) · pingd</title>" in text
    assert f"Down: the last ping came {when(pinged)}; the next successful ping" in text


def test_it_explains_a_new_a_paused_and_a_running_check(
    signed_in: webtest.TestApp, service: Service, make_check: Any
) -> None:
    check = make_check("Backup")
    assert "New: no ping has arrived yet" in signed_in.get(f"/checks/{check.uuid}").text
    ping(service, check.uuid, "start")
    assert "Running since" in signed_in.get(f"/checks/{check.uuid}").text
    service.pause_check(check.id)
    assert "Paused: it sends no alert until" in signed_in.get(f"/checks/{check.uuid}").text


def test_it_gives_both_ping_urls_and_lines_for_each_client(
    signed_in: webtest.TestApp, service: Service, make_check: Any
) -> None:
    check = make_check("Nightly backup")
    text = signed_in.get(f"/checks/{check.uuid}").text
    url = f"http://localhost:8000/ping/{check.uuid}"
    assert f'<code class="copy" data-label="the UUID ping URL">{url}</code>' in text
    assert f"http://localhost:8000/ping/{service.project().ping_key}/nightly-backup" in text
    for line in (
        f"curl -fsS -m 10 --retry 5 -o /dev/null {url}",
        f"wget -q -T 10 -t 5 -O /dev/null {url}",
        f"runitor -api-url http://localhost:8000/ping -uuid {check.uuid} -- /path/to/job.sh",
        f"0 3 * * * /path/to/job.sh &amp;&amp; curl -fsS -m 10 --retry 5 -o /dev/null {url}",
    ):
        assert line in text  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "times"),
    [
        ({"schedule": "30 2 * * 1-5", "tz": "Europe/Berlin"}, "30 2 * * 1-5"),
        ({"timeout": 60}, "* * * * *"),
        ({"timeout": 900}, "*/15 * * * *"),
        ({"timeout": 6 * 3600}, "0 */6 * * *"),
        ({"timeout": 86400}, "0 3 * * *"),
        ({"timeout": 2 * 86400}, "0 3 */2 * *"),
        ({"timeout": 7 * 86400}, "0 3 * * 0"),
        ({"timeout": 90}, "0 3 * * *"),  # no crontab field says 90 s: a daily example
    ],
)
def test_the_crontab_line_follows_the_checks_schedule(
    signed_in: webtest.TestApp, make_check: Any, fields: dict[str, Any], times: str
) -> None:
    check = make_check("Job", **fields)
    text = signed_in.get(f"/checks/{check.uuid}").text
    assert f"{times} /path/to/job.sh &amp;&amp; curl -fsS" in text


def test_it_lists_recent_pings_with_durations_and_escaped_outside_text(
    signed_in: webtest.TestApp, service: Service, make_check: Any, clock: FakeClock
) -> None:
    check = make_check("Backup")
    ping(service, check.uuid, "start", rid="3f2504e0-4f89-41d3-9a0c-0305e82c3301")
    clock.advance(seconds=90)
    ping(service, check.uuid, "fail", exit_status=2, rid="3f2504e0-4f89-41d3-9a0c-0305e82c3301",
         ua='"><img src=x onerror=alert(1)>', body=b"<script>alert(2)</script>\nsecond line",
         body_size=37)  # fmt: skip
    text = signed_in.get(f"/checks/{check.uuid}").text
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in text
    events = text.split('<ol class="events">', 1)[1].split("</ol>", 1)[0]
    assert "second line" not in events  # the first line only (the output shows the rest)
    row = re.search(r'<li class="event event-ping">.*?/pings/2">Ping #2</a>.*?</li>', events, re.S)
    assert row is not None
    assert "<strong>fail</strong>, exit status 2, ran 1m 30s" in row.group(0)
    assert "POST https from 198.51.100.4" in row.group(0)
    assert '<code class="first-line">&lt;script&gt;alert(2)&lt;/script&gt;</code>' in row.group(0)
    flips = re.findall(r"Status <strong>([^<]*)</strong>([^<]*)</span>", events)
    assert flips == [("new → down", " (fail)")], flips
    # Newest first; the change is listed above the ping that caused it.
    order = re.findall(r'<li class="event event-(\w+)"><time datetime="([^"]+)">', events)
    stamp = clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [kind for kind, _ in order] == ["flip", "ping", "ping"]
    assert order[0][1] == order[1][1] == stamp


def test_an_unknown_check_is_a_404_page(signed_in: webtest.TestApp) -> None:
    page = signed_in.get("/checks/3f2504e0-4f89-41d3-9a0c-0305e82c3301", status=404)
    assert "No such check" in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_the_checks_page_links_each_check(signed_in: webtest.TestApp, make_check: Any) -> None:
    check = make_check("Backup")
    assert f'<a href="/checks/{check.uuid}">Backup</a>' in signed_in.get("/").text


def test_one_ping_shows_every_field_and_its_body_as_text(
    signed_in: webtest.TestApp, service: Service, make_check: Any
) -> None:
    check = make_check("Backup")
    body = b"<script>alert(3)</script>\nline two\n\xff"
    ping(service, check.uuid, "fail", exit_status=7, ua="job <x>", body=body, body_size=len(body))
    page = signed_in.get(f"/checks/{check.uuid}/pings/1", status=200)
    text = page.text
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(3)&lt;/script&gt;\nline two\n\ufffd</pre>" in text
    for field in (
        "<dd>fail</dd>",
        "<dd>7</dd>",
        "<dd>job &lt;x&gt;</dd>",
        "<dd>POST</dd>",
        "<dd>198.51.100.4</dd>",
        f"<dd>{len(body)} bytes</dd>",
    ):
        assert field in text, field  # fmt: skip
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_the_raw_body_is_a_download_never_a_page(
    signed_in: webtest.TestApp, service: Service, make_check: Any
) -> None:
    check = make_check("Backup")
    body = b"<html><script>alert(4)</script></html>\x00\xff"
    ping(service, check.uuid, body=body, body_size=len(body))
    raw = signed_in.get(f"/checks/{check.uuid}/pings/1/body", status=200)
    assert raw.body == body
    assert raw.content_type == "application/octet-stream"
    assert raw.headers["Content-Disposition"] == f'attachment; filename="{check.uuid}-1.body"'
    assert raw.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("n", ["2", "0", "-1", "x", "9" * 40])
def test_a_ping_it_does_not_keep_is_a_404_page(
    signed_in: webtest.TestApp, service: Service, make_check: Any, n: str
) -> None:
    check = make_check("Backup")
    ping(service, check.uuid)
    signed_in.get(f"/checks/{check.uuid}/pings/{n}", status=404)
    signed_in.get(f"/checks/{check.uuid}/pings/{n}/body", status=404)


def test_a_ping_page_and_its_body_need_a_session(
    app: webtest.TestApp, service: Service, make_check: Any
) -> None:
    check = make_check("Backup")
    ping(service, check.uuid, body=b"secret output", body_size=13)
    for path in (f"/checks/{check.uuid}/pings/1", f"/checks/{check.uuid}/pings/1/body"):
        answer = app.get(path, status=303)
        assert answer.headers["Location"].startswith("/login?next=")
        assert b"secret" not in answer.body


def test_it_shows_the_badges_ready_to_copy_and_the_badge_renders(
    signed_in: webtest.TestApp, service: Service, make_check: Any
) -> None:
    check = make_check('Backup <"nightly">', tags="prod db")
    page = signed_in.get(f"/checks/{check.uuid}")
    html = page.html
    (image,) = html.select("img.badge")
    assert image["alt"] == 'Status badge of Backup <"nightly">'
    copies = {code["data-label"]: code.text for code in html.select("code.copy")}
    svg = copies["the SVG, up or down badge"]
    assert re.fullmatch(r"http://localhost:8000/b/2/[0-9a-f-]{36}\.svg", svg)
    assert copies["the SVG, also late badge"] == svg.replace("/b/2/", "/b/3/")
    assert copies["the Markdown badge"] == f'![Backup <"nightly">]({svg})'
    assert copies["the Tag prod, SVG badge"].endswith("/prod.svg")
    assert copies["the Tag db, SVG badge"].endswith("/db.svg")
    badges = " ".join(copies[label] for label in copies if "badge" in label)
    for secret in (check.uuid, service.project().ping_key, service.project().badge_key):
        assert secret not in badges
    # The image on the page, and every URL shown, answer (the dashboard's own host).
    assert signed_in.get(image["src"]).content_type == "image/svg+xml"
    for label, url in copies.items():
        if "badge" in label and label != "the Markdown badge":
            assert signed_in.get(url.removeprefix("http://localhost:8000")).status_int == 200


def test_a_declared_check_says_that_changes_here_are_drift(
    signed_in: webtest.TestApp, svc: Service, make_check: Any, tmp_path: Path
) -> None:
    (tmp_path / "pingd.toml").write_text('[[check]]\nname = "From the files"\n', encoding="utf-8")
    svc.apply_declaration(load_declaration(tmp_path / "pingd.toml", {}))
    declared = next(c for c in svc.list_checks() if c.name == "From the files")
    by_hand = make_check("By hand")
    for path in (f"/checks/{declared.uuid}", f"/checks/{declared.uuid}/edit"):
        note = signed_in.get(path).html.select("p.declared")
        assert note and "declared in the config files" in note[0].text, path
    for path in (f"/checks/{by_hand.uuid}", f"/checks/{by_hand.uuid}/edit"):
        assert not signed_in.get(path).html.select("p.declared"), path

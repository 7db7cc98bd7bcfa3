"""Healthchecks' pings, ping body, flips, channels, badges and metrics on pingd, through WebTest.

Re-expresses ``hc/api/tests/test_get_pings.py``, ``test_get_ping_body.py``,
``test_get_flips.py``, ``test_list_channels.py``, ``test_get_badges.py``,
``test_badge.py``, ``test_check_badge.py`` and Prometheus' ``test_metrics.py``
against the real service and SQLite; only the clock is fake.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import webtest
from conftest import FakeClock

from pingd.app import create_app
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import default_config
from pingd.hcapi.shapes import unique_key
from pingd.service import Service

BASE = "https://hc.example.org"
RID_A = "0b7c2a36-6a4e-4d9f-9a52-3f0e8d1c2b4a"
RID_B = "1b7c2a36-6a4e-4d9f-9a52-3f0e8d1c2b4b"


@pytest.fixture
def hc(make_app: Any) -> webtest.TestApp:
    return make_app(server__base_url=BASE)


def new_check(hc: webtest.TestApp, rw: dict[str, str], **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = hc.post_json("/api/v3/checks/", fields, headers=rw, status=201).json
    return doc


def local(url: str) -> str:
    assert url.startswith(BASE), url
    return url[len(BASE) :]


# -- pings and bodies ---------------------------------------------------------------


def test_pings_in_healthchecks_shape_with_paired_durations(
    hc: webtest.TestApp, rw: dict[str, str], ro: dict[str, str], clock: FakeClock
) -> None:
    check = new_check(hc, rw, name="Job")
    ping = f"/ping/{check['uuid']}"
    hc.get(f"{ping}/start?rid={RID_A}", headers={"User-Agent": "foo-agent"})
    clock.advance(seconds=60)
    hc.get(f"{ping}/start?rid={RID_B}")
    clock.advance(seconds=60)
    hc.post(f"{ping}?rid={RID_A}", b"all done")
    clock.advance(seconds=5)
    hc.get(f"{ping}/fail?rid={RID_B}")
    r = hc.get(f"/api/v2/checks/{check['uuid']}/pings/", headers=rw)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    pings = r.json["pings"]
    assert [p["type"] for p in pings] == ["fail", "success", "start", "start"]
    assert [p["n"] for p in pings] == [4, 3, 2, 1]
    assert list(pings[1]) == ["type", "date", "n", "scheme", "remote_addr", "method", "ua",
                              "rid", "body_url", "duration"]  # fmt: skip
    assert pings[0]["duration"] == 65.0 and pings[1]["duration"] == 120.0  # paired by rid
    assert "duration" not in pings[2]
    assert pings[3]["ua"] == "foo-agent" and pings[1]["method"] == "POST"
    assert pings[1]["rid"] == RID_A and pings[1]["scheme"] == "http"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00", pings[0]["date"])
    assert pings[1]["body_url"] == f"{BASE}/api/v2/checks/{check['uuid']}/pings/3/body"
    assert pings[0]["body_url"] is None
    body = hc.get(local(pings[1]["body_url"]), headers=rw)
    assert body.body == b"all done" and body.content_type == "text/plain"
    hc.get(f"/api/v3/checks/{check['uuid']}/pings/", headers=ro, status=401)
    hc.get(local(pings[1]["body_url"]), headers=ro, status=401)


def test_ping_body_is_404_when_empty_missing_or_not_a_number(
    hc: webtest.TestApp, rw: dict[str, str]
) -> None:
    check = new_check(hc, rw, name="Job")
    hc.get(f"/ping/{check['uuid']}")
    base = f"/api/v3/checks/{check['uuid']}/pings"
    for n in ("1", "2", "x", "%D9%A3", "99999999999999999999"):
        hc.get(f"{base}/{n}/body", headers=rw, status=404)


def test_pruned_pings_are_gone_from_the_list_and_their_bodies_404(tmp_path: Path) -> None:
    config = default_config(
        storage__path=str(tmp_path / "small.db"), storage__ping_log_limit=3, server__base_url=BASE
    )
    store = open_store(config)
    try:
        service = make_service(config, store)
        service.bootstrap()
        rw = {"X-Api-Key": service.create_api_key("rw")}
        _check_pruning(webtest.TestApp(create_app(config, store=store)), rw)
    finally:
        store.close()


def _check_pruning(hc: webtest.TestApp, rw: dict[str, str]) -> None:
    check = new_check(hc, rw, name="Job")
    for i in range(5):
        hc.post(f"/ping/{check['uuid']}", f"run {i}".encode())
    pings = hc.get(f"/api/v3/checks/{check['uuid']}/pings/", headers=rw).json["pings"]
    assert [p["n"] for p in pings] == [5, 4, 3]
    hc.get(f"/api/v3/checks/{check['uuid']}/pings/2/body", headers=rw, status=404)
    assert hc.get(f"/api/v3/checks/{check['uuid']}/pings/3/body", headers=rw).text == "run 2"


# -- flips --------------------------------------------------------------------------


def test_flips_with_seconds_start_and_end(
    hc: webtest.TestApp, rw: dict[str, str], ro: dict[str, str], clock: FakeClock
) -> None:
    check = new_check(hc, rw, name="Job")
    url = f"/api/v3/checks/{check['uuid']}/flips/"
    hc.get(f"/ping/{check['uuid']}")  # new -> up
    first = int(clock.now.timestamp())
    clock.advance(seconds=100)
    hc.get(f"/ping/{check['uuid']}/fail")  # up -> down
    clock.advance(seconds=100)
    hc.get(f"/ping/{check['uuid']}")  # down -> up
    flips = hc.get(url, headers=ro).json["flips"]
    assert [f["up"] for f in flips] == [1, 0, 1]
    assert list(flips[0]) == ["timestamp", "up"]
    assert flips[2]["timestamp"] == datetime.fromtimestamp(first, UTC).isoformat()
    assert [f["up"] for f in hc.get(f"{url}?seconds=150", headers=ro).json["flips"]] == [1, 0]
    assert [f["up"] for f in hc.get(f"{url}?start={first + 50}", headers=ro).json["flips"]] == [
        1,
        0,
    ]
    assert [f["up"] for f in hc.get(f"{url}?end={first + 50}", headers=ro).json["flips"]] == [1]
    by_key = f"/api/v3/checks/{unique_key(check['uuid'])}/flips/"
    assert hc.get(by_key, headers=ro).json["flips"] == flips


@pytest.mark.parametrize(
    "query", ["seconds=-1", "seconds=31536001", "seconds=abc", "start=-1", "start=10000000001",
              "end=x", "start=1.5"]
)  # fmt: skip
def test_bad_flip_filters_are_an_empty_400(
    hc: webtest.TestApp, rw: dict[str, str], query: str
) -> None:
    check = new_check(hc, rw, name="Job")
    r = hc.get(f"/api/v3/checks/{check['uuid']}/flips/?{query}", headers=rw, status=400)
    assert r.body == b""


# -- channels -----------------------------------------------------------------------


def test_channels_list_uuid_name_and_healthchecks_kind(
    hc: webtest.TestApp, rw: dict[str, str], ro: dict[str, str], svc: Service
) -> None:
    hook = svc.create_channel("webhook", "Ops hook", {"url_down": "http://127.0.0.1:9/x"})
    po = svc.create_channel("pushover", "Phone", {"user_key": "u" * 30, "app_token": "a" * 30})
    r = hc.get("/api/v1/channels/", headers=rw)
    assert r.json == {"channels": [{"id": hook.uuid, "name": "Ops hook", "kind": "webhook"},
                                   {"id": po.uuid, "name": "Phone", "kind": "po"}]}  # fmt: skip
    assert "a" * 30 not in r.text
    hc.get("/api/v1/channels/", headers=ro, status=401)


# -- badges -------------------------------------------------------------------------


def badge_urls(hc: webtest.TestApp, key: dict[str, str]) -> dict[str, dict[str, str]]:
    badges: dict[str, dict[str, str]] = hc.get("/api/v3/badges/", headers=key).json["badges"]
    return badges


def test_badges_lists_every_tag_and_star_with_six_urls(
    hc: webtest.TestApp, rw: dict[str, str], ro: dict[str, str], service: Service
) -> None:
    check = new_check(hc, rw, name="Backup", tags="prod db")
    badges = badge_urls(hc, ro)
    assert sorted(badges) == ["*", "db", "prod"]
    assert list(badges["prod"]) == ["svg", "svg3", "json", "json3", "shields", "shields3"]
    prod = badges["prod"]
    assert re.fullmatch(rf"{BASE}/badge/[0-9a-f]{{32}}/[\w-]{{8}}-2/prod\.svg", prod["svg"])
    assert re.fullmatch(rf"{BASE}/badge/[0-9a-f]{{32}}/[\w-]{{8}}\.json", badges["*"]["json3"])
    secret = service.project().badge_key
    text = str(badges)
    for hidden in (secret, check["uuid"], service.project().ping_key, service.project().uuid):
        assert hidden not in text


def test_tag_badges_are_two_and_three_state(
    hc: webtest.TestApp, rw: dict[str, str], clock: FakeClock
) -> None:
    a = new_check(hc, rw, name="A", tags="prod", timeout=3600, grace=3600)
    new_check(hc, rw, name="B", tags="prod other")
    prod = badge_urls(hc, rw)["prod"]
    assert hc.get(local(prod["json3"])).json == {"status": "up", "total": 2, "grace": 0, "down": 0}
    hc.get(f"/ping/{a['uuid']}")
    clock.advance(seconds=3700)  # A is late: in its grace period
    assert hc.get(local(prod["json3"])).json == {
        "status": "late",
        "total": 2,
        "grace": 1,
        "down": 0,
    }
    assert hc.get(local(prod["json"])).json["status"] == "up"  # two states: late is up
    shields = hc.get(local(prod["shields3"]))
    assert shields.json == {"schemaVersion": 1, "label": "prod", "message": "late",
                            "color": "important"}  # fmt: skip
    assert shields.headers["Access-Control-Allow-Origin"] == "*"
    assert "no-cache" in shields.headers["Cache-Control"]
    clock.advance(seconds=3600)  # now down
    assert hc.get(local(prod["json"])).json == {"status": "down", "total": 2, "grace": 0, "down": 1}
    svg = hc.get(local(prod["svg3"]))
    assert svg.content_type == "image/svg+xml"
    root = ET.fromstring(svg.body)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "#e05d44" in svg.text and ">down<" in svg.text
    star = badge_urls(hc, rw)["*"]
    assert hc.get(local(star["shields"])).json["label"] == "pingd"


def test_bad_badge_urls_are_404(hc: webtest.TestApp, rw: dict[str, str]) -> None:
    new_check(hc, rw, name="A", tags="prod")
    url = local(badge_urls(hc, rw)["prod"]["svg"])
    prefix, _, last = url.rpartition("/")
    badge_id = prefix.split("/")[2]
    for bad in (url.replace(".svg", ".png"), url.replace("prod.svg", "other.svg"),
                url.replace(badge_id, "0" * 32), f"{prefix[:-4]}XXXXXXXX-2/{last}",
                url.replace(".svg", ""), "/badge/x", "/b/2/nothing.svg", "/b/4/x.svg"):  # fmt: skip
        hc.get(bad, status=404)


def test_a_check_badge_with_a_hostile_name_is_escaped_xml(
    hc: webtest.TestApp, rw: dict[str, str], clock: FakeClock
) -> None:
    name = '<script>alert("x")</script> & co'
    check = new_check(hc, rw, name=name, timeout=3600, grace=3600)
    url = local(check["badge_url"])
    assert url.startswith("/b/2/") and check["uuid"] not in url
    svg = hc.get(url)
    root = ET.fromstring(svg.body)  # parses: nothing unescaped
    texts = [el.text for el in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == [name, name, "up", "up"]
    assert "<script>" not in svg.text
    hc.get(f"/ping/{check['uuid']}")
    clock.advance(seconds=3700)
    assert hc.get(url.replace("/b/2/", "/b/3/").replace(".svg", ".json")).json == {
        "status": "late", "total": 1, "grace": 1, "down": 0}  # fmt: skip
    assert hc.get(url.replace(".svg", ".shields")).json["message"] == "up"


# -- Prometheus metrics -----------------------------------------------------------


def test_metrics_have_healthchecks_series_and_pingd_extras(
    hc: webtest.TestApp, rw: dict[str, str], ro: dict[str, str], service: Service,
    clock: FakeClock,
) -> None:  # fmt: skip
    a = new_check(hc, rw, name='Alice "1"\\', tags="a1-tag a1-additional-tag", timeout=3600)
    b = new_check(hc, rw, name="Bob", tags="b-tag", timeout=60, grace=60)
    hc.get(f"/ping/{a['uuid']}/start")
    clock.advance(seconds=30)
    hc.get(f"/ping/{a['uuid']}")
    hc.get(f"/ping/{b['uuid']}/fail")
    url = f"/projects/{service.project().uuid}/metrics/{ro['X-Api-Key']}"
    now = clock.now.timestamp()
    r = hc.get(url)
    assert r.content_type == "text/plain"
    text = r.text
    alice = (f'{{name="Alice \\"1\\"\\\\", tags="a1-tag a1-additional-tag", '
             f'unique_key="{unique_key(a["uuid"])}"}}')  # fmt: skip
    bob = f'{{name="Bob", tags="b-tag", unique_key="{unique_key(b["uuid"])}"}}'
    for line in (f"hc_check_up{alice} 1", f"hc_check_up{bob} 0", f"hc_check_started{alice} 0",
                 f"hc_check_grace{alice} 0", f"hc_check_paused{bob} 0",
                 'hc_tag_up{tag="a1-tag"} 1', 'hc_tag_up{tag="b-tag"} 0', "hc_checks_total 2",
                 "hc_checks_down_total 1", f"hc_check_last_duration_seconds{alice} 30.000",
                 f"hc_check_pings_total{alice} 2",
                 f'hc_check_kept_pings{alice[:-1]}, kind="start"}} 1',
                 f'hc_check_kept_pings{bob[:-1]}, kind="fail"}} 1',
                 f"hc_check_last_ping_timestamp_seconds{bob} {now:.3f}",
                 f"hc_check_last_success_timestamp_seconds{alice} {now:.3f}"):  # fmt: skip
        assert line + "\n" in text, line
    assert f"hc_check_last_success_timestamp_seconds{bob}" not in text
    assert "# TYPE hc_check_up gauge\n" in text


def test_metrics_keys_bearer_and_refusals(
    hc: webtest.TestApp, rw: dict[str, str], ro: dict[str, str], service: Service
) -> None:
    base = f"/projects/{service.project().uuid}/metrics"
    bearer = hc.get(f"{base}/", headers={"Authorization": f"Bearer {ro['X-Api-Key']}"})
    assert "hc_checks_total 0" in bearer.text
    hc.get(f"{base}/", status=401)
    hc.get(f"{base}/", headers={"Authorization": ro["X-Api-Key"]}, status=401)
    hc.get(f"{base}/{rw['X-Api-Key']}", status=403)  # only read-only keys, as in Healthchecks
    hc.get(f"{base}/pingd_wrong", status=403)
    # As in Healthchecks, the key alone selects the project.
    assert "hc_checks_total" in hc.get(f"/projects/whatever/metrics/{ro['X-Api-Key']}").text

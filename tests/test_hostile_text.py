"""Hostile text in alerts and in the CLI (issue "Nothing lost at the edges").

A check name, tags or a ping body may hold CR/LF, NUL, terminal escapes
(``ESC [``, ``ESC ] ... BEL``, the one-byte CSI U+009B), backspace, DEL or a
bidi override. The API accepts all of them in names and tags (it refuses only
lone surrogates) and a ping body is any bytes. Each test sends such text the
whole way: a check made through the API, a real ping through the ping route,
the alert delivered by the real notify code to a real SMTP or HTTP receiver on
127.0.0.1, or the real ``pingd`` CLI run as a subprocess on the database.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import webtest
from conftest import START
from conftest import FakeClock
from receivers import HttpReceiver
from receivers import Request
from receivers import SmtpReceiver
from serverutil import CLI_TIMEOUT_SECONDS
from serverutil import clean_env
from serverutil import pingd_command

from pingd.app import create_app
from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import Config
from pingd.config import default_config
from pingd.errors import InvalidInput
from pingd.notify import base
from pingd.notify import email as email_kind
from pingd.notify.base import NotifyError
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.writer.store import Store

BASE_URL = "https://pingd.example.org"
MAIL_FROM = "pingd-alerts@example.org"

# Each hostile name, and the name as every alert title must show it.
NAMES = {
    "crlf-bcc": ("a\r\nBcc: evil@example.org", "a Bcc: evil@example.org"),
    "lf-header": ("b\nX-Injected: yes", "b X-Injected: yes"),
    # The email package decodes encoded words in a header it is given: CR LF.
    "encoded-word": (
        "=?utf-8?q?c=0D=0ABcc=3A_evil=40example.org?=",
        "=?utf-8?q?c=0D=0ABcc=3A_evil=40example.org?=",
    ),
    "terminal": (
        "d\x1b[2J\x1b]0;title\x07\x9b31m\x08\x7f",
        "d\\x1b[2J\\x1b]0;title\\x07\\x9b31m\\x08\\x7f",
    ),
    "nul": ("e\x00f", "e\\x00f"),
    "bidi": ("g\u202etxt.exe", "g\\u202etxt.exe"),
}
TAGS = "prod \x1b[2J\x00"
TAGS_SHOWN = "prod \\x1b[2J\\x00"
BODY = b"out \x1b[2J\x00\r\nBcc: body@example.org\rprogress \xe2\x80\xae"
BODY_TEXT = BODY.decode()
BODY_SHOWN = "out \\x1b[2J\\x00\nBcc: body@example.org\nprogress \\u202e"
BODY_ONE_LINE = "out \\x1b[2J\\x00 Bcc: body@example.org progress \\u202e"
# Anything a terminal, a header or a line reader could act on (LF checked apart).
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


@pytest.fixture(autouse=True)
def short_send_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "HTTP_TIMEOUT_SECONDS", 2.0)
    defaults = {**(base.http_request.__kwdefaults__ or {}), "timeout": 2.0}
    monkeypatch.setattr(base.http_request, "__kwdefaults__", defaults)
    monkeypatch.setattr(email_kind, "HTTP_TIMEOUT_SECONDS", 2.0)


@pytest.fixture
def config(tmp_path: Path, smtp: SmtpReceiver) -> Config:
    return default_config(
        storage__path=str(tmp_path / "pingd.db"), server__base_url=BASE_URL, api__burst=1000,
        smtp__host=smtp.host, smtp__port=smtp.port, smtp__security="none", smtp__from=MAIL_FROM,
    )  # fmt: skip


@pytest.fixture
def api(config: Config, store: Store, clock: FakeClock, svc: Service) -> webtest.TestApp:
    app = webtest.TestApp(create_app(config, store=store, clock=clock, service=svc))
    app.extra_environ = {"HTTP_X_API_KEY": svc.create_api_key("tests")}
    return app


def fail_ping_and_deliver(api: webtest.TestApp, svc: Service, name: str) -> dict[str, Any]:
    """Create a check through the API, fail it with a real ping, deliver every alert."""
    fields = {"name": name, "tags": TAGS, "channels": "*"}
    check: dict[str, Any] = api.post_json("/v1/checks", fields, status=201).json["data"]
    assert (check["name"], check["tags"]) == (name, TAGS)  # accepted as they are
    api.post(f"/ping/{check['uuid']}/fail", BODY, content_type="text/plain")
    outcomes = [svc.deliver(delivery) for delivery in svc.due_deliveries()]
    assert outcomes and [(o.ok, o.error) for o in outcomes] == [(True, "")] * len(outcomes)
    assert svc.due_deliveries() == []
    return check


def expected_text(check: dict[str, Any], shown_name: str) -> str:
    """The alert text with the name, tags and output shown safely (the fake clock never moves)."""
    when = START.isoformat()
    return "\n".join(
        [f'"{shown_name}" is DOWN', "Why: the job reported failure", f"When: {when}",
         f"Last ping: {when}", f"Tags: {TAGS_SHOWN}", "Last output:", BODY_SHOWN,
         f"Details: {BASE_URL}/checks/{check['uuid']}"]
    )  # fmt: skip


# -- email ---------------------------------------------------------------------------

MAIL_HEADERS = [
    "Subject",
    "From",
    "To",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
]


@pytest.mark.parametrize(("name", "shown"), NAMES.values(), ids=NAMES.keys())
def test_it_emails_a_hostile_name_with_exactly_its_own_headers(
    name: str, shown: str, api: webtest.TestApp, svc: Service, smtp: SmtpReceiver
) -> None:
    svc.create_channel("email", "ops", {"to": "ops@example.org"})
    check = fail_ping_and_deliver(api, svc, name)

    [mail] = smtp.wait_for(1)
    assert (mail.mail_from, mail.rcpt_tos) == (MAIL_FROM, ["ops@example.org"])
    assert list(mail.message.keys()) == MAIL_HEADERS
    assert mail.message["Subject"] == f'"{shown}" is DOWN'
    assert mail.message["To"] == "ops@example.org"
    head, _, body = mail.raw.partition(b"\r\n\r\n")
    names = [line.split(b":")[0] for line in head.split(b"\r\n") if not line[:1].isspace()]
    assert names == [n.encode() for n in MAIL_HEADERS]
    assert RAW_CONTROL.search(mail.raw.decode("utf-8").replace("\r\n", "")) is None
    assert mail.text().rstrip("\n") == expected_text(check, shown)


def test_it_refuses_an_email_address_holding_a_control_character(svc: Service) -> None:
    with pytest.raises(InvalidInput):
        svc.create_channel("email", "ops", {"to": "ops\x00@example.org"})


# -- every HTTP kind -------------------------------------------------------------------

TOKEN = "tk_0123456789abcdef"
HTTP_BASE_HEADERS = {"accept-encoding", "content-type", "content-length", "host", "user-agent",
                     "connection"}  # fmt: skip
HTTP_KINDS: dict[str, tuple[Any, set[str]]] = {
    "ntfy": (lambda url: {"server": url, "topic": "t", "token": TOKEN}, {"authorization"}),
    "gotify": (lambda url: {"server": url, "token": TOKEN}, {"x-gotify-key"}),
    "discord": (lambda url: {"webhook_url": f"{url}/api/webhooks/1/{TOKEN}"}, set()),
    "slack": (lambda url: {"webhook_url": f"{url}/services/T/B/{TOKEN}"}, set()),
    "telegram": (lambda url: {"bot_token": f"1:{TOKEN}", "chat_id": "7", "api_base": url}, set()),
    "pushover": (lambda url: {"user_key": "usr0123456789", "app_token": "app0123456789",
                              "api_base": url}, set()),
    "matrix": (lambda url: {"homeserver": url, "room_id": "!r:x", "access_token": TOKEN},
               {"authorization"}),
    "apprise": (lambda url: {"url": url.replace("http://", "json://") + "/apprise"}, set()),
}  # fmt: skip


def payload(kind: str, request: Request) -> tuple[str | None, str]:
    """Return (title, text) as the receiver got them, parsing JSON or the form strictly."""
    if kind == "pushover":
        form = dict(urllib.parse.parse_qsl(request.text(), strict_parsing=True))
        return form["title"], form["message"]
    data = json.loads(request.body)
    field = {"discord": "content", "slack": "text", "telegram": "text", "matrix": "body"}
    if kind in field:
        return None, str(data[field[kind]])
    return str(data["title"]), str(data["message"])


@pytest.mark.parametrize("name_id", ["crlf-bcc", "terminal", "bidi"])
@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_it_delivers_a_hostile_name_to_every_http_kind_without_breaking_the_request(
    kind: str, name_id: str, api: webtest.TestApp, svc: Service, receiver: HttpReceiver
) -> None:
    settings, own_headers = HTTP_KINDS[kind]
    name, shown = NAMES[name_id]
    svc.create_channel(kind, "", settings(receiver.url))
    check = fail_ping_and_deliver(api, svc, name)

    [request] = receiver.requests
    if kind != "apprise":  # the library sends its own set
        assert set(request.headers) == HTTP_BASE_HEADERS | own_headers
    assert not {"bcc", "x-injected", "title"} & set(request.headers)
    assert all(RAW_CONTROL.search(value) is None for value in request.headers.values())
    title, text = payload(kind, request)
    if title is not None:
        assert title == f'"{shown}" is DOWN'
    assert text.replace("&lt;", "<").replace("&gt;", ">") == expected_text(check, shown)


def test_it_keeps_mentions_and_markup_in_names_and_output_as_text(
    api: webtest.TestApp, svc: Service, receiver: HttpReceiver
) -> None:
    for kind in ("slack", "discord", "matrix"):
        svc.create_channel(kind, "", HTTP_KINDS[kind][0](receiver.url + "/" + kind))
    fail_ping_and_deliver(api, svc, "<!channel> @everyone @room <https://evil.example|ok> & co")

    requests = {r.path.split("/")[1]: json.loads(r.body) for r in receiver.wait_for(3)}
    assert requests["slack"]["text"].startswith(
        '"&lt;!channel&gt; @everyone @room &lt;https://evil.example|ok&gt; &amp; co" is DOWN\n'
    )
    assert requests["discord"]["allowed_mentions"] == {"parse": []}
    assert requests["matrix"]["m.mentions"] == {}


# -- webhook ---------------------------------------------------------------------------

HOOK_BODY = '{"name": $NAME_JSON, "tags": $TAGS_JSON, "body": $BODY_JSON, "event": $JSON}'


@pytest.mark.parametrize(("name", "shown"), NAMES.values(), ids=NAMES.keys())
def test_it_sends_a_webhook_whose_placeholders_cannot_add_a_header_or_break_the_json(
    name: str, shown: str, api: webtest.TestApp, svc: Service, receiver: HttpReceiver
) -> None:
    headers = {"Content-Type": "application/json", "X-Check": "[$NAME]", "X-Tags": "$TAGS",
               "X-Body": "$BODY", "X-Name-Json": "$NAME_JSON"}  # fmt: skip
    url = receiver.url + "/hook/$NAME?tags=$TAGS"
    svc.create_channel(
        "webhook", "", {"url_down": url, "body_down": HOOK_BODY, "headers_down": headers}
    )
    check = fail_ping_and_deliver(api, svc, name)

    [request] = receiver.requests
    assert set(request.headers) == HTTP_BASE_HEADERS | {
        "x-check",
        "x-tags",
        "x-body",
        "x-name-json",
    }
    assert request.headers["x-check"] == f"[{shown}]"
    assert request.headers["x-tags"] == TAGS_SHOWN
    assert request.headers["x-body"] == BODY_ONE_LINE
    assert json.loads(request.headers["x-name-json"]) == name
    quote = urllib.parse.quote
    assert request.path == f"/hook/{quote(name, safe='')}?tags={quote(TAGS, safe='')}"
    sent = json.loads(request.body)
    assert (sent["name"], sent["tags"], sent["body"]) == (name, TAGS, BODY_TEXT)
    assert (sent["event"]["name"], sent["event"]["uuid"]) == (name, check["uuid"])


def test_it_refuses_webhook_headers_that_would_break_the_request(svc: Service) -> None:
    url = "http://127.0.0.1:9/hook"
    for headers in ({"X-A": "a\r\nX-B: b"}, {"X-A": "a\x00"}, {"Bad Name": "x"}, {"X:A": "x"}):
        with pytest.raises(InvalidInput):
            svc.create_channel("webhook", "", {"url_down": url, "headers_down": headers})


def test_it_fails_plainly_on_a_stored_header_with_a_line_break_and_sends_nothing(
    receiver: HttpReceiver,
) -> None:
    # A channel saved before header values were checked: refused before any byte is sent.
    with pytest.raises(NotifyError, match=r"^a header for 127\.0\.0\.1 holds a control"):
        base.http_request("POST", receiver.url, body=b"", headers={"X-A": "a\r\n b"})
    assert receiver.requests == []


# -- the CLI -------------------------------------------------------------------------

CLI_NAME, CLI_NAME_SHOWN = (
    "evil\x1b]0;pwned\x07\x1b[2J\r\n\x9b31m\x08\x7f\x00\u202egnp.exe",
    ("evil\\x1b]0;pwned\\x07\\x1b[2J\\r\\n\\x9b31m\\x08\\x7f\\x00\\u202egnp.exe"),
)


@pytest.fixture
def hostile_db(tmp_path: Path) -> Path:
    """A database holding a check, a ping, a key and a channel with hostile text, closed."""
    config = default_config(storage__path=str(tmp_path / "cli.db"))
    store = open_store(config)
    try:
        service = make_service(config, store, notifier=make_notifier(config))
        service.bootstrap()
        check = service.create_check(name=CLI_NAME, tags=TAGS)
        service.record_ping(
            PingRequest(action="success", method="POST", scheme="http", ua="t\x1b[2J",
                        remote_addr="203.0.113.9\x1b[2J", body=BODY, body_size=len(BODY),
                        uuid=check.uuid)
        )  # fmt: skip
        service.create_api_key(CLI_NAME)
        service.create_channel("ntfy", CLI_NAME, {"server": "http://127.0.0.1:9", "topic": TAGS})
    finally:
        store.close()
    return Path(config.storage.path)


def cli_out(db: Path, *args: str) -> str:
    """Run the real ``pingd`` CLI; return its stdout, read as bytes (no newline translation)."""
    result = subprocess.run(
        [*pingd_command(), "--db", str(db), *args], cwd=db.parent, env=clean_env(),
        stdin=subprocess.DEVNULL, capture_output=True, timeout=CLI_TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode("utf-8")
    assert RAW_CONTROL.search(out) is None, repr(out)
    return out


@pytest.mark.parametrize(
    ("command", "rows"),
    [(("check", "list"), 1), (("key", "list"), 2), (("channel", "list"), 1)],
    ids=["check list", "key list", "channel list"],
)
def test_it_lists_hostile_names_escaped_on_the_terminal(
    command: tuple[str, ...], rows: int, hostile_db: Path
) -> None:
    lines = cli_out(hostile_db, *command).splitlines()
    assert len(lines) == 1 + rows  # a header, then one line per row: no line break got out
    [row] = [line for line in lines if CLI_NAME_SHOWN in line]
    if command[0] == "channel":
        assert f"topic={TAGS_SHOWN}" in row


def test_it_shows_a_hostile_check_escaped_on_the_terminal(hostile_db: Path) -> None:
    lines = cli_out(hostile_db, "check", "list").splitlines()
    slug = lines[1].split()[1]
    out = cli_out(hostile_db, "check", "show", slug).splitlines()
    assert out[0] == f"name:      {CLI_NAME_SHOWN}"
    assert f"tags:      {TAGS_SHOWN}" in out
    [ping] = [line for line in out if line.startswith("1 ")]
    assert "203.0.113.9\\x1b[2J" in ping


def test_it_names_a_hostile_check_key_and_channel_escaped_when_it_changes_them(
    hostile_db: Path,
) -> None:
    slug = cli_out(hostile_db, "check", "list").splitlines()[1].split()[1]
    for verb in ("pause", "resume", "rm"):
        out = cli_out(hostile_db, "check", verb, slug)
        assert out.startswith(f"{verb.replace('rm', 'delete')}d {CLI_NAME_SHOWN} (")
        assert out.count("\n") == 1
    prefix = [line for line in cli_out(hostile_db, "key", "list").splitlines() if "pingd_" in line]
    mine = [line for line in prefix if CLI_NAME_SHOWN in line][0].split()[1].rstrip("…")
    assert cli_out(hostile_db, "key", "revoke", mine).rstrip("\n").endswith(f"({CLI_NAME_SHOWN})")
    out = cli_out(hostile_db, "channel", "rm", "1")
    assert out == f"deleted channel 1 (ntfy {CLI_NAME_SHOWN})\n"

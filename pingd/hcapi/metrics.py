"""Prometheus metrics at Healthchecks' URL, with its names and labels and what it lacks.

``GET /projects/<project-uuid>/metrics/<read-only-key>``, or without the key
and ``Authorization: Bearer <read-only-key>`` (Grafana Cloud's form). As in
Healthchecks only read-only keys are accepted (403 otherwise, 401 without a
Bearer header), and the key alone selects the project. The text exposition
format: Healthchecks' ``hc_check_up``, ``hc_check_started``, ``hc_check_grace``,
``hc_check_paused``, ``hc_tag_up``, ``hc_checks_total`` and
``hc_checks_down_total``, then per check its last ping and last success as Unix
timestamps, its last duration, its pings ever received and its kept pings by
kind. The key is never logged.
"""

from __future__ import annotations

from collections.abc import Iterator

import falcon

from pingd.domain.badges import status_ignoring_run
from pingd.domain.badges import tags_of
from pingd.domain.checks import PING_KINDS
from pingd.domain.checks import Check
from pingd.domain.transport import clear_key_message
from pingd.domain.transport import key_sent_in_clear
from pingd.errors import Forbidden
from pingd.errors import Unauthorized
from pingd.hcapi.shapes import unique_key
from pingd.service import Service

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _gauge(name: str, help_text: str, kind: str = "gauge") -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"


def metrics_text(service: Service) -> str:
    """Return the project's metrics in Prometheus' text exposition format."""
    return "".join(_lines(service))


def _lines(service: Service) -> Iterator[str]:
    checks = service.list_checks()
    now = service.now()
    rows = [
        (check, f'{{name="{_esc(check.name)}", tags="{_esc(check.tags)}", '
                f'unique_key="{unique_key(check.uuid)}"}}', status_ignoring_run(check, now))
        for check in checks
    ]  # fmt: skip
    yield _gauge("hc_check_up", "Whether the check is currently up (1 for yes, 0 for no).")
    yield from (f"hc_check_up{labels} {0 if s == 'down' else 1}\n" for _, labels, s in rows)
    yield "\n" + _gauge(
        "hc_check_started", "Whether the check is currently started (1 for yes, 0 for no)."
    )
    yield from (f"hc_check_started{lb} {int(c.last_start is not None)}\n" for c, lb, _ in rows)
    yield "\n" + _gauge(
        "hc_check_grace",
        "Whether the check is currently in the grace period (1 for yes, 0 for no).",
    )
    yield from (f"hc_check_grace{labels} {int(s == 'grace')}\n" for _, labels, s in rows)
    yield "\n" + _gauge(
        "hc_check_paused", "Whether the check is currently paused (1 for yes, 0 for no)."
    )
    yield from (f"hc_check_paused{labels} {int(s == 'paused')}\n" for _, labels, s in rows)
    yield from _tag_lines(rows)
    yield "\n" + _gauge("hc_checks_total", "The total number of checks.")
    yield f"hc_checks_total {len(rows)}\n"
    yield "\n" + _gauge("hc_checks_down_total", "The number of checks currently down.")
    yield f"hc_checks_down_total {sum(1 for _, _, s in rows if s == 'down')}\n"
    yield from _pingd_lines(service, rows)


def _tag_lines(rows: list[tuple[Check, str, str]]) -> Iterator[str]:
    all_tags: set[str] = set()
    down_tags: set[str] = set()
    for check, _, status in rows:
        all_tags.update(tags_of(check))
        if status == "down":
            down_tags.update(tags_of(check))
    yield "\n" + _gauge(
        "hc_tag_up", "Whether all checks with this tag are up (1 for yes, 0 for no)."
    )
    for tag in sorted(all_tags):
        yield f'hc_tag_up{{tag="{_esc(tag)}"}} {0 if tag in down_tags else 1}\n'


def _pingd_lines(service: Service, rows: list[tuple[Check, str, str]]) -> Iterator[str]:
    """The series Healthchecks' users asked for and it lacks."""
    successes = service.last_success_times([check.id for check, _, _ in rows])
    kinds = service.kept_pings_by_kind()
    yield "\n" + _gauge(
        "hc_check_last_ping_timestamp_seconds", "When the check was last pinged (Unix time)."
    )
    for check, labels, _ in rows:
        if check.last_ping is not None:
            stamp = check.last_ping.timestamp()
            yield f"hc_check_last_ping_timestamp_seconds{labels} {stamp:.3f}\n"
    yield "\n" + _gauge(
        "hc_check_last_success_timestamp_seconds",
        "When the check last had a success ping among its kept pings (Unix time).",
    )
    for check, labels, _ in rows:
        if (when := successes.get(check.id)) is not None:
            yield f"hc_check_last_success_timestamp_seconds{labels} {when.timestamp():.3f}\n"
    yield "\n" + _gauge(
        "hc_check_last_duration_seconds", "How long the check's last timed run took."
    )
    for check, labels, _ in rows:
        if check.last_duration is not None:
            yield f"hc_check_last_duration_seconds{labels} {check.last_duration:.3f}\n"
    yield "\n" + _gauge(
        "hc_check_pings_total", "Pings the check has received, of every kind.", "counter"
    )
    yield from (f"hc_check_pings_total{labels} {c.n_pings}\n" for c, labels, _ in rows)
    yield "\n" + _gauge("hc_check_kept_pings", "The check's kept pings (its log) by kind.")
    for check, labels, _ in rows:
        counts = kinds.get(check.id, {})
        for kind in PING_KINDS:
            yield f'hc_check_kept_pings{labels[:-1]}, kind="{kind}"}} {counts.get(kind, 0)}\n'


class MetricsResource:
    """The metrics, for a read-only key in the URL or in a Bearer header."""

    def __init__(self, service: Service, *, require_https: str = "auto") -> None:
        self._service = service
        self._require_https = require_https

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, project: str, key: str | None = None
    ) -> None:
        if key is None:
            scheme, _, token = (req.get_header("Authorization") or "").partition(" ")
            if scheme != "Bearer" or not token:
                raise Unauthorized("send a read-only API key as Authorization: Bearer <key>")
            key = token
        client = req.remote_addr or ""
        if key_sent_in_clear(self._require_https, req.scheme, client):
            # Said in full: the fixed texts of this path's errors would not say why.
            resp.status = falcon.HTTP_401
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = clear_key_message(client, key)
            return
        found = self._service.authenticate(key)
        if found is None or not found.read_only:
            raise Forbidden("the metrics need a read-only API key")
        resp.content_type = CONTENT_TYPE
        resp.text = metrics_text(self._service)

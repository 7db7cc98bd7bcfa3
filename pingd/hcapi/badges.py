"""Status badges at Healthchecks' URLs: per tag (signed) and per check, as SVG, JSON or shields.

``/badge/<badge-id>/<sig>[-2]/<tag>.<fmt>`` (``/badge/<badge-id>/<sig>[-2].<fmt>``
for all checks) and ``/b/<2|3>/<check-badge-key>.<fmt>``; ``-2`` and ``/b/2/``
are two-state (up or down), the others three-state (late too). Ids and
signatures come from the project's secret (``pingd.domain.badges``), so a
badge URL reveals nothing else. Anything wrong in the URL is a 404. Labels are
outside text and are escaped in the SVG. Answers are never cached and carry
``Access-Control-Allow-Origin: *``, as Healthchecks' do.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

import falcon

from pingd.domain.badges import BADGE_FORMATS
from pingd.domain.badges import SHIELDS_COLORS
from pingd.domain.badges import SVG_COLORS
from pingd.domain.badges import BadgeState
from pingd.domain.badges import badge_state
from pingd.domain.badges import check_badge_key
from pingd.domain.badges import project_badge_id
from pingd.domain.badges import signature_matches
from pingd.domain.badges import tags_of
from pingd.errors import NotFound
from pingd.service import Service

ALL_CHECKS_LABEL = "pingd"
# Approximate widths of Verdana 11 px characters, as shields-style badges use.
_NARROW = set("fijlrtI!.,:;'|() ")
_WIDE = set("mwMW@%")


def _text_width(text: str) -> int:
    return sum(4 if c in _NARROW else 10 if c in _WIDE else 7 for c in text)


def render_svg(label: str, status: str) -> str:
    """Return a shields-style SVG badge: the label on grey, the status on its colour."""
    left, right = _text_width(label) + 10, _text_width(status) + 10
    width, colour = left + right, SVG_COLORS[status]
    safe_label, safe_status = escape(label), escape(status)
    title = escape(f"{label}: {status}")
    texts = "".join(
        f'<text x="{x}" y="15" fill="#010101" fill-opacity=".3">{text}</text>'
        f'<text x="{x}" y="14">{text}</text>'
        for x, text in ((left / 2, safe_label), (left + right / 2, safe_status))
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img"'
        f' aria-label="{escape(f"{label}: {status}", {chr(34): "&quot;"})}">'
        f"<title>{title}</title>"
        '<linearGradient id="smooth" x2="0" y2="100%"><stop offset="0" stop-color="#bbb"'
        ' stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<mask id="round"><rect width="{width}" height="20" rx="3" fill="#fff"/></mask>'
        f'<g mask="url(#round)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<rect width="{width}" height="20" fill="url(#smooth)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif"'
        f' text-rendering="geometricPrecision" font-size="11">{texts}</g></svg>'
    )


def render_badge(resp: falcon.Response, label: str, state: BadgeState, fmt: str) -> None:
    """Answer one badge in a format: SVG, Healthchecks' JSON counts, or shields.io's JSON."""
    resp.set_header("Cache-Control", "max-age=0, no-cache, no-store, must-revalidate, private")
    resp.set_header("Access-Control-Allow-Origin", "*")
    if fmt == "svg":
        resp.content_type = "image/svg+xml"
        resp.text = render_svg(label, state.status)
        return
    if fmt == "json":
        doc: dict[str, object] = {"status": state.status, "total": state.total,
                                  "grace": state.grace, "down": state.down}  # fmt: skip
    else:
        doc = {"schemaVersion": 1, "label": label, "message": state.status,
               "color": SHIELDS_COLORS[state.status]}  # fmt: skip
    resp.content_type = falcon.MEDIA_JSON
    resp.text = json.dumps(doc)


def _split_format(name: str) -> tuple[str, str]:
    stem, dot, fmt = name.rpartition(".")
    if not dot or fmt not in BADGE_FORMATS:
        raise NotFound()
    return stem, fmt


class TagBadgeResource:
    """``/badge/<badge-id>/<rest>``: the badge of every check with a tag, or of all checks."""

    def __init__(self, service: Service) -> None:
        self._service = service

    def on_get(self, req: falcon.Request, resp: falcon.Response, badge_id: str, rest: str) -> None:
        secret = self._service.project().badge_key
        signature, slash, tag_part = rest.partition("/")
        tag, fmt = _split_format(tag_part) if slash else ("*", "")
        if not slash:
            signature, fmt = _split_format(signature)
        if badge_id != project_badge_id(secret) or not signature_matches(secret, tag, signature):
            raise NotFound()
        with_late = not (len(signature) == 10 and signature.endswith("-2"))
        checks = self._service.list_checks()
        if tag != "*":
            checks = [check for check in checks if tag in tags_of(check)]
        state = badge_state(checks, self._service.now(), with_late=with_late)
        render_badge(resp, ALL_CHECKS_LABEL if tag == "*" else tag, state, fmt)


class CheckBadgeResource:
    """``/b/<2|3>/<check-badge-key>.<fmt>``: one check's badge, labelled with its name."""

    def __init__(self, service: Service, states: int) -> None:
        self._service = service
        self._states = states

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        key, fmt = _split_format(name)
        secret = self._service.project().badge_key
        found = [c for c in self._service.list_checks() if check_badge_key(secret, c.uuid) == key]
        if not found:
            raise NotFound()
        state = badge_state(found, self._service.now(), with_late=self._states == 3)
        # Healthchecks falls back to the UUID, which would reveal the ping URL.
        render_badge(resp, found[0].name or "unnamed check", state, fmt)

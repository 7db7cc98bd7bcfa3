"""The functional core's status badges: their keys, signatures and what a badge says.

A project has one secret badge key, stored and never shown. Every badge id is
an HMAC of it, so a badge URL reveals neither the key, nor a check's UUID
(which would let anyone ping it), nor anything else. Pure functions of their
arguments and an explicit ``now``, like all of ``pingd.domain``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from pingd.domain.checks import Check
from pingd.domain.checks import status_at

BADGE_FORMATS = ("svg", "json", "shields")
# Healthchecks' colours for the SVG badge and its shields.io colour names.
SVG_COLORS = {"up": "#4c1", "late": "#fe7d37", "down": "#e05d44"}
SHIELDS_COLORS = {"up": "success", "late": "important", "down": "critical"}


def _mac(secret: str, message: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()


def project_badge_id(secret: str) -> str:
    """Return the project's public badge id: 32 hex characters derived from its secret."""
    return _mac(secret, "project-badge-id").hex()[:32]


def tag_signature(secret: str, tag: str) -> str:
    """Return the 8-character signature of one tag's badge URLs (``*`` for all checks)."""
    digest = _mac(secret, "tag:" + tag)
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:8]


def signature_matches(secret: str, tag: str, signature: str) -> bool:
    """Tell whether a URL's signature (with or without ``-2``) is the tag's, in constant time."""
    return hmac.compare_digest(tag_signature(secret, tag), signature[:8])


def check_badge_key(secret: str, check_uuid: str) -> str:
    """Return a check's badge key: UUID-shaped, and not its UUID or anything it reveals."""
    h = _mac(secret, "check:" + check_uuid.lower()).hex()[:32]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def status_ignoring_run(check: Check, now: datetime) -> str:
    """Return the status Healthchecks judges a check by: a run under way is not a status.

    A started check is down once its run has outlasted its grace, and
    otherwise judged by its schedule as if it had not started.
    """
    status = status_at(check, now)
    if status == "started":
        return status_at(dataclasses.replace(check, last_start=None), now)
    return status


def tags_of(check: Check) -> list[str]:
    """Return a check's tags as Healthchecks splits them: on whitespace."""
    return check.tags.split()


@dataclass(frozen=True, slots=True)
class BadgeState:
    """What a badge says: up, late (three-state only) or down, and the counts behind it."""

    status: str
    total: int
    grace: int
    down: int


def badge_state(checks: Iterable[Check], now: datetime, *, with_late: bool) -> BadgeState:
    """Judge checks as Healthchecks does: any down makes it down, then any in grace late.

    New and paused checks count as up; a started check as ``status_ignoring_run`` says.
    """
    total = grace = down = 0
    for check in checks:
        total += 1
        status = status_ignoring_run(check, now)
        if status == "down":
            down += 1
        elif status == "grace":
            grace += 1
    if down:
        return BadgeState("down", total, grace, down)
    if grace and with_late:
        return BadgeState("late", total, grace, down)
    return BadgeState("up", total, grace, down)


def tag_badge_urls(base_url: str, secret: str, tag: str) -> dict[str, str]:
    """Return one tag's six badge URLs, keyed as Healthchecks' ``badges/`` lists them."""
    badge_id, sig = project_badge_id(secret), tag_signature(secret, tag)
    where = "" if tag == "*" else "/" + quote(tag, safe="")
    urls = {}
    for fmt in BADGE_FORMATS:
        urls[fmt] = f"{base_url}/badge/{badge_id}/{sig}-2{where}.{fmt}"
        urls[fmt + "3"] = f"{base_url}/badge/{badge_id}/{sig}{where}.{fmt}"
    return {name: urls[name] for name in ("svg", "svg3", "json", "json3", "shields", "shields3")}


def check_badge_url(base_url: str, secret: str, check_uuid: str, states: int, fmt: str) -> str:
    """Return a check's own badge URL."""
    return f"{base_url}/b/{states}/{check_badge_key(secret, check_uuid)}.{fmt}"

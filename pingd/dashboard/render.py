"""Pages as HTML: one Jinja2 environment that escapes everything, and the headers every page gets.

Jinja2 is imported when the first page is rendered, so a server nobody
browses keeps its memory. Outside text (check names, tags, bodies, user
agents) reaches templates only as variables, which autoescaping turns into
text; no template marks anything safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import falcon

# No inline script or style, nothing from another origin, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self';"
    " base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# Status as a symbol and a word, never colour alone; pages list down checks first.
STATUS_ORDER = ("down", "grace", "started", "up", "new", "paused")
STATUS_SYMBOLS = {"down": "✕", "grace": "!", "started": "▶", "new": "○", "up": "✓", "paused": "‖"}

_environment: Any = None
_lock = threading.Lock()


def environment() -> Any:
    """Return the Jinja2 environment, creating it on first use."""
    global _environment
    with _lock:
        if _environment is None:
            import jinja2  # noqa: PLC0415 (here on purpose: see the module docstring)

            _environment = jinja2.Environment(
                loader=jinja2.PackageLoader("pingd.dashboard", "templates"),
                autoescape=True,
                undefined=jinja2.StrictUndefined,
            )
        return _environment


@dataclass(frozen=True, slots=True)
class Moment:
    """A time as pages show it: relative ("3 h ago"), exact on hover, machine-readable."""

    iso: str
    exact: str
    relative: str


def span(seconds: float) -> str:
    """Spell a length of time roughly, for people: ``40 s``, ``12 min``, ``3 h``, ``2 days``."""
    seconds = abs(int(seconds))
    for size, unit in ((86400, " days"), (3600, " h"), (60, " min")):
        if seconds >= size * (2 if size == 86400 else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds} s"


def moment(value: datetime | None, now: datetime) -> Moment | None:
    """Return how a page shows ``value`` seen at ``now``, or None for no time."""
    if value is None:
        return None
    delta = (value - now).total_seconds()
    if abs(delta) < 1:
        relative = "just now"
    else:
        relative = f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"
    return Moment(value.strftime("%Y-%m-%dT%H:%M:%SZ"), when(value), relative)


def when(value: datetime | None) -> str:
    """Spell a time for a page: UTC, to the second, or "never"."""
    return "never" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def set_page_headers(resp: falcon.Response) -> None:
    """Set the security headers every dashboard answer carries."""
    for name, value in PAGE_HEADERS.items():
        resp.set_header(name, value)


def render_page(
    resp: falcon.Response, template: str, *, http_status: str = falcon.HTTP_200, **context: Any
) -> None:
    """Answer with a page rendered from ``template``."""
    set_page_headers(resp)
    resp.status = http_status
    resp.content_type = "text/html; charset=utf-8"
    resp.text = environment().get_template(template).render(**context)


def redirect(resp: falcon.Response, location: str) -> None:
    """Answer 303 See Other, the answer to every form: the browser GETs ``location``."""
    set_page_headers(resp)
    resp.status = falcon.HTTP_303
    resp.set_header("Location", location)
    resp.content_type = "text/plain; charset=utf-8"
    resp.text = ""


class StaticFile:
    """``/static/<name>``: the one stylesheet or the one script, from the package."""

    def __init__(self, name: str, content_type: str) -> None:
        self._data = resources.files("pingd.dashboard").joinpath(f"static/{name}").read_bytes()
        self._content_type = content_type

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = self._content_type
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Cache-Control", "max-age=3600")
        resp.data = self._data

    on_head = on_get


# The favicon: a green tick, or a red disc with the number of checks down
# (only digits ever go into it).
_ICON_UP = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<circle cx="16" cy="16" r="15" fill="#1b6e20"/>'
    '<path d="M9 16.5l5 5 9-11" fill="none" stroke="#fff" stroke-width="4"/></svg>'
)
_ICON_DOWN = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<circle cx="16" cy="16" r="15" fill="#b00020"/>'
    '<text x="16" y="22" font-size="{size}" font-family="sans-serif" font-weight="700"'
    ' text-anchor="middle" fill="#fff">{n}</text></svg>'
)


def favicon(down: int) -> str:
    """Return the favicon's SVG for a number of checks down."""
    if down <= 0:
        return _ICON_UP
    shown = str(down) if down < 100 else "99+"
    return _ICON_DOWN.format(n=shown, size=18 if len(shown) < 3 else 12)


class FaviconResource:
    """``/favicon.svg?down=N``: the icon the pages link, red with N when checks are down."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        down = req.get_param("down") or "0"
        resp.content_type = "image/svg+xml"
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Cache-Control", "max-age=86400")
        resp.text = favicon(int(down) if down.isdigit() and len(down) < 6 else 0)

    on_head = on_get

"""Pages as HTML: one Jinja2 environment that escapes everything, and the headers every page gets.

Jinja2 is imported when the first page is rendered, so a server nobody
browses keeps its memory. Outside text (check names, tags, bodies, user
agents) reaches templates only as variables, which autoescaping turns into
text; no template marks anything safe.
"""

from __future__ import annotations

import threading
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
STATUS_ORDER = ("down", "grace", "started", "new", "up", "paused")
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


class StylesheetResource:
    """``/static/pingd.css``: the one stylesheet, from the package."""

    def __init__(self) -> None:
        self._css = resources.files("pingd.dashboard").joinpath("static/pingd.css").read_bytes()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "text/css; charset=utf-8"
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Cache-Control", "max-age=3600")
        resp.data = self._css

    on_head = on_get

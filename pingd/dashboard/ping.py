"""One ping (``/checks/<uuid>/pings/<n>``): every field, the body as text, and the raw body.

The body is whatever the job sent, so it is shown only as escaped text, and
downloaded as ``application/octet-stream`` with ``Content-Disposition:
attachment``, never rendered by the browser.
"""

from __future__ import annotations

import falcon

from pingd.dashboard.render import render_page
from pingd.dashboard.render import set_page_headers
from pingd.dashboard.render import when
from pingd.dashboard.session import Sessions
from pingd.dashboard.session import Visitor
from pingd.dashboard.session import sign_in_first
from pingd.domain.checks import Check
from pingd.domain.checks import Ping
from pingd.errors import CheckNotFound
from pingd.service import Service


def _not_found(resp: falcon.Response, visitor: Visitor) -> None:
    render_page(resp, "message.html", http_status=falcon.HTTP_404, visitor=visitor,
                title="No such ping", message="That check does not keep a ping with that"
                " number (it keeps only its latest ones).")  # fmt: skip


class _PingResource:
    def __init__(self, service: Service, sessions: Sessions) -> None:
        self._service = service
        self._sessions = sessions

    def _find(
        self, req: falcon.Request, resp: falcon.Response, check_uuid: str, n: str
    ) -> tuple[Check, Ping] | None:
        """Return the check and its ping, or answer (sign in first, or 404) and return None."""
        visitor = self._sessions.visitor(req)
        if visitor is None:
            sign_in_first(req, resp)
            return None
        try:
            check = self._service.get_check(check_uuid)
        except CheckNotFound:
            _not_found(resp, visitor)
            return None
        number = int(n) if n.isdigit() and len(n) < 19 else -1
        found = [p for p in self._service.list_pings(check.id) if p.n == number]
        if not found:
            _not_found(resp, visitor)
            return None
        return check, found[0]


class PingPage(_PingResource):
    """``/checks/{uuid}/pings/{n}``."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str, n: str) -> None:
        found = self._find(req, resp, check_uuid, n)
        if found is None:
            return
        check, ping = found
        fields = [
            ("Number", str(ping.n)), ("Time", when(ping.created)), ("Kind", ping.kind),
            ("Exit status", "-" if ping.exit_status is None else str(ping.exit_status)),
            ("Run id", ping.rid or "-"), ("Method", ping.method), ("Scheme", ping.scheme),
            ("From", ping.remote_addr), ("User agent", ping.ua or "-"),
            ("Body size", f"{ping.body_size:,} bytes"
             + (f", of which the first {len(ping.body):,} are kept"
                if len(ping.body) < ping.body_size else "")),
        ]  # fmt: skip
        render_page(resp, "ping.html", visitor=self._sessions.visitor(req), check=check,
                    ping=ping, fields=fields,
                    body=ping.body.decode("utf-8", errors="replace"))  # fmt: skip


class PingBodyDownload(_PingResource):
    """``/checks/{uuid}/pings/{n}/body``: the body as it arrived, as a download."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str, n: str) -> None:
        found = self._find(req, resp, check_uuid, n)
        if found is None:
            return
        check, ping = found
        set_page_headers(resp)
        resp.content_type = "application/octet-stream"
        resp.set_header("Content-Disposition", f'attachment; filename="{check.uuid}-{ping.n}.body"')
        resp.data = ping.body

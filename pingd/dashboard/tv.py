"""The TV view (``/tv``): every check as a tile for a wall screen, read-only.

It takes the checks page's filters (``?tag=…``, ``?status=…``), refreshes
itself every 10 s with the script (a timed reload without it would fail WCAG
2.2.1, so it says to reload), and has no
button: a wall screen can stay signed in with a read-only key.
"""

from __future__ import annotations

import falcon

from pingd.dashboard.checks import Filters
from pingd.dashboard.checks import checks_view
from pingd.dashboard.render import STATUS_SYMBOLS
from pingd.dashboard.render import render_page
from pingd.dashboard.render import when
from pingd.dashboard.session import Page


class TvPage(Page):
    """``/tv``."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._sessions.reader(req, resp)
        if visitor is None:
            return
        view = checks_view(self._service, Filters.of(req))
        render_page(resp, "tv.html", visitor=visitor, symbols=STATUS_SYMBOLS,
                    updated=when(self._service.now()), **view)  # fmt: skip

"""Signing in (with an API key, or a one-time link from ``pingd login-link``) and out.

A sign-in link opens a page with a button rather than signing in on the GET:
chat apps and mail scanners fetch links to preview them, and would use up a
one-time link before its owner clicks it.
"""

from __future__ import annotations

import falcon

from pingd.dashboard.render import redirect
from pingd.dashboard.render import render_page
from pingd.dashboard.session import FOREIGN
from pingd.dashboard.session import Sessions
from pingd.dashboard.session import local_path
from pingd.dashboard.session import read_form
from pingd.dashboard.session import refuse
from pingd.domain.transport import clear_key_message
from pingd.domain.transport import key_sent_in_clear
from pingd.service import Service


def _attempt_allowed(sessions: Sessions, req: falcon.Request, resp: falcon.Response) -> bool:
    """Take a sign-in attempt, or answer why not: from another site, or too many."""
    if sessions.from_elsewhere(req):
        refuse(resp, None, FOREIGN)
        return False
    wait = sessions.login_wait(req)
    if wait:
        resp.set_header("Retry-After", str(wait))
        refuse(resp, None, f"Too many sign-in attempts. Try again in {wait} s.", falcon.HTTP_429)
        return False
    return True


class LoginResource:
    """``/login``: a form that takes an API key."""

    def __init__(self, service: Service, sessions: Sessions) -> None:
        self._service = service
        self._sessions = sessions

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        target = local_path(req.get_param("next"))
        if self._sessions.visitor(req) is not None:
            redirect(resp, target)
            return
        render_page(resp, "login.html", visitor=None, next=target, error="")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = read_form(req)
        target = local_path(form.get("next"))
        if not _attempt_allowed(self._sessions, req, resp):
            return
        key, client = form.get("key", "").strip(), req.remote_addr or ""
        if key and key_sent_in_clear(self._sessions.require_https, req.scheme, client):
            render_page(resp, "login.html", http_status=falcon.HTTP_403, visitor=None, next=target,
                        error=clear_key_message(client, key))  # fmt: skip
            return
        signed = self._service.sign_in_with_key(
            key,
            user_agent=req.user_agent or "",
            remote_addr=req.remote_addr or "",
        )
        if signed is None:
            self._sessions.log_failed_login(req, "key")
            render_page(resp, "login.html", http_status=falcon.HTTP_403, visitor=None, next=target,
                        error="That is not an API key of this pingd.")  # fmt: skip
            return
        self._sessions.start(req, resp, signed)
        redirect(resp, target)


class LoginLinkResource:
    """``/login/link``: the page a one-time sign-in link opens, and its button."""

    def __init__(self, service: Service, sessions: Sessions) -> None:
        self._service = service
        self._sessions = sessions

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        render_page(resp, "login_link.html", visitor=None, token=req.get_param("token") or "")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = read_form(req)
        if not _attempt_allowed(self._sessions, req, resp):
            return
        signed = self._service.sign_in_with_link(
            form.get("token", ""),
            user_agent=req.user_agent or "",
            remote_addr=req.remote_addr or "",
        )
        if signed is None:
            self._sessions.log_failed_login(req, "link")
            refuse(resp, None, "This sign-in link was used already or has expired. Run"
                     " `pingd login-link` for a new one.", falcon.HTTP_403)  # fmt: skip
            return
        self._sessions.start(req, resp, signed)
        redirect(resp, "/")


class LogoutResource:
    """``/logout``: a POST that ends the session."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._sessions.visitor(req)
        if visitor is not None and not self._sessions.form_accepted(req, visitor, read_form(req)):
            refuse(resp, visitor, FOREIGN)
            return
        self._sessions.end(req, resp)
        redirect(resp, "/login")

"""Who is browsing: the session cookie, sign-in rate limits, and what refuses a forged POST.

The cookie holds the session's token and is ``HttpOnly`` and ``SameSite=Lax``
(Strict would drop the session on every click from an alert in another app;
Lax still keeps it off another site's POST). It is ``Secure`` whenever the
request came over HTTPS, directly or through ``server.trusted_proxy`` (which
sets the request's scheme), or ``server.base_url`` is https. Every POST of a
signed-in page carries the session's form token; every POST, signing in
included, is refused when the browser says it comes from another site.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import falcon

from pingd.dashboard.render import redirect
from pingd.dashboard.render import render_page
from pingd.domain.checks import Check
from pingd.errors import CheckNotFound
from pingd.ratelimit import RateLimiter
from pingd.service import Service
from pingd.service.sessions import SESSION_IDLE_DAYS
from pingd.service.sessions import SignIn
from pingd.service.sessions import csrf_matches
from pingd.service.sessions import csrf_token

logger = logging.getLogger("pingd.dashboard")

COOKIE = "pingd_session"
NOTICE_COOKIE = "pingd_notice"
MAX_FORM_BYTES = 65536
NOTICE_CHARS = 300
FOREIGN = (
    "This form was sent from another site, or from a page older than your session,"
    " so pingd did not act on it."
)
READ_ONLY = (
    "This session is read-only (it signed in with a read-only key), so it cannot change anything."
)
# Sign-in attempts: 5 at once per address, then one every 10 s; 20 at once
# overall, then one a second, whatever the addresses.
LOGIN_BURST, LOGIN_RATE_PER_SECOND = 5, 0.1
LOGIN_BURST_OVERALL, LOGIN_RATE_OVERALL = 20, 1.0


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in browser: whether its key is read-only, and the token its forms carry."""

    read_only: bool
    form_token: str


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(scheme: str, host: str, port: int | None) -> str:
    """Spell an origin as a browser's ``Origin`` header does: no default port."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{shown}".lower()
    return f"{scheme}://{shown}:{port}".lower()


def origin_of(url: str) -> str:
    """Return the origin of an absolute URL."""
    parts = urllib.parse.urlsplit(url)
    return origin(parts.scheme, parts.hostname or "", parts.port)


def local_path(target: str | None) -> str:
    """Return ``target`` if it is a path on this server, else ``/``.

    Only a path starting with one slash is taken, so that ``next`` can never
    send a browser to another site (``//evil``, ``/\\evil``, ``https:…``).
    """
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(ord(c) < 0x20 or c == "\\" for c in target)
    ):
        return "/"
    return target


def sign_in_first(req: falcon.Request, resp: falcon.Response) -> None:
    """Send the browser to sign in, and back to the page it asked for after."""
    target = req.path + (f"?{req.query_string}" if req.query_string else "")
    redirect(resp, "/login?" + urllib.parse.urlencode({"next": target}))


def refuse(resp: falcon.Response, visitor: Visitor | None, message: str,
           status: str = falcon.HTTP_403) -> None:  # fmt: skip
    """Answer with a page that says why nothing was done."""
    render_page(resp, "message.html", http_status=status, visitor=visitor, title="Not done",
                message=message)  # fmt: skip


def find_check(
    service: Service, resp: falcon.Response, visitor: Visitor, check_uuid: str
) -> Check | None:
    """Return the check, or answer with the 404 page and return None."""
    try:
        return service.get_check(check_uuid)
    except CheckNotFound:
        render_page(resp, "message.html", http_status=falcon.HTTP_404, visitor=visitor,
                    title="No such check", message="There is no check with that UUID.")  # fmt: skip
        return None


def read_form(req: falcon.Request) -> dict[str, str]:
    """Read a URL-encoded form body (up to MAX_FORM_BYTES); one value per field.

    A field sent several times (checkboxes) is joined with newlines; see
    ``form_list``.
    """
    length = req.content_length or 0
    if length > MAX_FORM_BYTES:
        return {}
    body = req.bounded_stream.read(length).decode("utf-8", errors="replace") if length else ""
    parsed = urllib.parse.parse_qs(body, keep_blank_values=True)
    return {key: "\n".join(values) for key, values in parsed.items()}


def form_list(form: dict[str, str], field: str) -> list[str]:
    """Return every value of a field sent several times (checkboxes), in order."""
    value = form.get(field, "")
    return value.split("\n") if value else []


class Sessions:
    """The dashboard's view of sessions: cookies, sign-in limits and forged-POST checks."""

    def __init__(
        self, service: Service, base_url: str, *, monotonic: Callable[[], float] = time.monotonic,
        require_https: str = "auto",
    ) -> None:  # fmt: skip
        self._service = service
        self.require_https = require_https  # for the sign-in with an API key
        self._base_origin = origin_of(base_url)
        self._https_base = base_url.startswith("https://")
        self._per_address = RateLimiter(LOGIN_RATE_PER_SECOND, LOGIN_BURST, clock=monotonic)
        self._overall = RateLimiter(LOGIN_RATE_OVERALL, LOGIN_BURST_OVERALL, clock=monotonic)

    def visitor(self, req: falcon.Request) -> Visitor | None:
        """Return the signed-in visitor of this request, or None."""
        token = req.get_cookie_values(COOKIE)
        if not token or not token[0]:
            return None
        session = self._service.session_for(token[0])
        return None if session is None else Visitor(session.read_only, csrf_token(token[0]))

    def start(self, req: falcon.Request, resp: falcon.Response, signed: SignIn) -> None:
        """Give the browser the new session's cookie."""
        resp.set_cookie(
            COOKIE, signed.token, max_age=SESSION_IDLE_DAYS * 86400, path="/",
            secure=self._secure(req), http_only=True, same_site="Lax",
        )  # fmt: skip

    def end(self, req: falcon.Request, resp: falcon.Response) -> None:
        """End the request's session, if any, and clear its cookie."""
        token = req.get_cookie_values(COOKIE)
        if token and token[0]:
            self._service.sign_out(token[0])
        resp.unset_cookie(COOKIE, path="/", same_site="Lax")

    def login_wait(self, req: falcon.Request) -> int:
        """Take a sign-in attempt; return 0, or the seconds to wait before the next.

        An attempt its address may not make takes nothing from the overall
        allowance, so one address cannot lock everyone else out.
        """
        wait = self._per_address.acquire(f"login:{req.remote_addr}")
        return wait or self._overall.acquire("login")

    def from_elsewhere(self, req: falcon.Request) -> bool:
        """Tell whether the browser says this request comes from another site."""
        if (req.get_header("Sec-Fetch-Site") or "").lower() == "cross-site":
            return True
        sent = (req.get_header("Origin") or "").lower()
        if not sent:
            return False  # an older browser, or not a browser; the form token decides
        own = origin(req.scheme, req.host, req.port)
        return sent not in (self._base_origin, own)

    def form_accepted(self, req: falcon.Request, visitor: Visitor, form: dict[str, str]) -> bool:
        """Tell whether a signed-in POST is the visitor's own: same site, right form token."""
        if self.from_elsewhere(req):
            return False
        token = req.get_cookie_values(COOKIE) or [""]
        return csrf_matches(token[0], form.get("csrf", ""))

    def log_failed_login(self, req: falcon.Request, how: str) -> None:
        """One line per failed sign-in, with the address and never the key (for fail2ban)."""
        logger.warning("dashboard login failed from %s (%s)", req.remote_addr, how)

    def writer(
        self, req: falcon.Request, resp: falcon.Response
    ) -> tuple[Visitor, dict[str, str]] | None:
        """Return the visitor and form of a POST that may change something, or answer why not.

        Signed out: to sign in first. From another site or without the right
        form token: 403. A read-only session: 403. Nothing changes in any of these.
        """
        visitor = self.visitor(req)
        if visitor is None:
            sign_in_first(req, resp)
            return None
        form = read_form(req)
        if not self.form_accepted(req, visitor, form):
            refuse(resp, visitor, FOREIGN)
            return None
        if visitor.read_only:
            refuse(resp, visitor, READ_ONLY)
            return None
        return visitor, form

    def reader(
        self, req: falcon.Request, resp: falcon.Response, *, write: bool = False
    ) -> Visitor | None:
        """Return the visitor of a page, or answer: sign in first, or 403 for a read-only
        session on a page that is only a form (``write``)."""
        visitor = self.visitor(req)
        if visitor is None:
            sign_in_first(req, resp)
            return None
        if write and visitor.read_only:
            refuse(resp, visitor, READ_ONLY)
            return None
        return visitor

    def tell(self, req: falcon.Request, resp: falcon.Response, notice: str) -> None:
        """Leave a notice for the next page this browser shows (after a redirect)."""
        resp.set_cookie(
            NOTICE_COOKIE, urllib.parse.quote(notice[:NOTICE_CHARS]), max_age=60, path="/",
            secure=self._secure(req), http_only=True, same_site="Lax",
        )  # fmt: skip

    def take_notice(self, req: falcon.Request, resp: falcon.Response) -> str:
        """Return the notice left for this page, once: it is cleared as it is shown."""
        sent = req.get_cookie_values(NOTICE_COOKIE)
        if not sent or not sent[0]:
            return ""
        resp.unset_cookie(NOTICE_COOKIE, path="/", same_site="Lax")
        return urllib.parse.unquote(sent[0])

    def _secure(self, req: falcon.Request) -> bool:
        return self._https_base or req.scheme == "https"


class Page:
    """What every dashboard resource holds: the service, and who is browsing."""

    def __init__(self, service: Service, sessions: Sessions) -> None:
        self._service = service
        self._sessions = sessions

    def _check_to_read(
        self, req: falcon.Request, resp: falcon.Response, check_uuid: str, *, write: bool = False
    ) -> tuple[Visitor, Check] | None:
        """Return the visitor and the check of a page, or answer why not (sign in, 403, 404)."""
        visitor = self._sessions.reader(req, resp, write=write)
        if visitor is None:
            return None
        check = find_check(self._service, resp, visitor, check_uuid)
        return None if check is None else (visitor, check)

    def _check_to_change(
        self, req: falcon.Request, resp: falcon.Response, check_uuid: str
    ) -> tuple[Visitor, dict[str, str], Check] | None:
        """Return the visitor, form and check of a POST that changes a check, or answer why not."""
        allowed = self._sessions.writer(req, resp)
        if allowed is None:
            return None
        visitor, form = allowed
        check = find_check(self._service, resp, visitor, check_uuid)
        return None if check is None else (visitor, form, check)

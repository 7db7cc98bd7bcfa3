"""Use cases of signed-in browsers: signing in with an API key or a one-time link, and out.

A session is a random token in the browser's cookie and the SHA-256 of it in
the database, tied to the API key it signed in with: a read-only key gives a
read-only session, and revoking the key deletes its sessions and links. The
token for a session's forms (``csrf_token``) is derived from the session's
own, so nothing more is stored. Builds on ``ServiceCore`` and the keys
family's hashing (a session is signed in with a key).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import timedelta

from pingd.domain.checks import MAX_UA_LENGTH
from pingd.errors import NotFound
from pingd.service.core import ServiceCore
from pingd.service.keys import hash_api_key
from pingd.store import projects as projects_db
from pingd.store import sessions as sessions_db
from pingd.store.sessions import Session

SESSION_IDLE_DAYS = 30
RENEW_AFTER = timedelta(days=1)  # written at most once a day per session, like a key's use
LOGIN_LINK_MINUTES = 10
TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class SignIn:
    """A new session: the token for the browser's cookie (shown once) and the session."""

    token: str
    session: Session


def new_token() -> str:
    """Generate a session or sign-in link token (256 bits of randomness)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def csrf_token(token: str) -> str:
    """Return the token a session's forms carry: an HMAC of the session's own token."""
    return hmac.new(token.encode("utf-8"), b"pingd form", hashlib.sha256).hexdigest()


def csrf_matches(token: str, presented: str) -> bool:
    """Tell, in constant time, whether a form's token is the session's."""
    return hmac.compare_digest(csrf_token(token), presented)


class SessionsService(ServiceCore):
    """Use cases of browser sessions and one-time sign-in links."""

    def sign_in_with_key(self, key: str, *, user_agent: str, remote_addr: str) -> SignIn | None:
        """Start a session for a presented API key; None if it is no key of this install."""
        digest = hash_api_key(key)

        def run(conn: sqlite3.Connection) -> SignIn | None:
            found = projects_db.get_api_key_by_hash(conn, digest)
            if found is None or not hmac.compare_digest(found.key_hash, digest):
                return None
            return self._start(conn, found.id, user_agent, remote_addr)

        return self._store.write(run)

    def sign_in_with_link(
        self, link_token: str, *, user_agent: str, remote_addr: str
    ) -> SignIn | None:
        """Start a session from a sign-in link, once; None if it is used, expired or unknown."""
        digest = hash_api_key(link_token)

        def run(conn: sqlite3.Connection) -> SignIn | None:
            key_id = sessions_db.use_login_link(conn, digest, self._clock())
            return None if key_id is None else self._start(conn, key_id, user_agent, remote_addr)

        return self._store.write(run)

    def _start(
        self, conn: sqlite3.Connection, key_id: int, user_agent: str, remote_addr: str
    ) -> SignIn:
        token, now = new_token(), self._clock()
        sessions_db.insert_session(
            conn, key_id, hash_api_key(token), now=now,
            expires=now + timedelta(days=SESSION_IDLE_DAYS),
            user_agent=user_agent[:MAX_UA_LENGTH], remote_addr=remote_addr,
        )  # fmt: skip
        session = sessions_db.get_session_by_hash(conn, hash_api_key(token))
        assert session is not None
        return SignIn(token, session)

    def session_for(self, token: str) -> Session | None:
        """Return the live session a cookie's token belongs to, or None.

        A session idle for SESSION_IDLE_DAYS has ended; one in use has its
        expiry pushed out, written in the background at most once a day.
        """
        digest = hash_api_key(token)
        session = self._store.read(lambda conn: sessions_db.get_session_by_hash(conn, digest))
        now = self._clock()
        if session is None or session.expires <= now:
            return None
        if now - session.last_seen >= RENEW_AFTER:
            expires = now + timedelta(days=SESSION_IDLE_DAYS)
            self._store.defer(
                ("session_seen", session.id),
                lambda conn: sessions_db.renew_session(conn, session.id, now=now, expires=expires),
            )
        return session

    def sign_out(self, token: str) -> bool:
        """End the session of this token; tell whether there was one."""
        digest = hash_api_key(token)
        return self._store.write(lambda conn: sessions_db.delete_session(conn, digest))

    def create_login_link(self, prefix: str = "") -> str:
        """Make a one-time sign-in token, valid LOGIN_LINK_MINUTES, for an API key.

        The key is the one whose prefix starts with ``prefix``; without one,
        the oldest read-write key. Raise NotFound if there is no such key.
        """
        token = new_token()

        def run(conn: sqlite3.Connection) -> None:
            keys = projects_db.list_api_keys(conn)
            if prefix:
                matches = [key for key in keys if key.prefix.startswith(prefix)]
            else:
                matches = [key for key in keys if not key.read_only][:1]
            if len(matches) != 1:
                what = f"starts with {prefix!r}" if prefix else "is read-write"
                raise NotFound(f"{len(matches) or 'no'} API key(s) {what}; see `pingd key list`")
            now = self._clock()
            sessions_db.insert_login_link(
                conn, matches[0].id, hash_api_key(token), now=now,
                expires=now + timedelta(minutes=LOGIN_LINK_MINUTES),
            )  # fmt: skip

        self._store.write(run)
        return token

    def prune_sessions(self) -> int:
        """Delete ended sessions and expired sign-in links; return how many."""
        return self._store.write(lambda conn: sessions_db.delete_expired(conn, self._clock()))

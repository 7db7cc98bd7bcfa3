"""Use cases of the project and its API keys: the first run, creating, revoking, authenticating.

Keys are stored by their SHA-256 hash only. Builds on ``ServiceCore``
alone; the project itself (``ServiceCore.project``) is shared by every family.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import string
from dataclasses import dataclass
from datetime import datetime

from pingd.errors import InvalidInput
from pingd.errors import NotFound
from pingd.service.core import ServiceCore
from pingd.store import projects as projects_db
from pingd.store.projects import ApiKey
from pingd.store.projects import Project

PING_KEY_ALPHABET = string.ascii_lowercase + string.digits
PING_KEY_LENGTH = 22
API_KEY_PREFIX_LENGTH = 12


@dataclass(frozen=True, slots=True)
class Bootstrap:
    project: Project
    new_api_key: str | None


def hash_api_key(key: str) -> str:
    """Return the SHA-256 hex digest under which an API key is stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_ping_key() -> str:
    """Generate a project ping key: 22 characters of [a-z0-9]."""
    return "".join(secrets.choice(PING_KEY_ALPHABET) for _ in range(PING_KEY_LENGTH))


def new_api_key() -> str:
    """Generate an API key (about 190 bits of randomness)."""
    return "pingd_" + secrets.token_urlsafe(24)


class KeysService(ServiceCore):
    """Use cases of the project and its API keys: bootstrap, create, list, revoke, authenticate."""

    def bootstrap(self) -> Bootstrap:
        """Make sure the project exists; on first run also create a read-write API key."""

        def run(conn: sqlite3.Connection) -> Bootstrap:
            project = projects_db.get_default_project(conn)
            if project is not None:
                return Bootstrap(project, None)
            now = self._clock()
            project = projects_db.insert_project(conn, "default", new_ping_key(), now)
            key = self._insert_key(conn, project.id, "first key", False, now)
            return Bootstrap(project, key)

        return self._store.write(run)

    def _insert_key(
        self, conn: sqlite3.Connection, project_id: int, name: str, read_only: bool, now: datetime
    ) -> str:
        key = new_api_key()
        projects_db.insert_api_key(
            conn, project_id, name=name, prefix=key[:API_KEY_PREFIX_LENGTH],
            key_hash=hash_api_key(key), read_only=read_only, now=now,
        )  # fmt: skip
        return key

    def create_api_key(self, name: str, *, read_only: bool = False) -> str:
        """Create an API key and return it; only its hash is kept."""
        project = self.project()
        return self._store.write(
            lambda conn: self._insert_key(conn, project.id, name, read_only, self._clock())
        )

    def list_api_keys(self) -> list[ApiKey]:
        """Return every API key (without the keys themselves)."""
        return self._store.read(projects_db.list_api_keys)

    def revoke_api_key(self, prefix: str) -> ApiKey:
        """Delete the one API key whose prefix starts with ``prefix`` (or the full key)."""

        def run(conn: sqlite3.Connection) -> ApiKey:
            keys = projects_db.list_api_keys(conn)
            digest = hash_api_key(prefix)
            exact = projects_db.get_api_key_by_hash(conn, digest)
            matches = [exact] if exact else [k for k in keys if k.prefix.startswith(prefix)]
            if not prefix or not matches:
                raise NotFound(f"no API key starts with {prefix!r}")
            if len(matches) > 1:
                raise InvalidInput({"prefix": f"{len(matches)} keys start with {prefix!r}"})
            projects_db.delete_api_key(conn, matches[0].id)
            return matches[0]

        return self._store.write(run)

    def authenticate(self, key: str) -> ApiKey | None:
        """Return the API key record for a presented key, compared by hash."""
        digest = hash_api_key(key)
        found = self._store.read(lambda conn: projects_db.get_api_key_by_hash(conn, digest))
        # The lookup compares SHA-256 digests, so its timing can reveal at most
        # how a guess's digest sorts, never the key; the final comparison of
        # the stored digest is constant-time as well.
        if found is None or not hmac.compare_digest(found.key_hash, digest):
            return None
        return found

    def record_key_use(self, key_id: int) -> None:
        """Note that a key was used now; written in the background, never waited for."""
        now = self._clock()
        self._store.defer(
            ("key_used", key_id), lambda conn: projects_db.touch_api_key(conn, key_id, now)
        )

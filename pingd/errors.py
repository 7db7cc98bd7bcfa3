"""The domain exceptions that services raise and app.py turns into responses.

Each exception carries everything both surfaces need: the HTTP status, the
management API's ``errorCode`` and the plain-text body that the Pinging API
sends (byte-compatible with Healthchecks where an equivalent exists)::

    PingdError                      500 INTERNAL_SERVER_ERROR  "internal error"
     ├── BadRequest                 400 INVALID_JSON / MISSING_BODY
     │    ├── InvalidUrl            400 "invalid url format"
     │    └── InvalidUuid           400 "invalid uuid format"
     ├── Unauthorized               401 UNAUTHORIZED (Healthchecks' API: missing or wrong key)
     ├── Forbidden                  403 FORBIDDEN
     ├── NotFound                   404 NOT_FOUND              "not found"
     │    ├── CheckNotFound         404 CHECK_NOT_FOUND
     │    └── ChannelNotFound       404 CHANNEL_NOT_FOUND
     ├── MethodNotAllowed           405 METHOD_NOT_ALLOWED     "method not allowed"
     ├── Conflict                   409 CONFLICT
     │    ├── AmbiguousSlug         409 AMBIGUOUS_SLUG         "ambiguous slug"
     │    ├── CheckNotPaused        409 CHECK_NOT_PAUSED
     │    └── Duplicate             409 DUPLICATE
     ├── PayloadTooLarge            413 PAYLOAD_TOO_LARGE      "request body too large"
     ├── InvalidInput               422 INVALID_INPUT (+ fields)
     ├── DeclarationError           422 INVALID_DECLARATION (the config files' checks, channels)
     ├── RateLimited                429 RATE_LIMITED (+ retry_after)
     ├── StorageFull                503 STORAGE_FULL           "storage full" (+ retry_after)
     └── StorageUnavailable         503 STORAGE_UNAVAILABLE    "storage unavailable" (+ retry_after)

This module imports nothing from pingd and nothing outside the standard
library, so the pure domain code can raise these too.
"""

from __future__ import annotations

import sqlite3

STORAGE_RETRY_AFTER_SECONDS = 5


class PingdError(Exception):
    """Base of every error pingd answers on purpose."""

    status = 500
    code = "INTERNAL_SERVER_ERROR"
    default_message = "internal error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    @property
    def ping_text(self) -> str:
        """Return the plain-text body the Pinging API sends for this error."""
        return self.default_message


class BadRequest(PingdError):
    status = 400
    code = "BAD_REQUEST"
    default_message = "bad request"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidUrl(BadRequest):
    default_message = "invalid url format"


class InvalidUuid(BadRequest):
    default_message = "invalid uuid format"


class Unauthorized(PingdError):
    status = 401
    code = "UNAUTHORIZED"
    default_message = "wrong api key"


class Forbidden(PingdError):
    status = 403
    code = "FORBIDDEN"
    default_message = "forbidden"


class HttpsRequired(PingdError):
    status = 403
    code = "HTTPS_REQUIRED"
    default_message = "API keys must come over HTTPS"


class NotFound(PingdError):
    status = 404
    code = "NOT_FOUND"
    default_message = "not found"


class CheckNotFound(NotFound):
    code = "CHECK_NOT_FOUND"
    default_message = "check not found"

    @property
    def ping_text(self) -> str:
        return "not found"


class ChannelNotFound(NotFound):
    code = "CHANNEL_NOT_FOUND"
    default_message = "channel not found"

    @property
    def ping_text(self) -> str:
        return "not found"


class MethodNotAllowed(PingdError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    default_message = "method not allowed"


class Conflict(PingdError):
    status = 409
    code = "CONFLICT"
    default_message = "conflict"


class AmbiguousSlug(Conflict):
    code = "AMBIGUOUS_SLUG"
    default_message = "ambiguous slug"


class CheckNotPaused(Conflict):
    code = "CHECK_NOT_PAUSED"
    default_message = "check is not paused"


class Duplicate(Conflict):
    code = "DUPLICATE"
    default_message = "more than one check matches the unique fields"


class PayloadTooLarge(PingdError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "request body too large"


class InvalidInput(PingdError):
    status = 422
    code = "INVALID_INPUT"
    default_message = "invalid input"

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        self.fields = dict(fields)
        first = next(iter(self.fields.items()), None)
        summary = f"{first[0]}: {first[1]}" if first else None
        super().__init__(message or summary)


class DeclarationError(PingdError):
    """A check or channel declared in the config files is wrong: names the file, table, field."""

    status = 422
    code = "INVALID_DECLARATION"
    default_message = "invalid declaration"


class RateLimited(PingdError):
    status = 429
    code = "RATE_LIMITED"
    default_message = "rate limit exceeded"

    def __init__(self, retry_after_seconds: int) -> None:
        self.retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(f"rate limit exceeded, retry in {self.retry_after_seconds} s")


class StorageFull(PingdError):
    """The database or its disk is full: nothing was stored, and a retry may succeed."""

    status = 503
    code = "STORAGE_FULL"
    default_message = "storage full"
    retry_after_seconds = STORAGE_RETRY_AFTER_SECONDS


class StorageUnavailable(PingdError):
    """The database file is not the one pingd opened (removed or replaced): nothing stored."""

    status = 503
    code = "STORAGE_UNAVAILABLE"
    default_message = "storage unavailable"
    retry_after_seconds = STORAGE_RETRY_AFTER_SECONDS


def is_reported_once(ex: BaseException) -> bool:
    """Whether ``ex`` is an outage its raiser already logged (a replaced database file)."""
    return bool(getattr(ex, "reported_once", False))


def is_storage_full(ex: BaseException) -> bool:
    """Whether ``ex`` is SQLite's "database or disk is full" (SQLITE_FULL)."""
    code = getattr(ex, "sqlite_errorcode", None) if isinstance(ex, sqlite3.Error) else None
    return code is not None and code & 0xFF == sqlite3.SQLITE_FULL

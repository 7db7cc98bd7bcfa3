"""How times are stored: fixed-width UTC text that sorts as the times do.

Shared by every family of queries; imports nothing of pingd's.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime


def to_db_time(value: datetime | None) -> str | None:
    """Format an aware datetime as fixed-width UTC text that sorts correctly."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # Always with microseconds, so that every value has the same width: what
    # isoformat(timespec="microseconds") writes, in a third less time (a ping
    # writes three of these; an f-string with format specs takes twice as long).
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00" % (  # noqa: UP031
        value.year, value.month, value.day,
        value.hour, value.minute, value.second, value.microsecond,
    )  # fmt: skip


def from_db_time(value: str | None) -> datetime | None:
    """Parse a timestamp written by ``to_db_time``."""
    return None if value is None else datetime.fromisoformat(value)

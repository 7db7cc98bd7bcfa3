"""What the families of queries share to stage the ping path's writes.

``many_rows`` spells a statement for a number of rows, and ``staged_write``
hands a write to the writer's connection, which may stage it and send the
group's rows many to a statement (see ``pingd.writer.connection``), or runs
it at once on any other connection. No query lives here: each family keeps
its statements, with their many-row forms, beside its other queries.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from collections.abc import Hashable
from typing import Any

from pingd.writer.connection import MAX_ROWS_PER_STATEMENT
from pingd.writer.connection import WriterConnection


def many_rows(head: str, row: str, separator: str = ", ", tail: str = "") -> Callable[[int], str]:
    """Return a function that spells a statement for ``n`` rows of parameters.

    ``n`` is a power of two (see pingd.writer.connection.padded_chunks), and a
    row of NULLs must change nothing.
    """

    @functools.lru_cache(maxsize=MAX_ROWS_PER_STATEMENT.bit_length())
    def spell(n: int) -> str:
        return head + separator.join([row] * n) + tail

    return spell


def staged_write(
    conn: sqlite3.Connection,
    sql: str,
    params: tuple[Any, ...],
    *,
    key: Hashable = None,
    many: Callable[[int], str],
) -> None:
    """Write one row: staged on the writer's connection, at once on any other.

    ``many`` spells ``sql`` for many rows, each taking its row's parameters
    in the same order (see pingd.writer.connection.WriterConnection.flush).
    """
    if isinstance(conn, WriterConnection):
        conn.write(sql, params, key=key, many=many)
    else:
        conn.execute(sql, params)

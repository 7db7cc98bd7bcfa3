"""The writer thread, with group commit, and the pool of readers: ``Store``.

Every write in the process goes through ``Store.write`` (or, for the ping
lane, ``Store.submit``, which does not wait), handing a function to one writer
thread. The writer runs the functions it has queued inside one
``BEGIN IMMEDIATE … COMMIT`` (should one fail, the group runs again with a
savepoint each, so a failing request does not undo its neighbours) and only
then wakes their callers. Requests therefore never queue on SQLite's write
lock, a burst of pings costs one fsync instead of one each, and no caller hears
"OK" before its row is durable.

Reads use a small pool of connections; WAL lets them run beside the writer.
This module runs functions it is given; it holds no query of its own.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from typing import TypeVar
from typing import cast

from pingd.errors import is_storage_full
from pingd.writer.connection import DatabaseReplaced
from pingd.writer.connection import WriterConnection
from pingd.writer.connection import connect
from pingd.writer.connection import transaction

# Named as before the split into a package, so that the log lines the CLI
# prints (which name their logger) stay the same.
logger = logging.getLogger("pingd.writer")

T = TypeVar("T")

MAX_BATCH_JOBS = 512
DEFERRED_INTERVAL_SECONDS = 1.0
MAX_READERS = 4
WAL_SIZE_LIMIT_BYTES = 8 * 1024 * 1024
READER_CACHE_KIB = 1024


Then = Callable[[Any, BaseException | None], object]


class _Job:
    __slots__ = ("fn", "hot", "done", "then", "result", "error")

    def __init__(
        self, fn: Callable[[sqlite3.Connection], Any], hot: bool = False, then: Then | None = None
    ) -> None:
        self.fn = fn
        self.hot = hot
        self.then = then
        # A lock taken now and released by the writer is a cheaper one-shot
        # latch than threading.Event. Jobs with ``then`` have no waiter.
        self.done: threading.Lock | None = None
        if then is None:
            self.done = threading.Lock()
            self.done.acquire()
        self.result: Any = None
        self.error: BaseException | None = None

    def finish(self) -> None:
        """Hand the outcome to the waiting caller, or to ``then`` on this thread."""
        if self.done is not None:
            self.done.release()
            return
        assert self.then is not None
        try:
            self.then(self.result, self.error)
        except Exception:  # The writer must outlive any callback.
            logger.exception("a write's completion callback failed")


_STOP = _Job(lambda conn: None)


class Store:
    """The database of one pingd process: a writer thread and per-thread readers."""

    def __init__(
        self,
        path: str,
        *,
        ping_log_limit: int = 100,
        in_memory: bool = False,
        init: Callable[[sqlite3.Connection], object] | None = None,
    ) -> None:
        self.path = path
        self.ping_log_limit = ping_log_limit
        # An in-memory database lives inside one connection, so the writer's
        # connection serves reads too (through the same queue).
        self.in_memory = in_memory
        self._idle_readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._deferred_lock = threading.Lock()
        self._deferred: dict[Hashable, Callable[[sqlite3.Connection], object]] = {}
        self._refused = 0  # jobs failed since the database became full (writer thread only)
        self._writer_conn = cast(
            WriterConnection, connect(":memory:" if in_memory else path, writer=True)
        )
        if init is not None:
            init(self._writer_conn)
        if not in_memory:
            self._writer_conn.watch_file(path)
        # Under steady writes the WAL file grows past SQLite's checkpoint
        # threshold and, by default, never shrinks: trim it when it restarts.
        self._writer_conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
        self._thread = threading.Thread(target=self._run, name="pingd-writer", daemon=True)
        self._thread.start()

    # -- writing ---------------------------------------------------------

    def write(self, fn: Callable[[sqlite3.Connection], T], *, hot: bool = False) -> T:
        """Run ``fn`` in the writer's transaction and return once it is committed.

        ``hot`` marks the ping path: its writes to checks and pings may be
        staged and sent together with the group's (see WriterConnection).
        """
        if threading.current_thread() is self._thread:
            # The writer would wait for itself (say, from a ``then`` callback).
            raise RuntimeError("Store.write called on the writer thread")
        job = _Job(fn, hot)
        self._queue.put(job)
        assert job.done is not None
        job.done.acquire()
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def submit(
        self, fn: Callable[[sqlite3.Connection], T], then: Then, *, hot: bool = False
    ) -> None:
        """Queue a write without waiting for it.

        After the commit, the writer calls ``then(result, error)`` on its own
        thread, where it must be quick and must not call ``write``. This is
        how the ping lane answers pings without a thread waiting on each one.
        """
        self._queue.put(_Job(fn, hot, then))

    def defer(self, key: Hashable, fn: Callable[[sqlite3.Connection], object]) -> None:
        """Queue housekeeping for the writer's next quiet moment (within about a second).

        Work deferred under the same key runs once, with the latest ``fn``.
        Nobody waits for it, so it never adds to a request's latency.
        """
        with self._deferred_lock:
            self._deferred[key] = fn

    def close(self) -> None:
        """Finish queued writes, stop the writer and close every connection."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._writer_conn.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def _run(self) -> None:
        conn = self._writer_conn
        last_deferred = time.monotonic()
        while True:
            try:
                job = self._queue.get(timeout=DEFERRED_INTERVAL_SECONDS)
            except queue.Empty:
                job = None
            batch: list[_Job] = []
            stopping = job is _STOP
            if job is not None and not stopping:
                batch.append(job)
                while len(batch) < MAX_BATCH_JOBS:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        stopping = True
                        break
                    batch.append(more)
            if batch:
                self._commit_batch(conn, batch)
            if stopping or time.monotonic() - last_deferred >= DEFERRED_INTERVAL_SECONDS:
                self._run_deferred(conn)
                last_deferred = time.monotonic()
            if stopping:
                return

    def _commit_batch(self, conn: WriterConnection, batch: list[_Job]) -> None:
        # Optimistically run the whole group in one transaction without a
        # savepoint per job. Should any job fail, undo the group and run it
        # again with savepoints, so that the failure undoes only its own job.
        # Jobs are functions of the database alone, so running one again
        # after a rollback is safe.
        try:
            if not self._run_group(conn, batch, isolate=False):
                self._run_group(conn, batch, isolate=True)
        except Exception as ex:
            # Nothing of this group reached the disk: every caller must hear so.
            self._log_failure(ex, len(batch))
            conn.forget_checks()
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except Exception:  # The writer must outlive a failed rollback too.
                logger.exception("rollback after a failed batch failed")
            for job in batch:
                job.result, job.error = None, ex
        else:
            self._log_recovery()
        # Wake the waiting callers first: the callbacks take longer.
        for job in batch:
            if job.then is None:
                job.finish()
        for job in batch:
            if job.then is not None:
                job.finish()

    @staticmethod
    def _run_group(conn: WriterConnection, batch: list[_Job], *, isolate: bool) -> bool:
        """Run jobs in one transaction; without ``isolate``, give up at the first error."""
        conn.begin_immediate()
        for job in batch:
            job.result, job.error = None, None
            if isolate:
                conn.execute("SAVEPOINT job")
            try:
                if not job.hot:
                    conn.flush()  # Other jobs read the tables directly.
                conn.staging = job.hot and not isolate
                try:
                    job.result = job.fn(conn)
                finally:
                    conn.staging = False
            except Exception as ex:
                # What the job (or the group) wrote is undone: so is what
                # the connection remembers of it.
                conn.forget_checks()
                if not conn.in_transaction:
                    # SQLite rolled the whole transaction back (as it may on
                    # SQLITE_FULL or an I/O error): the group is lost.
                    raise
                if not isolate:
                    conn.execute("ROLLBACK")
                    return False
                job.error = ex
                conn.execute("ROLLBACK TO job")
            if isolate:
                conn.execute("RELEASE job")
        try:
            conn.flush()
        except Exception:
            # A staged write failed; which job it belongs to is unknown, so
            # run the group again, isolated and unstaged, to find out.
            conn.forget_checks()
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return False
        conn.execute("COMMIT")
        return True

    def _run_deferred(self, conn: WriterConnection) -> None:
        with self._deferred_lock:
            pending, self._deferred = self._deferred, {}
        if not pending:
            return
        try:
            conn.check_file()
            with transaction(conn):
                for fn in pending.values():
                    fn(conn)
        except Exception as ex:
            if is_storage_full(ex) or isinstance(ex, DatabaseReplaced):
                self._log_failure(ex, 0)
            else:
                logger.exception("deferred housekeeping failed; will retry")
            conn.forget_checks()
            with self._deferred_lock:
                self._deferred = pending | self._deferred
            return
        self._log_recovery()

    def _log_failure(self, ex: BaseException, jobs: int) -> None:
        """Log a failed group; a full database once per outage rather than once per group."""
        if isinstance(ex, DatabaseReplaced):
            if self._refused == 0:
                logger.error("%s", ex)
        elif not is_storage_full(ex):
            logger.error("write batch of %d failed", jobs, exc_info=ex)
            return
        elif self._refused == 0:
            logger.error("database or disk is full; writes fail until space is freed: %s", ex)
        self._refused += max(jobs, 1)

    def _log_recovery(self) -> None:
        if self._refused:
            logger.warning("database writable again; %d write(s) failed meanwhile", self._refused)
            self._refused = 0

    # -- reading ---------------------------------------------------------

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """Borrow a read connection from a small pool, for the length of a block.

        A pool rather than one per thread: with dozens of worker threads,
        each connection's page cache would add up to megabytes for nothing.
        """
        try:
            conn = self._idle_readers.get_nowait()
        except queue.Empty:
            with self._readers_lock:
                opened = len(self._readers) < MAX_READERS
                if opened:
                    conn = connect(self.path)
                    conn.execute("PRAGMA query_only = ON")
                    conn.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
                    self._readers.append(conn)
            if not opened:
                conn = self._idle_readers.get()
        try:
            yield conn
        finally:
            self._idle_readers.put(conn)

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on a read connection inside one consistent snapshot."""
        if self.in_memory:
            return self.write(fn)
        with self.reader() as conn:
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")

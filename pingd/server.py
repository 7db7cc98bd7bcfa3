"""The HTTP server: waitress, with a lane that answers pings without a worker thread.

waitress reads and parses every request in its event loop, then hands it to a
pool of worker threads. Were a ping to go that way, its worker would hand the
write to the store's writer thread and sleep until the group commit: two
thread hand-offs per ping on top of waitress's own, and under the GIL those
hand-offs, not SQLite, set the ceiling (measured in BENCHMARKS.md). The ping
lane is a waitress task dispatcher that sends ping requests to the writer
instead:

1. the event loop parses the ping with ``PingRouter.parse``, the app's own
   code, and queues it on the writer;
2. the writer's group commits, with one fsync for all of its pings;
3. the writer then serves each request through the whole app as usual, the
   committed outcome handed to the router in the request's WSGI environ
   (``ping_routes.COMMITTED``), so that every answer's bytes are exactly the
   app's; the event loop sends them. Once the app has answered one
   successful ping of a kind, its answer is replayed for the next ones
   (``SuccessAnswers``).

A ping that fails to parse is served by the event loop on its next turn.
Everything else (the API, OPTIONS, anything the router would not see) goes to
the worker pool unchanged. No ping is answered before its commit.

The lane uses waitress's internals, not its documented API: the
``_dispatcher`` argument of ``create_server``, a channel's ``requests``,
``task_class``, ``adj`` and ``service()``, a task's environ, the trigger
class, ``proxy_headers_middleware`` and ``build_http_date``. pyproject pins
waitress to the minor series this was written against, and
``tests/test_waitress_shape.py`` fails, naming the internal, when any of them
changes shape. ``server.ping_lane = false`` serves pings through waitress's
worker threads instead (``create_plain_server``), at about half the speed
(BENCHMARKS.md); docs/architecture.md explains both.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import warnings
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

import falcon
import waitress
from waitress.adjustments import Adjustments
from waitress.proxy_headers import proxy_headers_middleware
from waitress.task import ThreadedTaskDispatcher
from waitress.trigger import trigger as Trigger
from waitress.utilities import build_http_date

from pingd import strict_http
from pingd.ping_routes import COMMITTED
from pingd.ping_routes import PING_METHODS
from pingd.ping_routes import PING_PREFIX
from pingd.ping_routes import Committed
from pingd.ping_routes import PingRouter
from pingd.service import Service
from pingd.service.pings import PingRequest

logger = logging.getLogger(__name__)

_LANE_METHODS = frozenset(PING_METHODS)
BUFFERED_SEND_BYTES = 18000
_PROXY_OPTIONS = frozenset(
    ("trusted_proxy", "trusted_proxy_count", "trusted_proxy_headers",
     "clear_untrusted_proxy_headers", "log_untrusted_proxy_headers")
)  # fmt: skip
WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class _NotAPing(Exception):
    """The request turned out to be one for the worker pool."""


class PingLane(ThreadedTaskDispatcher):  # type: ignore[misc]
    """A waitress dispatcher that gives ping requests to the store's writer thread."""

    def __init__(
        self,
        app: falcon.App[Any, Any],
        router: PingRouter,
        service: Service,
    ) -> None:
        super().__init__()
        self._req_options = app.req_options
        self._router = router
        self._service = service
        self._translate: Any = None
        self._wakeup: _Wakeup | None = None
        self._stopped = False
        self._ready_lock = threading.Lock()
        self._ready: list[tuple[Any, Committed]] = []
        self._lane_adj: Any = None

    def attach(self, adj: Any, socket_map: dict[Any, Any], proxy: dict[str, Any]) -> None:
        """Join the server's event loop and apply the app's proxy settings (``proxy``)."""
        self._wakeup = _Wakeup(socket_map, self._serve_ready)
        self._lane_adj = buffered_adjustments(adj)
        self._translate = proxy_headers_middleware(
            lambda environ, start_response: [environ], **proxy
        )

    def add_task(self, task: Any) -> None:
        """In waitress's event loop, for a channel whose next request is complete."""
        channel = task
        request = channel.requests[0] if getattr(channel, "requests", None) else None
        if (
            self._translate is None
            or request is None
            or request.error is not None
            or request.command not in _LANE_METHODS
            or not request.path.startswith("/ping")
        ):
            super().add_task(channel)
            return
        task = channel.task_class(channel, request)
        try:
            ping = self._parse(task)
        except _NotAPing:
            super().add_task(channel)
            return
        except Exception as ex:
            # A bad ping: the app renders the error, as on its own path. Not
            # from here, though: waitress calls add_task holding a lock that
            # serving the channel takes again.
            self._answer_soon(task, Committed(None, ex))
            return
        self._service.record_ping_later(
            ping, lambda result, error: self._answer(task, Committed(result, error))
        )

    def _parse(self, task: Any) -> PingRequest:
        """The request as the app's router would read it (the body included)."""
        # The task keeps the environ it built, for serving the ping later;
        # the app translates proxy headers itself then, so translate a copy.
        environ = dict(task.get_environment())
        translated = self._translate(environ, _no_start_response)
        if not isinstance(translated, list) or translated[0] is not environ:
            raise _NotAPing()  # A malformed proxy header: the app's path answers 400.
        req = falcon.Request(environ, options=self._req_options)
        if not PING_PREFIX.match(req.path):
            raise _NotAPing()
        return self._router.parse(req)

    def _answer(self, task: Any, committed: Committed) -> None:
        """On the writer thread, after the commit: serve the ping through the app.

        The answer is buffered for the event loop to send (see
        ``buffered_adjustments``), for this one request only.
        """
        if self._stopped:
            return
        channel = task.channel
        plain = channel.adj
        channel.adj = self._lane_adj
        try:
            self._serve(task, committed)
        finally:
            channel.adj = plain

    def _answer_soon(self, task: Any, committed: Committed) -> None:
        """Have the event loop serve a ping that failed to parse, on its next turn."""
        with self._ready_lock:
            self._ready.append((task, committed))
            # Under the lock that shutdown() takes to close the pipe.
            if len(self._ready) == 1 and self._wakeup is not None and not self._stopped:
                self._wakeup.pull_trigger()

    def _serve_ready(self) -> None:
        """In waitress's event loop: serve the pings that failed to parse."""
        with self._ready_lock:
            ready, self._ready = self._ready, []
        for task, committed in ready:
            self._serve(task, committed)

    def _serve(self, task: Any, committed: Committed) -> None:
        """Serve the task's ping through the app, which answers with ``committed``.

        The outcome travels in the task's WSGI environ (``COMMITTED``), so
        it reaches this request and no other. The task the ping was parsed
        with is served rather than a new one, which would build the same
        environ again without the outcome.
        """
        channel = task.channel
        if not channel.requests:
            return  # The client went away meanwhile and waitress closed the channel.
        if task.request is not channel.requests[0]:
            # waitress keeps a request first in line until it is served, so
            # this cannot happen while the lane and waitress agree.
            logger.error("the ping lane lost its place on a connection")
            return
        own_class = type(channel).task_class
        try:
            task.get_environment()[COMMITTED] = committed
            # Only for this request: serving it may queue the channel's next
            # one (a pipelined request) before this call returns.
            channel.task_class = lambda channel, request: (
                task if request is task.request else own_class(channel, request)
            )
            channel.service()
        except Exception:  # waitress's own service() logs and recovers; be safe.
            logger.exception("serving a ping failed")
        finally:
            vars(channel).pop("task_class", None)  # waitress's own class again

    def shutdown(self, cancel_pending: bool = True, timeout: int = 5) -> Any:
        """Stop with waitress: pings committed from now on are not answered."""
        with self._ready_lock:
            self._stopped = True
            if self._wakeup is not None:
                self._wakeup.close()
        return super().shutdown(cancel_pending, timeout)


def buffered_adjustments(adj: Any) -> Any:
    """A server's waitress settings, except that a response is sent by the event loop.

    waitress sends each piece of a response from the thread that writes it
    (``send_bytes`` is 1 since waitress 2.0). For a ping answered on the
    writer thread, each of those sends gives up the GIL, and getting it back
    from the busy event loop takes longer than the send: buffered (as with
    waitress's earlier default of 18,000 bytes) the event loop sends the
    whole answer at once. Used only while the writer serves a ping.
    """
    buffered = copy.copy(adj)
    buffered.send_bytes = BUFFERED_SEND_BYTES
    return buffered


class _Wakeup(Trigger):  # type: ignore[misc]
    """A pipe in waitress's event loop that runs ``callback`` there when pulled.

    waitress's own trigger runs its callbacks while holding a lock that
    ``pull_trigger`` takes too, so the writer would wait for the event loop to
    finish serving the previous group; this one holds nothing.
    """

    def __init__(self, socket_map: dict[Any, Any], callback: Any) -> None:
        super().__init__(socket_map)
        self._callback = callback

    def handle_read(self) -> None:
        try:
            self.recv(8192)
        except OSError:
            pass  # Whatever woke us, the callback must still run.
        self._callback()


class SuccessAnswers:
    """The server's WSGI app: pingd's app, except that success answers are replayed.

    The app answers every successful ping alike, but for whether it created
    its check and whether it was a HEAD request (``PingRouter.__call__``);
    waitress adds the Date, Server and Connection headers around that. So the
    app renders the first success answer of each of those four kinds, and
    for a ping the lane committed (``COMMITTED`` in its environ) this replays
    its status, headers and body, which spares each ping the app's routing
    and response machinery (and, as the answer does not depend on them, the
    proxy headers' translation). Everything else, errors included, goes to
    the app. The lane's tests require its answers to be byte for byte those
    of the app's own path.
    """

    def __init__(self, app: WSGIApp) -> None:
        self._app = app
        self._answers: dict[tuple[bool, bool], tuple[str, list[tuple[str, str]], bytes]] = {}
        self._date = (0, "")  # (second, the Date header waitress would write for it)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        committed: Committed | None = environ.get(COMMITTED)
        if committed is None or committed.result is None or committed.error is not None:
            return self._app(environ, start_response)
        kind = (committed.result.created, environ["REQUEST_METHOD"] == "HEAD")
        answer = self._answers.get(kind)
        if answer is None:
            return self._learn(kind, environ, start_response)
        status, headers, body = answer
        # waitress writes the Date header unless the app did, formatting the
        # time for every answer; the same text, made once a second, is cheaper.
        second = int(time.time())
        if second != self._date[0]:
            self._date = (second, build_http_date(second))
        start_response(status, [*headers, ("Date", self._date[1])])
        return [body]

    def _learn(
        self, kind: tuple[bool, bool], environ: dict[str, Any], start_response: Any
    ) -> Iterable[bytes]:
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def record(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started.append((status, list(headers)))
            return start_response(status, headers, exc_info)

        app_iter = self._app(environ, record)
        try:
            body = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        if started and started[-1][0] in ("200 OK", "201 Created"):
            self._answers[kind] = (started[-1][0], started[-1][1], body)
        return [body]


def _no_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


def create_server(
    app: falcon.App[Any, Any],
    router: PingRouter,
    service: Service,
    options: dict[str, Any],
    *,
    lane: bool = True,
) -> Any:
    """Build the waitress server for ``app``: with the ping lane in front of its
    workers, or (``lane`` false, ``server.ping_lane = false``) plain waitress."""
    if not lane:
        return create_plain_server(app, options)
    # Translate proxy headers as waitress would, but inside SuccessAnswers,
    # so that a replayed answer skips it: waitress itself gets none of it.
    adj = Adjustments(**options)
    proxy = {
        "trusted_proxy": adj.trusted_proxy,
        "trusted_proxy_count": adj.trusted_proxy_count,
        "trusted_proxy_headers": adj.trusted_proxy_headers,
        "clear_untrusted": adj.clear_untrusted_proxy_headers,
        "log_untrusted": adj.log_untrusted_proxy_headers,
    }
    inner: WSGIApp = app
    if adj.trusted_proxy or adj.clear_untrusted_proxy_headers:
        inner = proxy_headers_middleware(app, **proxy)
    lane_dispatcher = PingLane(app, router, service)
    lane_dispatcher.set_thread_count(adj.threads)
    plain = {key: value for key, value in options.items() if key not in _PROXY_OPTIONS}
    # ``_dispatcher`` is how waitress takes a dispatcher of one's own (its
    # tests use it); pyproject pins waitress to the minor series this was
    # written against, and tests/test_waitress_shape.py checks each internal.
    socket_map: dict[Any, Any] = {}
    server = waitress.create_server(
        SuccessAnswers(inner),
        map=socket_map,
        _dispatcher=lane_dispatcher,
        clear_untrusted_proxy_headers=False,
        **plain,
    )
    lane_dispatcher.attach(server.adj, socket_map, proxy)
    return strict_http.install(server)


def create_plain_server(app: WSGIApp, options: dict[str, Any]) -> Any:
    """waitress as documented: every request, pings too, served by a worker thread.

    Responses are buffered for the event loop to send, as the lane's are
    (``send_bytes``, a public setting that waitress deprecates), while this
    waitress still has the setting; without it, only speed changes.
    """
    if hasattr(Adjustments, "send_bytes"):
        options = {**options, "send_bytes": BUFFERED_SEND_BYTES}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "send_bytes", DeprecationWarning)
        return strict_http.install(waitress.create_server(app, **options))

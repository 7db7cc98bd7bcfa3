"""The waitress internals the ping lane (pingd/server.py) relies on, each checked for shape.

None of them is waitress's documented API, so a waitress release may change
any of them. pyproject pins waitress to the minor series the lane was written
against; when someone widens that pin, these tests say which internal moved
before a hung ping or a silent slowdown would. Each failure names what the
lane needs; the way out, if one cannot be kept, is ``server.ping_lane =
false`` (waitress's documented path) while the lane is adapted.
"""

from __future__ import annotations

import copy
import inspect
import re
import socket
import time
import tomllib
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import waitress
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.proxy_headers import proxy_headers_middleware
from waitress.task import ThreadedTaskDispatcher
from waitress.task import WSGITask
from waitress.utilities import build_http_date

from pingd.server import BUFFERED_SEND_BYTES
from pingd.server import _Wakeup

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def source(obj: Any) -> str:
    return inspect.getsource(obj)


def parameters(fn: Any) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_the_installed_waitress_is_the_pinned_minor_series() -> None:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    pin = next(dep for dep in deps if dep.startswith("waitress"))
    match = re.fullmatch(r"waitress>=(\d+)\.(\d+)\.(\d+),<(\d+)\.(\d+)", pin)
    assert match, f"pyproject must pin waitress to one minor series, got {pin!r}"
    low_major, low_minor, _, high_major, high_minor = map(int, match.groups())
    assert (high_major, high_minor) == (low_major, low_minor + 1), pin
    installed = tuple(int(part) for part in version("waitress").split(".")[:2])
    assert installed == (low_major, low_minor), f"waitress {version('waitress')} vs {pin}"


def test_create_server_takes_a_dispatcher_and_a_socket_map() -> None:
    # PingLane is passed as ``_dispatcher``; the lane's trigger joins ``map``.
    assert {"map", "_dispatcher"} <= set(parameters(waitress.create_server))


def test_the_task_dispatcher_is_the_class_the_lane_extends() -> None:
    assert parameters(ThreadedTaskDispatcher.add_task) == ["self", "task"]
    assert parameters(ThreadedTaskDispatcher.set_thread_count) == ["self", "count"]
    assert parameters(ThreadedTaskDispatcher.shutdown) == ["self", "cancel_pending", "timeout"]
    # A worker serves what add_task queued by calling its service().
    assert "task.service()" in source(ThreadedTaskDispatcher.handler_thread)


def test_a_channel_queues_itself_once_its_first_request_is_complete() -> None:
    received = source(HTTPChannel.received)
    assert "self.requests.append(self.request)" in received
    assert "self.server.add_task(self)" in received
    init = source(HTTPChannel.__init__)
    assert "self.requests = []" in init
    assert "self.adj = adj" in init


def test_a_channel_serves_its_first_request_with_its_task_class() -> None:
    assert HTTPChannel.task_class is WSGITask
    service = source(HTTPChannel.service)
    assert "request = self.requests[0]" in service
    assert "self.task_class(self, request)" in service
    assert "self.requests.pop(0)" in service
    assert "self.server.add_task(self)" in service  # the next pipelined request


def test_a_channel_buffers_its_output_up_to_send_bytes() -> None:
    # The lane's answers are sent by the event loop because the writer thread
    # writes them with a copy of adj whose send_bytes holds them back.
    assert source(HTTPChannel).count("self.adj.send_bytes") >= 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        adj = Adjustments(send_bytes=BUFFERED_SEND_BYTES)
    assert copy.copy(adj).send_bytes == BUFFERED_SEND_BYTES
    assert Adjustments().send_bytes == 1


def test_a_task_keeps_the_environ_it_built() -> None:
    # The lane adds the committed outcome to the environ the task will serve.
    assert parameters(WSGITask.__init__)[:3] == ["self", "channel", "request"]
    environment = source(WSGITask.get_environment)
    assert "if environ is not None" in environment
    assert "self.environ = environ" in environment


def parse(raw: bytes) -> HTTPRequestParser:
    """Feed a request to waitress's parser as a channel does (it takes a piece per call)."""
    parser = HTTPRequestParser(Adjustments())
    while raw and not parser.completed:
        raw = raw[parser.received(raw) :]
    return parser


def test_a_parsed_request_carries_what_the_lane_reads() -> None:
    parser = parse(b"POST /ping/abc?rid=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    assert parser.completed and parser.error is None
    assert (parser.command, parser.path, parser.query) == ("POST", "/ping/abc", "rid=1")
    bad = parse(b"GET /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
    assert bad.completed and bad.error is not None


def test_the_lane_trigger_runs_its_callback_in_the_event_loop() -> None:
    socket_map: dict[Any, Any] = {}
    called: list[bool] = []
    wakeup = _Wakeup(socket_map, lambda: called.append(True))
    try:
        wakeup.pull_trigger()
        wasyncore.loop(timeout=1.0, map=socket_map, count=1)
        assert called == [True]
    finally:
        wakeup.close()


def test_proxy_headers_middleware_takes_the_settings_the_lane_passes() -> None:
    assert parameters(proxy_headers_middleware)[:6] == [
        "app", "trusted_proxy", "trusted_proxy_count", "trusted_proxy_headers",
        "clear_untrusted", "log_untrusted",
    ]  # fmt: skip
    app = proxy_headers_middleware(
        lambda environ, start_response: [environ],
        trusted_proxy="127.0.0.1",
        trusted_proxy_count=1,
        trusted_proxy_headers={"x-forwarded-for"},
        clear_untrusted=True,
        log_untrusted=False,
    )
    environ = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9",
               "wsgi.url_scheme": "http", "SERVER_PORT": "80", "HTTP_HOST": "x"}  # fmt: skip
    (translated,) = app(environ, lambda *args: None)
    assert translated["REMOTE_ADDR"] == "203.0.113.9"


def test_build_http_date_formats_the_date_header() -> None:
    assert build_http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"


def test_a_server_built_with_a_dispatcher_of_ones_own_uses_it() -> None:
    # The whole chain once: create_server hands the lane every completed
    # request (as add_task(channel)) and serves through it.
    dispatched: list[object] = []

    class Recording(ThreadedTaskDispatcher):  # type: ignore[misc]
        def add_task(self, task: Any) -> None:
            dispatched.append(task)
            super().add_task(task)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "2")])
        return [b"OK"]

    socket_map: dict[Any, Any] = {}
    lane = Recording()
    lane.set_thread_count(1)
    server = waitress.create_server(
        app,
        map=socket_map,
        _dispatcher=lane,
        listen="127.0.0.1:0",
    )
    try:
        with socket.create_connection((server.effective_host, server.effective_port), 5) as sock:
            sock.sendall(b"GET /ping/x HTTP/1.0\r\n\r\n")
            answer = b""
            sock.setblocking(False)
            deadline = time.monotonic() + 5
            while not answer.endswith(b"OK") and time.monotonic() < deadline:
                wasyncore.loop(timeout=0.05, map=socket_map, count=1)
                try:
                    answer += sock.recv(4096)
                except BlockingIOError:
                    pass
        assert answer.startswith(b"HTTP/1.0 200 OK")
        assert len(dispatched) == 1 and isinstance(dispatched[0], HTTPChannel)
    finally:
        lane.shutdown()
        for dispatcher in list(socket_map.values()):  # the server and its channels
            dispatcher.close()


# -- what pingd/strict_http.py leans on (both paths, the lane's and the plain one) -------


def test_a_listening_server_makes_channels_of_its_channel_class() -> None:
    from waitress.server import BaseWSGIServer  # noqa: PLC0415

    assert BaseWSGIServer.channel_class is HTTPChannel
    assert "self.channel_class(" in source(BaseWSGIServer.handle_accept)


def test_a_channel_parses_with_its_parser_class_and_errors_with_its_error_task_class() -> None:
    assert HTTPChannel.parser_class is HTTPRequestParser
    assert "self.parser_class(self.adj)" in source(HTTPChannel.received)
    assert "self.error_task_class(self, request)" in source(HTTPChannel.service)


def test_parse_header_gets_the_header_block_and_a_parsing_error_becomes_a_400() -> None:
    from waitress.parser import ParsingError  # noqa: PLC0415

    assert parameters(HTTPRequestParser.parse_header) == ["self", "header_plus"]
    received = source(HTTPRequestParser.received)
    assert "self.parse_header(header_plus)" in received
    assert "except ParsingError as e:" in received and "BadRequest(" in received
    assert issubclass(ParsingError, Exception)


def test_an_error_task_writes_what_execute_sets() -> None:
    from waitress.task import ErrorTask  # noqa: PLC0415
    from waitress.utilities import Error  # noqa: PLC0415

    execute = source(ErrorTask.execute)
    for attribute in ("self.status", "self.response_headers", "self.content_length",
                      "self.set_close_on_finish()", "self.write("):  # fmt: skip
        assert attribute in execute
    assert {"code", "reason"} <= set(vars(Error))

"""Real notification receivers on 127.0.0.1, for delivery tests.

``HttpReceiver`` is an ``http.server`` in a thread (port 0) that records every
request (method, raw path, headers, body) and answers as it is told: 200, a
failure status ``n`` times and then 200, always a failure, or not at all for a
while (a hang, longer than the send timeout under test). ``SmtpReceiver`` is
an aiosmtpd ``Controller`` on a socket bound to 127.0.0.1:0 that records every
message. Both are context managers that always shut down; a hanging handler
is released on close, so no thread outlives its test for long.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

WAIT_SECONDS = 5.0
HANG_SECONDS = 30.0
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class Request:
    """One request as the receiver saw it; ``answered`` is None for a request left hanging."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    answered: int | None

    def text(self) -> str:
        return self.body.decode("utf-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many channels may connect at once; 5 would drop SYNs


class HttpReceiver:
    """A recording HTTP server on 127.0.0.1 with a port the kernel picked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._requests: list[Request] = []
        self._fail_left = 0
        self._fail_status = 500
        self._always_fail = False
        self._hang_seconds: float | None = None
        self._late_seconds: float | None = None
        self._release = threading.Event()
        self.in_flight = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver._answer(self, self.command, self.path, headers, body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # Quiet: the test reads ``requests`` instead.

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    # -- behaviour ---------------------------------------------------------

    def fail_next(self, times: int, status: int = 500) -> None:
        """Answer ``status`` to the next ``times`` requests, then 200."""
        with self._lock:
            self._fail_left, self._fail_status = times, status
            self._always_fail, self._hang_seconds = False, None

    def always_fail(self, status: int = 500) -> None:
        """Answer ``status`` to every request from now on."""
        with self._lock:
            self._always_fail, self._fail_status, self._hang_seconds = True, status, None

    def hang(self, seconds: float = HANG_SECONDS) -> None:
        """Hold every request for ``seconds`` (or until close) before answering 200."""
        with self._lock:
            self._hang_seconds, self._always_fail, self._fail_left = seconds, False, 0

    def answer_late(self, seconds: float) -> None:
        """Answer 200 to every request from now on, each only after ``seconds``."""
        with self._lock:
            self._late_seconds, self._hang_seconds = seconds, None
            self._always_fail, self._fail_left = False, 0

    def recover(self) -> None:
        """Answer 200 to every request from now on (requests already hanging stay so)."""
        with self._lock:
            self._hang_seconds, self._always_fail, self._fail_left = None, False, 0
            self._late_seconds = None

    # -- what arrived --------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def answered_ok(self) -> list[Request]:
        """The requests answered with 200."""
        return [request for request in self.requests if request.answered == 200]

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list[Request]:
        """Wait (bounded) until at least ``count`` requests arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{self.url} got {len(self._requests)} request(s) within {timeout} s,"
                        f" expected {count}: {self._requests!r}"
                    )
                self._changed.wait(min(left, 0.1))
            return list(self._requests)

    def wait_for_ok(self, count: int, timeout: float = WAIT_SECONDS) -> list[Request]:
        """Wait (bounded) until ``count`` requests were answered 200; return those."""
        deadline = time.monotonic() + timeout
        while len(ok := self.answered_ok()) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{self.url} answered {len(ok)} request(s) with 200 within {timeout} s,"
                    f" expected {count}: {self.requests!r}"
                )
            time.sleep(POLL_SECONDS)
        return ok

    # -- serving -------------------------------------------------------------

    def _answer(
        self,
        handler: BaseHTTPRequestHandler,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        with self._lock:
            hang, late = self._hang_seconds, self._late_seconds
            if hang is not None:
                status: int | None = None
            elif self._always_fail:
                status = self._fail_status
            elif self._fail_left > 0:
                self._fail_left -= 1
                status = self._fail_status
            else:
                status = 200
            index = len(self._requests)
            self._requests.append(Request(method, path, headers, body, status))
            if hang is not None:
                self.in_flight += 1
            self._changed.notify_all()
        if hang is not None:
            self._release.wait(hang)
            with self._lock:
                self.in_flight -= 1
            return  # Answer nothing: the client has long given up (or gets EOF).
        if late is not None:
            self._release.wait(late)
        try:
            payload = b"ok" if status == 200 else b"failing on purpose"
            handler.send_response(status or 200)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            with self._lock:
                old = self._requests[index]
                self._requests[index] = Request(old.method, old.path, old.headers, old.body, None)

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=WAIT_SECONDS)


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    """Run an HttpReceiver for the duration of a block, and always close it."""
    receiver = HttpReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


# -- SMTP ------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes = b""  # the DATA exactly as it arrived

    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        assert body is not None
        content: str = body.get_content()
        return content.replace("\r\n", "\n")


class _Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.mails.append(
                Mail(envelope.mail_from, list(envelope.rcpt_tos), message, bytes(content))
            )
        return "250 OK"


class _LoopbackController(Controller):
    """aiosmtpd's threaded controller on a socket already bound to 127.0.0.1:0."""

    def __init__(self, handler: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        port = int(self._sock.getsockname()[1])
        super().__init__(handler, hostname="127.0.0.1", port=port, server_hostname="localhost")

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class SmtpReceiver:
    """A recording SMTP server (plain, no auth) on 127.0.0.1."""

    def __init__(self) -> None:
        self._recorder = _Recorder()
        self._controller = _LoopbackController(self._recorder)
        self.host = "127.0.0.1"
        self.port = self._controller.port

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def mails(self) -> list[Mail]:
        with self._recorder.lock:
            return list(self._recorder.mails)

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list[Mail]:
        """Wait (bounded) until at least ``count`` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        while len(mails := self.mails) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(f"got {len(mails)} mail(s) within {timeout} s, not {count}")
            time.sleep(POLL_SECONDS)
        return mails


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    """Run an SmtpReceiver for the duration of a block, and always stop it."""
    receiver = SmtpReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
